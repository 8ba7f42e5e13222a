"""HTML forms (Flask-WTF): field checks here, domain rules in the vault and users modules."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired, FileSize
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, EqualTo, InputRequired, Length, NumberRange, Optional

from webauth.adding import MAX_TEXT_LENGTH, ORIGINS
from webauth.icons import MAX_ICON_BYTES
from webauth.otp import MAX_COUNTER, MAX_DIGITS, MAX_PERIOD, MAX_PIN_LENGTH, MIN_DIGITS
from webauth.otpauth import MAX_LABEL_LENGTH, MAX_NOTE_LENGTH
from webauth.tokens import MAX_NAME_LENGTH as MAX_TOKEN_NAME_LENGTH
from webauth.users import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH

# The checks below, used by every form of webauth, say their messages through webauth's own
# catalogs: WTForms' built-in ones come from its catalogs, which lack languages webauth speaks
# (Thai), so a Thai page would say "This field is required." in English.
REQUIRED = _l("This field is required.")


def required() -> DataRequired:
    """A field that must hold something other than blanks."""
    return DataRequired(REQUIRED)


def input_required() -> InputRequired:
    """A field that must be sent (a number, where 0 is a value)."""
    return InputRequired(REQUIRED)


def at_most(length: int) -> Length:
    return Length(max=length, message=_l("Use at most %(max)d characters."))


def between(low: int, high: int) -> NumberRange:
    return NumberRange(low, high, message=_l("Enter a number from %(min)s to %(max)s."))


def one_of(values) -> AnyOf:
    return AnyOf(values, message=_l("Choose one of the choices offered."))



class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[required(), at_most(255)])
    password = PasswordField(_l("Password"), validators=[required(), at_most(MAX_PASSWORD_LENGTH)])


class ReauthForm(FlaskForm):
    password = PasswordField(_l("Password"), validators=[required(), at_most(MAX_PASSWORD_LENGTH)])


class SetupForm(FlaskForm):
    username = StringField(_l("Username"), validators=[required(), at_most(64)])
    password = PasswordField(
        _l("Password"),
        validators=[
            required(),
            Length(
                min=MIN_PASSWORD_LENGTH,
                max=MAX_PASSWORD_LENGTH,
                message=_l("Use at least %(min)d characters.", min=MIN_PASSWORD_LENGTH),
            ),
        ],
    )
    confirm = PasswordField(
        _l("Repeat the password"), validators=[required(), EqualTo("password", _l("The passwords differ."))]
    )


def _new_password_field(label: str) -> PasswordField:
    return PasswordField(
        label,
        validators=[
            required(),
            Length(
                min=MIN_PASSWORD_LENGTH,
                max=MAX_PASSWORD_LENGTH,
                message=_l("Use at least %(min)d characters.", min=MIN_PASSWORD_LENGTH),
            ),
        ],
    )


class ChangePasswordForm(FlaskForm):
    """A user's own change: the current password proves it is them, even in a session left open."""

    current_password = PasswordField(
        _l("Current password"), validators=[required(), at_most(MAX_PASSWORD_LENGTH)]
    )
    password = _new_password_field(_l("New password"))
    confirm = PasswordField(
        _l("Repeat the new password"), validators=[required(), EqualTo("password", _l("The passwords differ."))]
    )
    end_others = BooleanField(_l("Sign out my other sessions"), default=True)


class ResetPasswordForm(FlaskForm):
    """An administrator's reset of another user's password, to be changed at their next sign-in."""

    password = _new_password_field(_l("New password"))
    confirm = PasswordField(
        _l("Repeat the new password"), validators=[required(), EqualTo("password", _l("The passwords differ."))]
    )


class UriForm(FlaskForm):
    # One link, several (one per line), or Google Authenticator transfer links; the camera sends them here too.
    uri = TextAreaField(_l("otpauth:// link"), validators=[required(), at_most(MAX_TEXT_LENGTH)])
    origin = HiddenField(default="link", validators=[one_of(ORIGINS)])
    # Asked for when the link is an mOTP or Yandex account without its PIN; never shown back.
    pin = PasswordField(_l("PIN"), validators=[Optional(), at_most(MAX_PIN_LENGTH)])


class ManualForm(FlaskForm):
    issuer = StringField(_l("Issuer"), validators=[Optional(), at_most(MAX_LABEL_LENGTH)])
    name = StringField(_l("Account name"), validators=[Optional(), at_most(MAX_LABEL_LENGTH)])
    secret = StringField(_l("Secret key (base32)"), validators=[required(), at_most(512)])
    type = SelectField(
        _l("Type"),
        choices=[
            SelectChoice("totp", _l("Time-based (TOTP)")),
            SelectChoice("hotp", _l("Counter-based (HOTP)")),
            SelectChoice("steam", "Steam"),
            SelectChoice("motp", _l("mOTP (Mobile-OTP)")),
            SelectChoice("yandex", _l("Yandex Key")),
        ],
        default="totp",
    )
    algorithm = SelectField(
        _l("Algorithm"),
        choices=[SelectChoice("SHA1", "SHA-1"), SelectChoice("SHA256", "SHA-256"), SelectChoice("SHA512", "SHA-512")],
        default="SHA1",
    )
    digits = IntegerField(_l("Digits"), default=6, validators=[input_required(), between(MIN_DIGITS, MAX_DIGITS)])
    period = IntegerField(
        _l("Period (seconds)"), default=30, validators=[input_required(), between(1, MAX_PERIOD)]
    )
    counter = IntegerField(_l("Counter"), default=0, validators=[input_required(), between(0, MAX_COUNTER)])
    pin = PasswordField(_l("PIN"), validators=[Optional(), at_most(MAX_PIN_LENGTH)])


# Adding and editing accounts ------------------------------------------------------------------


class ImageForm(FlaskForm):
    image = FileField(_l("QR code image"), validators=[FileRequired(_l("Choose an image with a QR code."))])


class ConfirmForm(FlaskForm):
    """The preview's "add them all": the links found, read again when confirmed."""

    uris = HiddenField(validators=[required(), at_most(MAX_TEXT_LENGTH)])
    origin = HiddenField(default="link", validators=[one_of(ORIGINS)])


class EditForm(ManualForm):
    secret = StringField(_l("New secret key (base32)"), validators=[Optional(), at_most(512)])
    pin = PasswordField(_l("New PIN"), validators=[Optional(), at_most(MAX_PIN_LENGTH)])
    note = TextAreaField(_l("Note"), validators=[Optional(), at_most(MAX_NOTE_LENGTH)])
    favorite = BooleanField(_l("Favorite: pin to the top of the list"))
    # Existing groups as checkboxes (choices set by the view); new ones typed, comma-separated.
    groups = SelectMultipleField(_l("Groups"), choices=[], validate_choice=False)
    new_groups = StringField(_l("New groups"), validators=[Optional(), at_most(1000)])
    icon = RadioField(
        _l("Icon"),
        choices=[
            SelectChoice("auto", _l("The service's logo when there is one, else a coloured letter")),
            SelectChoice("letter", _l("A coloured letter")),
            SelectChoice("custom", _l("An image of my own")),
        ],
        default="auto",
    )
    icon_file = FileField(
        _l("Icon image (PNG, JPEG or WebP, up to 256 KB)"),
        validators=[FileSize(MAX_ICON_BYTES, message=_l("The icon must be 256 KB or smaller."))],
    )
    # The revision the form started from, and the values it showed (JSON, no secret): a save
    # writes only what the person changed, and answers 409 when the account moved on meanwhile.
    revision = HiddenField(validators=[Optional(), at_most(12)])
    base = HiddenField(validators=[Optional(), at_most(8000)])


class GroupForm(FlaskForm):
    name = StringField(_l("New name"), validators=[required(), at_most(MAX_LABEL_LENGTH)])


# Personal access tokens -------------------------------------------------------------------------


class TokenForm(FlaskForm):
    name = StringField(_l("Name"), validators=[required(), at_most(MAX_TOKEN_NAME_LENGTH)])
    scope = RadioField(
        _l("Access"),
        choices=[
            SelectChoice("read", _l("Read accounts and codes")),
            SelectChoice("write", _l("Read, add, change and delete accounts")),
        ],
        default="read",
        validators=[input_required(), one_of(["read", "write"])],
    )
    days = SelectField(
        _l("Expires after"),
        choices=[
            SelectChoice("7", _l("7 days")),
            SelectChoice("30", _l("30 days")),
            SelectChoice("90", _l("90 days")),
            SelectChoice("365", _l("a year")),
        ],
        default="90",
        coerce=int,
    )
