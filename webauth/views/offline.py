"""The offline copy: its settings page, the password re-entry it needs, the device endpoints,
and the offline page the service worker serves when there is no network.

Every response that carries the vault is JSON, `Cache-Control: no-store`, and only for a
signed-in user: the first one after a fresh password entry (`WEBAUTH_REAUTH_SECONDS`), the
later ones for a device that shows the token it got then. The browser seals the vault under
a PIN the server never sees (static/js/offline-copy.js).
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.exceptions import NotFound
from wtforms import PasswordField

from webauth import audit, languages, offline, users
from webauth.auth_session import current_session
from webauth.extensions import db, limiter
from webauth.forms import at_most, required
from webauth.passkeys import credentials, relying_party
from webauth.users import MAX_PASSWORD_LENGTH
from webauth.views.common import current_vault, json_problem, json_response

bp = Blueprint("offline", __name__, url_prefix="/offline")

TOKEN_HEADER = "X-Offline-Token"  # noqa: S105 - the name of a header, not a secret
# Reasons a device gives when it ends its own record (the others are set by people).
DEVICE_REASONS = {"forgotten", "signed-out", "wrong-pin"}


class ReauthForm(FlaskForm):
    password = PasswordField(_l("Password"), validators=[required(), at_most(MAX_PASSWORD_LENGTH)])


def _reauth_limit() -> str:
    return current_app.config["WEBAUTH_LOGIN_RATE_LIMIT"]


def _reauth_key() -> str:
    return f"reauth-user:{current_user.get_id()}"


def _fresh() -> bool:
    """Whether this session entered its password (or signed in) within WEBAUTH_REAUTH_SECONDS."""
    return users.recently_authenticated(current_session(), current_app.config["WEBAUTH_REAUTH_SECONDS"])


def _problem(status: int, code: str, message: str):
    """An error the page acts on by `error`: reauth (ask the password), forbidden or gone (wipe)."""
    return json_problem(status, code, message)


def _forbidden():
    return _problem(403, "forbidden", _("Offline copies are turned off on this server."))


def _device_or_problem(device_uuid: str):
    """The calling device's record, proven by its token; otherwise the response to send."""
    device = offline.active_device(current_user, device_uuid, request.headers.get(TOKEN_HEADER, ""))
    if device is None:
        return None, _problem(404, "gone", _("This device no longer has an offline copy."))
    return device, None


def _copy_payload(device_uuid: str) -> dict:
    document, revision = offline.snapshot(current_vault())
    return {
        "device": device_uuid,
        "vault": document,
        "revision": revision,
        "max_pin_attempts": offline.pin_attempts(),
    }


@bp.app_template_global("offline_allowed")
def offline_allowed_global() -> bool:
    return offline.offline_allowed()


# Pages ---------------------------------------------------------------------------------------


@bp.get("")
def page():
    """The offline page: the same for everyone (no user, no CSRF token), so the service worker
    may keep it and serve it when a page cannot be fetched. It computes codes in the browser."""
    response = make_response(render_template("offline.html"))
    response.headers["Cache-Control"] = "no-cache"
    # The service worker compares it with a live page's language, and caches the page again on a change.
    response.headers["Content-Language"] = languages.html_lang(get_locale())
    return response


def _settings_page(form: ReauthForm, status: int = 200):
    me = current_user._get_current_object()
    html = render_template(
        "pwa/offline_settings.html",
        form=form,
        fresh=_fresh(),
        has_password=bool(me.password_hash),
        # The passkeys that may also unlock the copy (by their PRF output), and their relying party.
        passkey_ids=credentials.credential_ids(me),
        rp_id=relying_party.current().id,
        allowed=offline.offline_allowed(),
        devices=offline.user_devices(me),
        pin_attempts=offline.pin_attempts(),
        reauth_minutes=max(current_app.config["WEBAUTH_REAUTH_SECONDS"] // 60, 1),
    )
    return html, status


@bp.get("/settings")
@login_required
def settings():
    return _settings_page(ReauthForm())


@bp.post("/reauth")
@login_required
@limiter.limit(_reauth_limit, key_func=_reauth_key)
def reauth():
    """Enter the password again: turning the offline copy on needs a fresh one."""
    form = ReauthForm()
    if not form.validate_on_submit():
        return _settings_page(form, 422)
    me = current_user._get_current_object()
    if not users.verify_password(me, form.password.data):
        audit.record("reauth.failure", user=me, details={"for": "offline"})
        db.session.commit()
        form.password.errors.append(_("Wrong password."))
        return _settings_page(form, 401)
    audit.record("reauth.success", user=me, details={"for": "offline"})
    users.mark_reauthenticated(current_session())
    db.session.commit()
    return redirect(url_for(".settings"))


@bp.post("/devices/<device_uuid>/remove")
@login_required
def remove(device_uuid: str):
    """End another device's copy from here (a lost phone): it wipes the copy when next online."""
    me = current_user._get_current_object()
    device = offline.active_device(me, device_uuid)
    if device is None:
        raise NotFound()
    offline.end_device(device, me, "removed")
    db.session.commit()
    flash(_("Removed. That device deletes its offline copy the next time it opens webauth online."), "success")
    return redirect(url_for(".settings"))


# The device's endpoints (JSON, called by static/js/offline-copy.js) ---------------------------


@bp.post("/devices")
@login_required
def enable():
    """Turn the copy on for this device: its record and token, and the vault to seal."""
    if not offline.offline_allowed():
        return _forbidden()
    if not _fresh():
        return _problem(403, "reauth", _("Enter your password again to turn on the offline copy."))
    device, token = offline.enable_device(current_user._get_current_object())
    db.session.commit()
    payload = _copy_payload(device.uuid)
    payload["token"] = token
    payload["owner"] = {"id": current_user.id, "name": current_user.display_name or current_user.username}
    return json_response(payload, 201)


@bp.get("/devices/<device_uuid>")
@login_required
def status(device_uuid: str):
    """Whether this device's copy may stay, and the revision it should hold."""
    if not offline.offline_allowed():
        return _forbidden()
    device, problem = _device_or_problem(device_uuid)
    if problem is not None:
        return problem
    revision = offline.vault_revision(current_vault().accounts())
    return json_response({"device": device.uuid, "revision": revision, "max_pin_attempts": offline.pin_attempts()})


@bp.post("/devices/<device_uuid>/vault")
@login_required
def refresh(device_uuid: str):
    """The vault again, for a device that re-seals its copy after a change."""
    if not offline.offline_allowed():
        return _forbidden()
    device, problem = _device_or_problem(device_uuid)
    if problem is not None:
        return problem
    payload = _copy_payload(device.uuid)
    offline.record_refresh(device, current_user._get_current_object())
    db.session.commit()
    return json_response(payload)


@bp.delete("/devices/<device_uuid>")
@login_required
def forget(device_uuid: str):
    """The device deleted its copy (forgotten, signed out, too many wrong PINs): end its record."""
    reason = (request.get_json(silent=True) or {}).get("reason", "forgotten")
    if reason not in DEVICE_REASONS:
        return _problem(400, "reason", _("The request could not be understood."))
    device, problem = _device_or_problem(device_uuid)
    if problem is not None:
        return problem
    offline.end_device(device, current_user._get_current_object(), reason)
    db.session.commit()
    return json_response({"device": device.uuid, "ended": reason})
