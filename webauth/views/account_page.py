"""One account's own page: the detail page, its reveals (after a password re-entry) and the edit
form, whose saves carry the revision they started from.

These routes belong to the `accounts` blueprint (views/accounts.py); register_blueprints
imports this module so they exist before the blueprint is registered.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from wtforms.fields.choices import SelectChoice

from webauth import adding, clock, edits, qr
from webauth.auth_session import reauth_required, recently_authenticated
from webauth.extensions import db
from webauth.forms import EditForm
from webauth.icons import IconError
from webauth.listing import key_hint, make_clock
from webauth.models import Account
from webauth.otp import InvalidParameter, OtpParams, OtpType
from webauth.otpauth import AccountSpec, decode_secret_of, format_uri, secret_text
from webauth.sharing import rules as sharing_rules
from webauth.vault import (
    REVEALS,
    CounterRewind,
    DuplicateAccount,
    IconChange,
    StaleRevision,
)
from webauth.views.accounts import account_label, bp
from webauth.views.common import current_vault, page_or_fragment, wants_fragment

# One account ------------------------------------------------------------------------------


def _code_context(account: Account) -> dict:
    """The account's code now, and for a time-based one the clock of its countdown, which
    also says when the page asks for the next code (accounts/detail_code.html)."""
    now = clock.now()
    [view] = current_vault().codes([account], at=now)
    timed = view.remaining is not None
    return {"view": view, "clock": make_clock([account.period], now) if timed else None}


def detail_page(
    account: Account,
    revealed: str | None = None,
    value: str | None = None,
    *,
    share_error: str = "",
    share_notice: str = "",
    status: int = 200,
    fragment: str = "accounts/detail.html",
):
    """The account's page, or for htmx its `fragment` (views/sharing.py asks for the "Share"
    section); `share_error` says why a share was refused, `share_notice` what a share did."""
    return page_or_fragment(
        "accounts/detail.html",
        fragment,
        status,
        **_code_context(account),
        account=account,
        hint=key_hint(account),
        twin=account.uuid in current_vault().twin_hints([account]),
        revealed=revealed,
        value=value,
        recipients=sharing_rules.recipients(account),
        share_error=share_error,
        share_notice=share_notice,
    )


@bp.get("/<uuid>")
@login_required
def detail(uuid: str):
    return detail_page(current_vault().get(uuid))


@bp.get("/<uuid>/code")
@login_required
def detail_code(uuid: str):
    """The account page's code again, when its period ends (htmx; a plain request gets the page)."""
    if not wants_fragment():
        return redirect(url_for("accounts.detail", uuid=uuid))
    account = current_vault().get(uuid)
    return page_or_fragment(None, "accounts/detail_code.html", account=account, **_code_context(account))


@bp.get("/<uuid>/reveal/<what>")
@login_required
@reauth_required
def reveal(uuid: str, what: str):
    """The secret, the QR code, the otpauth URI or the PIN, after a recent re-authentication; audited."""
    if what not in REVEALS:
        abort(404)
    spec = current_vault().reveal(uuid, what)
    db.session.commit()
    if what == "secret":
        secret = secret_text(spec.params)
        value = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    elif what == "pin":
        value = spec.params.pin
    elif what == "uri":
        value = format_uri(spec)
    else:
        value = qr.data_uri(qr.qr_png(format_uri(spec), qr.LARGE_SCALE))
    return detail_page(current_vault().get(uuid), what, value)


def _edit_form(account: Account, values: dict | None = None, formdata=None) -> EditForm:
    """The edit form: showing `values` (the account's own by default), or reading `formdata`.

    It carries the revision and the values it started from (edits.py), so a save writes only
    what the person changed and notices a change made elsewhere meanwhile.
    """
    names = [group.name for group in current_vault().groups()]
    if formdata is None:
        current = edits.values_of(account)
        values = values or current
        form = EditForm(formdata=None, **values, revision=str(account.revision), base=edits.encode(current))
        form.new_groups.data = ", ".join(name for name in values["groups"] if name not in names)
    else:
        form = EditForm()
    form.groups.choices = [SelectChoice(name, name) for name in names]
    return form


def _edit_page(account: Account, form: EditForm, status: int = 200, elsewhere=None):
    html = render_template(
        "accounts/edit.html",
        account=account,
        form=form,
        elsewhere=elsewhere or [],
        reauth_url=None if recently_authenticated() else url_for("auth.reauth", next=request.path, back=request.path),
    )
    return html, status


@bp.app_template_filter("edit_value")
def _edit_value(value) -> str:
    """A value of `edits.values_of` as the list of changes made elsewhere shows it."""
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list):
        value = ", ".join(value)
    return str(value) if value not in ("", None) else "—"


def _submitted(form: EditForm) -> dict:
    """The form's values, in the shape of `edits.values_of`."""
    # Chinese keyboards type the full-width comma: both separate new group names.
    typed = (form.new_groups.data or "").replace("，", ",").split(",")
    return {
        "issuer": form.issuer.data or "",
        "name": form.name.data or "",
        "note": form.note.data or "",
        "favorite": bool(form.favorite.data),
        "type": form.type.data,
        "algorithm": form.algorithm.data,
        "digits": form.digits.data,
        "period": form.period.data,
        "counter": form.counter.data,
        "groups": list(form.groups.data or []) + [name.strip() for name in typed if name.strip()],
        "icon": form.icon.data,
    }


def _stale(account: Account, base: dict, submitted: dict, form: EditForm):
    """409: the account changed since the page was opened. The page shows what changed and the
    current values, with the person's input kept where it does not collide."""
    current = current_vault().get(account.uuid, fresh=True)
    merged, elsewhere = edits.merge(base, edits.values_of(current), submitted)
    fresh = _edit_form(current, merged)
    fresh.secret.data = form.secret.data  # a new secret typed is kept: nothing else can have typed it
    return _edit_page(current, fresh, 409, elsewhere)


@bp.route("/<uuid>/edit", methods=["GET", "POST"])
@login_required
def edit(uuid: str):
    vault = current_vault()
    account = vault.get(uuid)
    if request.method == "GET":
        return _edit_page(account, _edit_form(account))
    form = _edit_form(account, formdata=request.form)
    if not form.validate():
        return _edit_page(account, form, 422)
    current = edits.values_of(account)
    base = edits.decode(form.base.data) or current
    revision = int(form.revision.data) if (form.revision.data or "").isdigit() else None
    submitted = _submitted(form)
    if revision is not None and revision != account.revision:
        return _stale(account, base, submitted, form)
    changed = edits.changed(base, submitted)
    if form.secret.data:
        changed.add("secret")
    if form.pin.data:
        changed.add("pin")
    guarded = [name for name in edits.GUARDED if name in changed]
    if guarded and not recently_authenticated():
        field = getattr(form, guarded[0])
        field.errors = [*field.errors, _("Changing the type, the secret key, the counter or the PIN needs your "
                                         "password: enter it again, then save.")]
        return _edit_page(account, form, 403)
    upload = form.icon_file.data
    image = upload.read(adding.MAX_IMAGE_BYTES) if upload else b""
    icon: IconChange | None = None
    if image or "icon" in changed:
        if form.icon.data == "custom" and not image:
            if account.icon is None or account.icon.kind != "custom":
                form.icon_file.errors = [*form.icon_file.errors, _("Choose an image for the icon.")]
                return _edit_page(account, form, 422)
        else:
            icon = IconChange(form.icon.data, image or None)
    # Only what the person changed is written; every other field keeps its current value.
    chosen = {name: submitted[name] if name in changed else current[name] for name in edits.FIELDS}
    try:
        held = vault.params(account)
        otp_type = OtpType(chosen["type"])
        params = OtpParams(
            type=otp_type,
            secret=decode_secret_of(otp_type, form.secret.data) if form.secret.data else held.secret,
            algorithm=chosen["algorithm"],
            digits=chosen["digits"],
            period=chosen["period"],
            counter=chosen["counter"],
            pin=form.pin.data or held.pin,
        )
        spec = AccountSpec(
            issuer=chosen["issuer"],
            name=chosen["name"],
            params=params,
            note=chosen["note"].replace("\r\n", "\n"),
            groups=tuple(chosen["groups"]),
            favorite=chosen["favorite"],
        )
        groups = spec.groups if "groups" in changed else None
        vault.update(uuid, spec, groups=groups, icon=icon, revision=revision)
    except StaleRevision:
        db.session.rollback()
        return _stale(account, base, submitted, form)
    except CounterRewind as error:
        form.counter.errors = [*form.counter.errors, _(
            "The counter is at %(counter)d already: it can only move forward, or codes already used would show "
            "again.", counter=error.current,
        )]
        return _edit_page(account, form, 409)
    except InvalidParameter as error:
        field = getattr(form, "new_groups" if error.field == "groups" else error.field, form.secret)
        field.errors = [*field.errors, error.message]
        return _edit_page(account, form, 422)
    except DuplicateAccount as duplicate:
        form.secret.errors = [
            *form.secret.errors,
            _(
                "Another account of your vault is exactly this one (%(label)s).",
                label=account_label(duplicate.existing),
            ),
        ]
        return _edit_page(account, form, 409)
    except IconError as error:
        message = (
            _("The icon must be 256 KB or smaller.")
            if error.reason == "too_large"
            else _("The icon must be a PNG, JPEG or WebP image.")
        )
        form.icon_file.errors = [*form.icon_file.errors, message]
        return _edit_page(account, form, 413 if error.reason == "too_large" else 422)
    db.session.commit()
    flash(_("Saved %(label)s.", label=spec.label), "success")
    return redirect(url_for("accounts.detail", uuid=uuid))
