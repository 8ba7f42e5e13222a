"""Adding, organising and deleting accounts, the trash and groups (one account's own page, its
reveals and its edit form are in account_page.py, on the same blueprint).

Every rule lives in the vault; these views read forms, call it, and say what happened.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required

from webauth import adding
from webauth.batches import PlanCounts, PlannedAddition
from webauth.extensions import db, limiter
from webauth.forms import ConfirmForm, GroupForm, ImageForm, ManualForm, UriForm
from webauth.models import Account
from webauth.otp import InvalidParameter, OtpParams, OtpType
from webauth.otpauth import AccountSpec, decode_secret_of, with_pin
from webauth.transfer.base import ImportedEntry
from webauth.vault import (
    AccountNotFound,
    DuplicateAccount,
)
from webauth.views.codes import render_codes
from webauth.views.common import current_vault, render_error, wants_fragment

bp = Blueprint("accounts", __name__, url_prefix="/accounts")

# Decoding an image costs real CPU time (up to 40 megapixels); a person adds a few at a time.
IMAGE_LIMIT = "30 per minute; 300 per hour"


def account_label(account: Account) -> str:
    """What names an account in messages: its issuer, or its name when it has none."""
    return account.issuer or account.name


# Adding -------------------------------------------------------------------------------------


def _forms(active: str | None = None) -> tuple[UriForm, ManualForm, ImageForm]:
    """The page's forms; only the submitted one reads the request."""
    uri_form = UriForm(prefix="uri", formdata=None if active != "uri" else request.form)
    manual_form = ManualForm(prefix="manual", formdata=None if active != "manual" else request.form)
    # Flask-WTF reads files as well as fields when it is left to find the form data itself.
    image_form = ImageForm(prefix="image") if active == "image" else ImageForm(prefix="image", formdata=None)
    return uri_form, manual_form, image_form


def _page(
    uri_form: UriForm,
    manual_form: ManualForm,
    image_form: ImageForm,
    status: int = 200,
    pin_for: AccountSpec | None = None,
):
    """The add page; `pin_for` is a link's account whose PIN the link form asks for."""
    html = render_template(
        "accounts/new.html", uri_form=uri_form, manual_form=manual_form, image_form=image_form, pin_for=pin_for
    )
    return html, status


def _twin_note(account: Account) -> None:
    """Say so when the new account shares its issuer and name with another (a different secret)."""
    hints = current_vault().twin_hints([account])
    if account.uuid in hints:
        flash(
            _(
                "You already had an account called %(label)s with another secret key. Both are kept; "
                "the list tells them apart by their key hints (this one is %(hint)s).",
                label=account_label(account),
                hint=hints[account.uuid],
            ),
            "success",
        )


def _store(spec: AccountSpec, origin: str):
    """Add the account and go to the list; a duplicate is refused with the reason."""
    try:
        account = current_vault().add(spec, source=origin)
    except DuplicateAccount as duplicate:
        label = account_label(duplicate.existing)
        return None, _("This account is already in your vault (%(label)s).", label=label)
    db.session.commit()
    flash(_("Added %(label)s.", label=spec.label), "success")
    _twin_note(account)
    return redirect(url_for("codes.index", _anchor=f"account-{account.uuid}")), None


_ADD_ERRORS = {
    "too_large": (413, lambda: _("The image is too large. Use one under 5 MB and 40 megapixels.")),
    "not_image": (415, lambda: _("This file is not an image. Use a PNG, JPEG, WebP or GIF picture of the QR code.")),
    "unreadable": (422, lambda: _("The image could not be scanned for QR codes. Try another picture.")),
    "no_qr": (422, lambda: _("No QR code was found in the image. Try a sharper or closer picture.")),
    "no_otp": (
        422,
        lambda: _("The QR code holds no two-factor account (it has no otpauth:// or otpauth-migration:// link)."),
    ),
    "no_uri": (422, lambda: _("No otpauth:// or otpauth-migration:// link was found in the text.")),
}


def _add_error(error: adding.AddError, *, text: bool) -> tuple[int, str]:
    if error.reason == "bad_uri":
        return 422, error.detail
    if error.reason == "too_large" and text:
        return 413, _("The text is too long.")
    status, message = _ADD_ERRORS[error.reason]
    return status, message()


def _found(found: adding.Found, origin: str, fail, pin: str = ""):
    """Add one plain account at once; show anything more (several, a transfer, problems) first.

    One mOTP or Yandex link without its PIN takes the PIN typed in the link form (`pin`), or
    comes back in that form asking for it.
    """
    if not found.single:
        return _preview(found, origin)
    spec = found.entries[0].spec
    if spec.params.needs_pin:
        return _ask_pin(found, spec, origin, pin)
    response, problem = _store(spec, origin)
    return response or fail(409, problem)


def _ask_pin(found: adding.Found, spec: AccountSpec, origin: str, pin: str):
    uri_form = UriForm(prefix="uri", formdata=None, uri=found.text, origin=origin)
    manual_form, image_form = _forms()[1:]
    if pin:
        try:
            spec = with_pin(spec, pin)
        except InvalidParameter as error:
            uri_form.pin.errors = [error.message]
            return _page(uri_form, manual_form, image_form, 422, pin_for=spec)
        response, problem = _store(spec, origin)
        if response is not None:
            return response
        uri_form.uri.errors = [problem]
        return _page(uri_form, manual_form, image_form, 409, pin_for=spec)
    uri_form.pin.errors = [_("The link does not hold this account's PIN: enter it to add the account.")]
    return _page(uri_form, manual_form, image_form, 422, pin_for=spec)


def _preview(found: adding.Found, origin: str, status: int = 200):
    vault = current_vault()
    planned = vault.plan_additions([entry.spec for entry in found.entries if entry.spec is not None])
    plans = iter(planned)
    rows: list[tuple[ImportedEntry, PlannedAddition | None]] = [
        (entry, next(plans) if entry.spec is not None else None) for entry in found.entries
    ]
    new = sum(1 for item in planned if item.is_new)
    form = ConfirmForm(formdata=None, uris=found.text, origin=origin)
    return render_template("accounts/preview.html", rows=rows, new=new, form=form), status


@bp.get("/new")
@login_required
def new():
    return _page(*_forms())


@bp.post("/new/uri")
@login_required
def add_uri():
    uri_form, manual_form, image_form = _forms("uri")
    if not uri_form.validate():
        return _page(uri_form, manual_form, image_form, 422)

    def fail(status: int, message: str):
        uri_form.uri.errors.append(message)
        return _page(uri_form, manual_form, image_form, status)

    try:
        found = adding.read_text(uri_form.uri.data)
    except adding.AddError as error:
        return fail(*_add_error(error, text=True))
    return _found(found, uri_form.origin.data, fail, uri_form.pin.data or "")


@bp.post("/new/image")
@login_required
@limiter.limit(IMAGE_LIMIT, key_func=lambda: f"image-user:{current_user.get_id()}")
def add_image():
    """An uploaded, pasted or dropped image: every QR code in it."""
    uri_form, manual_form, image_form = _forms("image")

    def fail(status: int, message: str):
        image_form.image.errors = [*image_form.image.errors, message]
        return _page(uri_form, manual_form, image_form, status)

    if not image_form.validate():
        return _page(uri_form, manual_form, image_form, 422)
    try:
        found = adding.read_image(image_form.image.data.read(adding.MAX_IMAGE_BYTES + 1))
    except adding.AddError as error:
        return fail(*_add_error(error, text=False))
    return _found(found, "image", fail)


@bp.post("/new/confirm")
@login_required
def confirm():
    """The preview's "Add": the same links read again, the new accounts added in one go."""
    form = ConfirmForm()
    if not form.validate():
        return render_error(400)
    try:
        found = adding.read_text(form.uris.data)
    except adding.AddError as error:
        return render_error(*_add_error(error, text=True))
    specs = [entry.spec for entry in found.entries if entry.spec is not None]
    vault = current_vault()
    counts = PlanCounts.of(vault.plan_additions(specs))
    added, skipped = vault.add_many(specs, source=form.origin.data)
    db.session.commit()
    # What add_many skipped beyond the repeats the preview showed, the vault had (or got meanwhile).
    in_vault = skipped - counts.repeated
    if added:
        flash(ngettext("Added %(num)d account.", "Added %(num)d accounts.", len(added)), "success")
    if in_vault:
        flash(
            ngettext(
                "%(num)d account was already in your vault and was not added again.",
                "%(num)d accounts were already in your vault and were not added again.",
                in_vault,
            ),
            "success" if added else "error",
        )
    if counts.repeated:
        flash(
            ngettext(
                "%(num)d account appeared twice in what you gave; the repeat was left out.",
                "%(num)d accounts appeared twice in what you gave; the repeats were left out.",
                counts.repeated,
            ),
            "info",
        )
    for account in added:
        _twin_note(account)
    return redirect(url_for("codes.index"))


@bp.post("/new/manual")
@login_required
def add_manual():
    uri_form, form, image_form = _forms("manual")
    if not form.validate():
        return _page(uri_form, form, image_form, 422)
    try:
        otp_type = OtpType(form.type.data)
        params = OtpParams(
            type=otp_type,
            secret=decode_secret_of(otp_type, form.secret.data),
            algorithm=form.algorithm.data,
            digits=form.digits.data,
            period=form.period.data,
            counter=form.counter.data,
            pin=form.pin.data or None,
        )
        spec = AccountSpec(issuer=form.issuer.data or "", name=form.name.data or "", params=params)
    except InvalidParameter as error:
        field = getattr(form, error.field, form.secret)
        field.errors = [*field.errors, error.message]
        return _page(uri_form, form, image_form, 422)
    if params.needs_pin:
        form.pin.errors = [*form.pin.errors, _("An mOTP or Yandex account needs its PIN.")]
        return _page(uri_form, form, image_form, 422)
    response, problem = _store(spec, "manual")
    if problem:
        form.secret.errors = [*form.secret.errors, problem]
        return _page(uri_form, form, image_form, 409)
    return response


# The list's actions ----------------------------------------------------------------------------


def _back_to_list(undo: str | None = None):
    """htmx swaps in the refreshed list; a plain form post goes back to the list page."""
    if wants_fragment():
        return render_codes(undo=undo)
    return redirect(url_for("codes.index", undo=undo))


@bp.post("/<uuid>/next")
@login_required
def next_code(uuid: str):
    current_vault().advance_hotp(uuid)
    current_vault().mark_used(uuid)
    db.session.commit()
    return _back_to_list()


@bp.post("/<uuid>/used")
@login_required
def used(uuid: str):
    """The page copied a code: remember when, for the "recently used" order."""
    current_vault().mark_used(uuid)
    db.session.commit()
    return "", 204


@bp.post("/<uuid>/favorite")
@login_required
def favorite(uuid: str):
    current_vault().set_favorite(uuid, request.form.get("favorite") == "1")
    db.session.commit()
    if request.form.get("next") == "detail":
        return redirect(url_for("accounts.detail", uuid=uuid))
    return _back_to_list()


@bp.post("/favorites")
@login_required
def favorites():
    """The list's stars (partials/account.html): `star` or `unstar`, an account's uuid. One URL
    for the list's form, so that no row repeats a URL of its own for its star (issue 21)."""
    for field, on in (("star", True), ("unstar", False)):
        if uuid := request.form.get(field):
            current_vault().set_favorite(uuid, on)
            db.session.commit()
            return _back_to_list()
    return render_error(400)


@bp.post("/<uuid>/move")
@login_required
def move(uuid: str):
    """Put the account before another (`before`, a uuid), after another (`after`) or at the end."""
    current_vault().move(uuid, request.form.get("before") or None, request.form.get("after") or None)
    db.session.commit()
    return _back_to_list()


@bp.get("/<uuid>/delete")
@login_required
def confirm_delete(uuid: str):
    """"Move to the trash?": where the list's trash button leads without JavaScript (with it, the
    same question comes in a dialog, static/js/safe-actions.js), so one stray tap deletes nothing."""
    account = current_vault().get(uuid)
    return render_template("accounts/delete.html", account=account, label=account_label(account))


@bp.post("/<uuid>/delete")
@login_required
def delete(uuid: str):
    """Move to the trash; the list then offers to undo (partials/snackbar.html)."""
    current_vault().delete(uuid)
    db.session.commit()
    return _back_to_list(undo=uuid)


def _no_longer_in_trash(uuid: str):
    """A restore or purge of an account that left the trash meanwhile (another tab, another device).

    Restored already: nothing to do, the list shows it. Deleted for good (an "Empty trash" that
    came first), or never here: 404, and the page says it is gone for good.
    """
    db.session.rollback()
    try:
        current_vault().get(uuid)
    except AccountNotFound:
        return render_error(404, _("This account is no longer in the trash: it was deleted for good meanwhile."))
    flash(_("This account was restored already."), "success")
    return redirect(url_for("accounts.trash") if request.form.get("next") == "trash" else url_for("codes.index"))


@bp.post("/<uuid>/restore")
@login_required
def restore(uuid: str):
    try:
        account = current_vault().restore(uuid)
    except AccountNotFound:
        return _no_longer_in_trash(uuid)
    except DuplicateAccount as duplicate:
        label = account_label(duplicate.existing)
        message = _("%(label)s is in your vault again already, so it stays in the trash.", label=label)
        if wants_fragment():
            return render_error(409, message)
        flash(message, "error")
        return redirect(url_for("accounts.trash") if request.form.get("next") == "trash" else url_for("codes.index"))
    db.session.commit()
    if request.form.get("next") == "trash":
        flash(_("Restored %(label)s.", label=account_label(account)), "success")
        return redirect(url_for("accounts.trash"))
    if not wants_fragment():
        flash(_("Restored %(label)s.", label=account_label(account)), "success")
    return _back_to_list()


# The trash ----------------------------------------------------------------------------------


@bp.get("/trash")
@login_required
def trash():
    return render_template("accounts/trash.html", accounts=current_vault().trash())


@bp.post("/<uuid>/purge")
@login_required
def purge(uuid: str):
    account = current_vault().get(uuid, trashed=True)
    label = account_label(account)
    try:
        current_vault().purge(uuid)
    except AccountNotFound:  # restored meanwhile: it stays
        db.session.rollback()
        flash(_("%(label)s was restored meanwhile, so it was not deleted.", label=label), "error")
        return redirect(url_for("accounts.trash"))
    db.session.commit()
    flash(_("Deleted %(label)s for good.", label=label), "success")
    return redirect(url_for("accounts.trash"))


@bp.post("/trash/empty")
@login_required
def empty_trash():
    count = current_vault().empty_trash()
    db.session.commit()
    flash(ngettext("Deleted %(num)d account for good.", "Deleted %(num)d accounts for good.", count), "success")
    return redirect(url_for("accounts.trash"))


# Groups -------------------------------------------------------------------------------------


def _groups_page(failed: str | None = None, message: str | None = None, status: int = 200):
    """The groups page; `failed` names the group whose rename was refused with `message`."""
    html = render_template("accounts/groups.html", groups=current_vault().groups(), failed=failed, message=message)
    return html, status


@bp.get("/groups")
@login_required
def groups():
    return _groups_page()


@bp.post("/groups/rename")
@login_required
def rename_group():
    form = GroupForm()
    old = request.form.get("group", "")
    if not form.validate():
        return _groups_page(old, _("A group needs a name of at most 200 characters."), 422)
    try:
        current_vault().rename_group(old, form.name.data)
    except LookupError:
        abort(404)
    except ValueError as error:
        return _groups_page(old, str(error), 422)
    db.session.commit()
    flash(_("Renamed the group %(old)s to %(new)s.", old=old, new=form.name.data.strip()), "success")
    return redirect(url_for("accounts.groups"))


@bp.post("/groups/delete")
@login_required
def delete_group():
    name = request.form.get("group", "")
    try:
        current_vault().delete_group(name)
    except LookupError:
        abort(404)
    db.session.commit()
    flash(_("Removed the group %(name)s; its accounts are still in your vault.", name=name), "success")
    return redirect(url_for("accounts.groups"))
