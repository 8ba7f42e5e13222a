"""Passkeys: the WebAuthn calls of static/js/passkeys.js, and the forms of the account page.

The ceremonies are JSON: the page asks for options (a challenge kept on the server), the
browser asks the authenticator, the page posts the answer. Signing in with a passkey is
limited like the password form (per address), and is off when the password form is off
(`local_login_enabled`: Casdoor is then the only way in). Adding a passkey needs a recent
re-authentication; so do removing one and "passkey only", which change how the account
can be entered. Naming one does not.
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.exceptions import NotFound
from wtforms import StringField

from webauth import audit, settings, users
from webauth.auth_session import current_session, reauth_required, recently_authenticated, sign_in
from webauth.extensions import db, limiter
from webauth.forms import at_most, required
from webauth.models import utcnow
from webauth.passkeys import credentials
from webauth.passkeys.credentials import MAX_NAME_LENGTH, MAX_PASSKEYS, PasskeyError
from webauth.views.common import json_problem, json_response, safe_next
from webauth.views.signin_limits import address_limit, remember_browser

bp = Blueprint("passkeys", __name__, url_prefix="/passkeys")

# An answer with an attestation certificate chain is a few kilobytes.
MAX_BODY_BYTES = 64 * 1024

REASONS = {
    "invalid": _l("The passkey’s answer could not be verified. Try again."),
    "expired": _l("That took too long, or the page was open for a while. Try again."),
    "unknown": _l("This passkey is not known here; it may have been removed. Sign in with your password."),
    "counter": _l(
        "This passkey was refused: its counter went backwards, which happens when a copy of it is used. "
        "Remove it and add a new one."
    ),
    "disabled": _l("This account is disabled."),
    "not-verified": _l(
        "Your passkey did not verify you (fingerprint, face or screen lock), so it cannot confirm it is you."
    ),
    "duplicate": _l("This passkey is already on your account."),
    "limit": _l("You have %(count)d passkeys, the most allowed. Remove one first.", count=MAX_PASSKEYS),
    "no-passkey": _l("Add a passkey first."),
    "not-local": _l("Passkeys are for accounts with a password here."),
}
STATUS = {"duplicate": 409, "limit": 409, "no-passkey": 409, "not-local": 403}


class PasskeyNameForm(FlaskForm):
    name = StringField(_l("Name"), validators=[required(), at_most(MAX_NAME_LENGTH)])


def _reauth_limit() -> str:
    return current_app.config["WEBAUTH_LOGIN_RATE_LIMIT"]


def _user_key() -> str:
    return f"passkey-user:{current_user.get_id()}"


def _refused(error: PasskeyError, status: int = 400):
    return json_problem(STATUS.get(error.reason, status), error.reason, str(REASONS[error.reason]))


def _body() -> dict | None:
    """The JSON object posted, or None for anything else (too large, not JSON, not an object)."""
    if (request.content_length or 0) > MAX_BODY_BYTES:
        return None
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else None


def _bad_request():
    return json_problem(400, "invalid", _("The request could not be understood."))


def _me():
    return current_user._get_current_object()


def _not_fresh():
    """The answer when this session has not confirmed it is you lately: the page goes to confirm."""
    return json_problem(
        403,
        "reauth",
        _("Confirm it is you first."),
        location=url_for("auth.reauth", next=url_for("me.index", _anchor="passkeys")),
    )


# Signing in ----------------------------------------------------------------------------------


@bp.post("/signin/options")
@limiter.limit(address_limit)
def signin_options():
    if not settings.local_login_enabled():
        return json_problem(403, "off", _("Signing in with a password or a passkey is turned off on this server."))
    options = credentials.signin_options()
    db.session.commit()  # the challenge, before it leaves
    return json_response(options)


@bp.post("/signin")
@limiter.limit(address_limit)
def signin():
    """Sign in with a passkey alone; a re-authentication too when the user was verified."""
    if not settings.local_login_enabled():
        return json_problem(403, "off", _("Signing in with a password or a passkey is turned off on this server."))
    body = _body()
    if body is None:
        return _bad_request()
    try:
        result = credentials.authenticate(body.get("credential"))
    except PasskeyError as error:
        user = error.user
        audit.record(
            "signin.failure",
            user=user,
            username=user.username if user is not None else "",
            details={"method": "passkey", "reason": f"passkey-{error.reason}"},
        )
        db.session.commit()
        return _refused(error, 401)
    sign_in(
        result.user,
        "passkey",
        reauthenticated_at=utcnow() if result.user_verified else None,
        details={"passkey": result.passkey.uuid, "verified": result.user_verified},
    )
    response = json_response({"redirect": safe_next(request.args.get("next"))})
    return remember_browser(response, result.user.username)


# Confirming it is you ------------------------------------------------------------------------


@bp.post("/reauth/options")
@login_required
@limiter.limit(_reauth_limit, key_func=_user_key)
def reauth_options():
    try:
        options = credentials.reauth_options(_me(), current_session())
    except PasskeyError as error:
        return _refused(error)
    db.session.commit()  # the challenge, before it leaves
    return json_response(options)


@bp.post("/reauth")
@login_required
@limiter.limit(_reauth_limit, key_func=_user_key)
def reauth():
    """A passkey with user verification counts as entering the password again."""
    body = _body()
    if body is None:
        return _bad_request()
    me = _me()
    try:
        passkey = credentials.reauthenticate(me, current_session(), body.get("credential"))
    except PasskeyError as error:
        audit.record("reauth.failure", user=me, details={"method": "passkey", "reason": error.reason})
        db.session.commit()
        return _refused(error, 401)
    audit.record("reauth.success", user=me, details={"method": "passkey", "passkey": passkey.uuid})
    users.mark_reauthenticated(current_session())
    db.session.commit()  # the event and the passkey's count with it
    return json_response({"redirect": safe_next(request.args.get("next"))})


# Adding --------------------------------------------------------------------------------------


@bp.post("/register/options")
@login_required
@limiter.limit(_reauth_limit, key_func=_user_key)
def register_options():
    if not recently_authenticated():
        return _not_fresh()
    try:
        options = credentials.registration_options(_me(), current_session())
    except PasskeyError as error:
        return _refused(error)
    db.session.commit()  # the user's handle and the challenge, before they leave
    return json_response(options)


@bp.post("/register")
@login_required
@limiter.limit(_reauth_limit, key_func=_user_key)
def register():
    if not recently_authenticated():
        return _not_fresh()
    body = _body()
    if body is None:
        return _bad_request()
    name = body.get("name")
    try:
        passkey = credentials.register(
            _me(), current_session(), body.get("credential"), name if isinstance(name, str) else None
        )
    except PasskeyError as error:
        return _refused(error)
    db.session.commit()
    flash(_("Passkey “%(name)s” added. You can now sign in with it.", name=passkey.name), "success")
    return json_response({"passkey": passkey.uuid, "redirect": url_for("me.index", _anchor="passkeys")}, 201)


# The account page's forms ---------------------------------------------------------------------


def _back():
    return redirect(url_for("me.index", _anchor="passkeys"))


@bp.post("/<passkey_uuid>/rename")
@login_required
def rename(passkey_uuid: str):
    form = PasskeyNameForm()
    if not form.validate_on_submit():
        flash(_("A passkey’s name must have 1 to %(count)d characters.", count=MAX_NAME_LENGTH), "error")
        return _back()
    try:
        credentials.rename(_me(), passkey_uuid, form.name.data)
    except PasskeyError:
        raise NotFound() from None
    db.session.commit()
    flash(_("Passkey renamed."), "success")
    return _back()


@bp.post("/<passkey_uuid>/remove")
@login_required
@reauth_required
def remove(passkey_uuid: str):
    try:
        turned_off = credentials.remove(_me(), passkey_uuid)
    except PasskeyError:
        raise NotFound() from None
    db.session.commit()
    flash(_("Passkey removed. It can no longer sign in here."), "success")
    if turned_off:
        flash(_("That was your last passkey, so “passkey only” is off: your password signs you in again."), "info")
    return _back()


@bp.post("/only")
@login_required
@reauth_required
def passkey_only():
    """Turn password sign-in off for me (passkey only), or back on."""
    on = request.form.get("on") == "1"
    try:
        credentials.set_passkey_only(_me(), on)
    except PasskeyError as error:
        flash(str(REASONS[error.reason]), "error")
        return _back()
    db.session.commit()
    if on:
        flash(_("Passkey only: your password no longer signs you in. Keep a second passkey in case you lose one."),
              "success")
    else:
        flash(_("Your password signs you in again."), "success")
    return _back()
