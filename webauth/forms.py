"""HTML forms (Flask-WTF): field checks here, domain rules in the vault and users modules."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, NumberRange, Optional

from webauth.otp import MAX_COUNTER, MAX_DIGITS, MAX_PERIOD, MIN_DIGITS
from webauth.otpauth import MAX_LABEL_LENGTH, MAX_URI_LENGTH
from webauth.users import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=255)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)])


class SetupForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(
        _l("Password"),
        validators=[
            DataRequired(),
            Length(
                min=MIN_PASSWORD_LENGTH,
                max=MAX_PASSWORD_LENGTH,
                message=_l("Use at least %(min)d characters.", min=MIN_PASSWORD_LENGTH),
            ),
        ],
    )
    confirm = PasswordField(
        _l("Repeat the password"), validators=[DataRequired(), EqualTo("password", _l("The passwords differ."))]
    )


class UriForm(FlaskForm):
    uri = TextAreaField(_l("otpauth:// link"), validators=[DataRequired(), Length(max=MAX_URI_LENGTH)])


class ManualForm(FlaskForm):
    issuer = StringField(_l("Issuer"), validators=[Optional(), Length(max=MAX_LABEL_LENGTH)])
    name = StringField(_l("Account name"), validators=[Optional(), Length(max=MAX_LABEL_LENGTH)])
    secret = StringField(_l("Secret key (base32)"), validators=[DataRequired(), Length(max=512)])
    type = SelectField(
        _l("Type"),
        choices=[
            SelectChoice("totp", _l("Time-based (TOTP)")),
            SelectChoice("hotp", _l("Counter-based (HOTP)")),
            SelectChoice("steam", "Steam"),
        ],
        default="totp",
    )
    algorithm = SelectField(
        _l("Algorithm"),
        choices=[SelectChoice("SHA1", "SHA-1"), SelectChoice("SHA256", "SHA-256"), SelectChoice("SHA512", "SHA-512")],
        default="SHA1",
    )
    digits = IntegerField(_l("Digits"), default=6, validators=[InputRequired(), NumberRange(MIN_DIGITS, MAX_DIGITS)])
    period = IntegerField(
        _l("Period (seconds)"), default=30, validators=[InputRequired(), NumberRange(1, MAX_PERIOD)]
    )
    counter = IntegerField(_l("Counter"), default=0, validators=[InputRequired(), NumberRange(0, MAX_COUNTER)])
