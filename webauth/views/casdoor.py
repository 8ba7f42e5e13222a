"""Casdoor in the browser: sign-in and its callback, re-authentication, connecting an existing
user, the login-link page, sign-out with Casdoor's end-session, and the sync status line.

Casdoor must list one redirect URL for this app: `/auth/casdoor/callback`. It serves both
the return from the authorize page (with `code` and `state`) and the return from Casdoor's
end-session page (with `state` only), so the set-up has a single URL to get right.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from werkzeug.wrappers import Response
from wtforms import TextAreaField
from wtforms.validators import Length, Optional

from webauth import audit, users
from webauth.auth_session import current_session, sign_in
from webauth.casdoor import oidc
from webauth.casdoor import status as casdoor_status
from webauth.casdoor import sync as casdoor_sync
from webauth.casdoor.client import CasdoorError
from webauth.casdoor.oidc import Identity, SignInError, Tokens
from webauth.extensions import db, limiter
from webauth.keys import keyring
from webauth.models import User
from webauth.security_headers import policy_with_form_target
from webauth.vault import Vault
from webauth.views.common import page_or_fragment, safe_next, wants_fragment

bp = Blueprint("casdoor", __name__)

# How long a sign-in waits for a sync of the same user that is already running.
SIGN_IN_WAIT_SECONDS = 5.0
MANUAL_WAIT_SECONDS = 10.0
_LOGOUT_STATE = "casdoor_logout_state"
MAX_LINK_LENGTH = 8192


class LoginLinkForm(FlaskForm):
    link = TextAreaField(_l("Login link"), validators=[Optional(), Length(max=MAX_LINK_LENGTH)])
    image = FileField(_l("Or a picture of its QR code"))


def _require_casdoor() -> None:
    if not oidc.configured():
        abort(404)


def _login_limit() -> str:
    return current_app.config["WEBAUTH_LOGIN_RATE_LIMIT"]


def _refuse(error: SignInError, *, identity: Identity | None = None):
    """Record a refused Casdoor sign-in and show why, with the way back."""
    name = identity.casdoor_id if identity is not None else ""
    audit.record("signin.failure", username=name[:255], details={"method": "casdoor", "reason": error.reason})
    db.session.commit()
    return render_template("casdoor/error.html", message=error.message), error.status


# Signing in ------------------------------------------------------------------------------


@bp.get("/auth/casdoor/login")
def login():
    """Off to Casdoor's authorize page. `reauth=1` proves a recent sign-in; `connect=1` links this user."""
    _require_casdoor()
    mode = "signin"
    if current_user.is_authenticated:
        if request.args.get("reauth") == "1" and current_user.oidc_subject is not None:
            mode = "reauth"
        elif request.args.get("connect") == "1" and current_user.oidc_subject is None:
            mode = "connect"
    try:
        return oidc.begin(
            url_for("casdoor.callback", _external=True),
            next_url=safe_next(request.args.get("next")),
            mode=mode,
        )
    except SignInError as error:
        return _refuse(error)


@bp.get("/auth/casdoor/callback")
@limiter.limit(_login_limit)
def callback():
    _require_casdoor()
    if "code" not in request.args and "error" not in request.args:
        return _after_end_session()
    flow = oidc.pending_flow() or {}
    identity = None
    try:
        identity, tokens = oidc.finish()
        _check_organization(identity)
        if flow.get("mode") == "reauth":
            return _reauthenticated(identity, tokens, flow)
        user = _user_for(identity, connect=flow.get("mode") == "connect")
    except SignInError as error:
        return _refuse(error, identity=identity)
    return _signed_in(user, identity, tokens, "casdoor", flow.get("next_url") or url_for("codes.index"))


def _check_organization(identity: Identity) -> None:
    organization = current_app.config["WEBAUTH_CASDOOR_ORGANIZATION"]
    if organization and identity.owner != organization:
        raise SignInError(
            _("Only users of the Casdoor organization %(organization)s may sign in here.", organization=organization),
            "organization",
            403,
        )


def _user_for(identity: Identity, *, connect: bool) -> User:
    """The user of this identity: found, linked to the signed-in user, or new; its name and role as Casdoor says."""
    user = users.find_oidc_user(identity.issuer, identity.subject)
    if connect and current_user.is_authenticated:
        if user is not None and user.id != current_user.id:
            raise SignInError(
                _("This Casdoor account is already linked to another user here."), "linked-elsewhere", 409
            )
        user = db.session.get(User, current_user.id)
        users.link_oidc(user, identity.issuer, identity.subject)
    elif user is None:
        user = users.create_casdoor_user(
            identity.issuer,
            identity.subject,
            identity.casdoor_id,
            identity.display_name,
            keyring(),
            is_admin=identity.is_admin,
        )
    if user.disabled:
        raise SignInError(_("This account is disabled; ask an administrator."), "disabled", 403)
    users.apply_casdoor_claims(user, identity.casdoor_id, identity.display_name, is_admin=identity.is_admin)
    return user


def _signed_in(user: User, identity: Identity, tokens: Tokens, method: str, next_url: str):
    """Store the tokens, start the session, sync once, and go on."""
    casdoor_sync.connect(user, Vault(user, keyring()), identity.casdoor_id, tokens)
    db.session.commit()
    sign_in(user, method)
    report = casdoor_sync.sync_user(user, casdoor_sync.Trigger.SIGN_IN, force=True, wait=SIGN_IN_WAIT_SECONDS)
    if report.error is not None:
        flash(_("Signed in, but the sync with Casdoor failed: %(reason)s", reason=report.message), "error")
    return redirect(safe_next(next_url))


def _reauthenticated(identity: Identity, tokens: Tokens, flow: dict):
    if not current_user.is_authenticated or (current_user.oidc_issuer, current_user.oidc_subject) != (
        identity.issuer,
        identity.subject,
    ):
        raise SignInError(_("You confirmed as another Casdoor user than the one signed in here."), "reauth-user", 403)
    record = current_session()
    if record is None:
        abort(401)
    user = db.session.get(User, current_user.id)
    casdoor_sync.connect(user, Vault(user, keyring()), identity.casdoor_id, tokens)
    users.mark_reauthenticated(record)
    audit.record("reauth.success", user=user, details={"method": "casdoor"})
    db.session.commit()
    return redirect(safe_next(flow.get("next_url")))


# Login links -----------------------------------------------------------------------------


@bp.route("/auth/casdoor/link", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login_link():
    """Paste the `casdoor-authenticator://login?...` link, or upload a picture of its QR code."""
    _require_casdoor()
    form = LoginLinkForm()
    status = 200
    if form.validate_on_submit():
        identity = None
        try:
            link = oidc.parse_login_link(_link_text(form))
            configured = oidc.origin_of(current_app.config["WEBAUTH_CASDOOR_URL"])
            if oidc.origin_of(link.server_url) != configured:
                raise SignInError(
                    _(
                        "This login link is for another Casdoor server (%(server)s); this app uses %(ours)s.",
                        server=oidc.origin_of(link.server_url)[:200],
                        ours=configured,
                    ),
                    "link-server",
                    400,
                )
            identity, tokens = _verify_link_token(link.access_token)
            _check_organization(identity)
            connect = current_user.is_authenticated and current_user.oidc_subject is None
            user = _user_for(identity, connect=connect)
        except SignInError as error:
            name = identity.casdoor_id if identity is not None else ""
            audit.record(
                "signin.failure", username=name[:255], details={"method": "casdoor-link", "reason": error.reason}
            )
            db.session.commit()
            form.link.errors = [*form.link.errors, error.message]
            status = error.status
        else:
            return _signed_in(user, identity, tokens, "casdoor-link", request.args.get("next") or "")
    elif form.errors:
        status = 422
    return render_template("casdoor/link.html", form=form), status


def _link_text(form: LoginLinkForm) -> str:
    """The pasted link, or the text of the QR code in the uploaded picture."""
    if form.link.data and form.link.data.strip():
        return form.link.data
    upload = form.image.data
    if not upload:
        raise SignInError(_("Paste the login link, or choose a picture of its QR code."), "link-missing", 422)
    from webauth.transfer.base import TransferError
    from webauth.transfer.qr_image import decode_qr_texts

    try:
        texts = decode_qr_texts(upload.read())
    except TransferError as error:
        raise SignInError(str(error), "link-image", 422) from None
    for text in texts:
        if text.lower().startswith(oidc.LOGIN_LINK_SCHEME + "://"):
            return text
    raise SignInError(_("The picture holds no Casdoor login link."), "link-image", 422)


def _verify_link_token(token: str) -> tuple[Identity, Tokens]:
    """Ask Casdoor who the token belongs to (/api/userinfo, then the user), and check its signature."""
    try:
        with casdoor_sync.make_client() as client:
            info = client.userinfo(token)
            account = client.get_account(token)
    except CasdoorError as error:
        raise SignInError(
            _("Casdoor did not accept this login link: %(reason)s", reason=error.message), "link-token", 400
        ) from None
    expected_issuer = oidc.issuer()
    if info.get("iss") not in (None, expected_issuer):
        raise SignInError(
            _("The login link was issued by another server than the configured Casdoor."), "link-iss", 400
        )
    claims = oidc.verify_access_token(token)
    subject = info["sub"]
    if claims.get("sub") != subject or account.get("id") != subject:
        raise SignInError(_("Casdoor's answers about this login link do not agree."), "link-subject", 400)
    identity = Identity(
        issuer=expected_issuer,
        subject=subject,
        owner=str(account["owner"]),
        name=str(account["name"]),
        display_name=str(account.get("displayName") or account["name"]),
        is_admin=account.get("isAdmin") is True,
    )
    expires = claims.get("exp")
    expires_at = datetime.fromtimestamp(expires, UTC) if isinstance(expires, int | float) else None
    if expires_at is None:
        raise SignInError(_("The access token in this login link is not valid."), "link-exp", 400)
    # A login link carries no refresh token: the sync works until the access token expires.
    return identity, Tokens(token, None, expires_at)


# Signing out ------------------------------------------------------------------------------


def end_session_page(user: User):
    """For auth.logout: a callable giving the page that ends the Casdoor session too, or None.

    Called before the local sign-out (it needs the user's stored token as `id_token_hint`);
    the stored tokens are forgotten, so background syncs stop until the next sign-in. The
    hint travels in a POST body, never in a URL; the page's CSP allows that one form target.
    """
    if not oidc.configured() or user.oidc_subject is None:
        return None
    link = casdoor_sync.link_of(user)
    if link is None:
        return None
    hint = casdoor_sync.access_token_of(Vault(user, keyring()), link)
    casdoor_sync.forget_tokens(link)
    db.session.commit()
    endpoint = oidc.end_session_endpoint()
    if hint is None or endpoint is None:
        return None

    def page() -> Response:
        state = secrets.token_urlsafe(24)
        session[_LOGOUT_STATE] = state
        html = render_template(
            "casdoor/end_session.html",
            endpoint=endpoint,
            hint=hint,
            state=state,
            redirect_uri=url_for("casdoor.callback", _external=True),
        )
        response = make_response(html)
        target = oidc.origin_of(endpoint)
        response.headers["Content-Security-Policy"] = policy_with_form_target(target)
        response.headers["Cache-Control"] = "no-store"
        return response

    return page


def _after_end_session():
    """Back from Casdoor's end-session page (`state` only)."""
    expected = session.pop(_LOGOUT_STATE, None)
    given = request.args.get("state", "")
    if not expected or not secrets.compare_digest(expected, given):
        return render_template(
            "casdoor/error.html", message=_("This sign-out answer does not belong to this browser.")
        ), 400
    flash(_("You are signed out of webauth and of Casdoor."), "info")
    return redirect(url_for("auth.login"))


# Sync status and "Sync now" -----------------------------------------------------------------


def _status_fragment():
    """The status line, which pages load and refresh with htmx."""
    return page_or_fragment(None, "casdoor/status.html")


@bp.get("/casdoor/status")
@login_required
def status():
    _require_casdoor()
    return _status_fragment()


@bp.post("/casdoor/sync")
@login_required
def sync_now():
    """ "Sync now" (forced), or the page's periodic sync (`auto=1`: backoff and recent syncs respected)."""
    _require_casdoor()
    periodic = request.form.get("auto") == "1"
    user = db.session.get(User, current_user.id)
    report = casdoor_sync.sync_user(
        user,
        casdoor_sync.Trigger.PERIODIC if periodic else casdoor_sync.Trigger.MANUAL,
        force=not periodic,
        wait=0.0 if periodic else MANUAL_WAIT_SECONDS,
    )
    if not wants_fragment():
        if report.outcome is not casdoor_status.Outcome.NOT_LINKED:
            flash(report.message, "success" if report.ok else "error")
        return redirect(url_for("codes.index"))
    response = _status_fragment()
    if report.changed_local:
        response.headers["HX-Trigger"] = "webauth:vault-changed"
    return response


@bp.post("/casdoor/conflicts/dismiss")
@login_required
def dismiss_conflicts():
    _require_casdoor()
    casdoor_status.dismiss_conflicts(db.session.get(User, current_user.id))
    if wants_fragment():
        return _status_fragment()
    return redirect(url_for("codes.index"))
