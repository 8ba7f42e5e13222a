"""Casdoor in the browser: sign-in and its callback, re-authentication, sign-out with Casdoor's
end-session, and the sync status line. Connecting a user who signs in with a password, and
login links, are in views/casdoor_connect.py (they share the helpers here).

Casdoor must list one redirect URL for this app: `/auth/casdoor/callback`. It serves both
the return from the authorize page (with `code` and `state`) and the return from Casdoor's
end-session page (with `state` only), so the set-up has a single URL to get right.

A Casdoor sign-in counts as a password entry (for showing or exporting secrets) only when
the token says the user signed in at Casdoor within WEBAUTH_REAUTH_SECONDS (`auth_time`):
Casdoor signs a browser with an open Casdoor session in without asking anything.
"""

from __future__ import annotations

import secrets
from datetime import datetime

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
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from webauth import audit, users
from webauth.auth_session import current_session, sign_in
from webauth.casdoor import connect, oidc
from webauth.casdoor import status as casdoor_status
from webauth.casdoor import sync as casdoor_sync
from webauth.casdoor.oidc import Identity, SignInError, Tokens
from webauth.extensions import db, limiter
from webauth.keys import keyring
from webauth.models import User
from webauth.security_headers import policy_with_form_target
from webauth.sharing.teams import store_casdoor_groups
from webauth.vault import Vault
from webauth.views.common import page_or_fragment, safe_next, wants_fragment

bp = Blueprint("casdoor", __name__)

# How long a sign-in waits for a sync of the same user that is already running.
SIGN_IN_WAIT_SECONDS = 5.0
MANUAL_WAIT_SECONDS = 10.0
_LOGOUT_STATE = "casdoor_logout_state"


def require_casdoor() -> None:
    if not oidc.configured():
        abort(404)


def login_limit() -> str:
    return current_app.config["WEBAUTH_LOGIN_RATE_LIMIT"]


def refuse(error: SignInError, *, identity: Identity | None = None):
    """Record a refused Casdoor sign-in and show why, with the way back."""
    name = identity.casdoor_id if identity is not None else ""
    audit.record("signin.failure", username=name[:255], details={"method": "casdoor", "reason": error.reason})
    db.session.commit()
    return render_template("casdoor/error.html", message=error.message), error.status


def reauth_window() -> int:
    return current_app.config["WEBAUTH_REAUTH_SECONDS"]


# Signing in ------------------------------------------------------------------------------


@bp.get("/auth/casdoor/login")
def login():
    """Off to Casdoor's authorize page: a sign-in, or for a linked user new tokens or (`reauth=1`) a re-authentication.

    A signed-in user who is not linked yet connects from a POST after entering their
    password (casdoor_connect.start), never from a link to this GET: they are sent there.
    """
    require_casdoor()
    mode, state = "signin", {}
    if current_user.is_authenticated:
        if current_user.oidc_subject is None:
            return redirect(url_for("casdoor_connect.start"))
        mode = "reauth" if request.args.get("reauth") == "1" else "renew"
        state = {"user_id": current_user.id}
    try:
        return oidc.begin(
            url_for("casdoor.callback", _external=True),
            next_url=safe_next(request.args.get("next")),
            mode=mode,
            **state,
        )
    except SignInError as error:
        return refuse(error)


@bp.get("/auth/casdoor/callback")
@limiter.limit(login_limit)
def callback():
    require_casdoor()
    if "code" not in request.args and "error" not in request.args:
        return _after_end_session()
    flow = oidc.pending_flow() or {}
    mode = flow.get("mode")
    identity = None
    try:
        identity, tokens = oidc.finish()
        check_organization(identity)
        if mode in ("reauth", "renew"):
            return _renewed(identity, tokens, flow, reauth=mode == "reauth")
        if mode == "connect":
            require_flow_user(flow)
            return offer_connection(identity, tokens, source="casdoor")
        user = user_for(identity)
    except SignInError as error:
        return refuse(error, identity=identity)
    return signed_in(
        user,
        identity,
        tokens,
        "casdoor",
        flow.get("next_url") or url_for("codes.index"),
        reauthenticated_at=identity.fresh_authentication(reauth_window()),
    )


def check_organization(identity: Identity) -> None:
    organization = current_app.config["WEBAUTH_CASDOOR_ORGANIZATION"]
    if organization and identity.owner != organization:
        raise SignInError(
            _("Only users of the Casdoor organization %(organization)s may sign in here.", organization=organization),
            "organization",
            403,
        )


def require_flow_user(flow: dict) -> None:
    """The answer from Casdoor comes back to the signed-in user who asked for it, in the same session."""
    if not current_user.is_authenticated or flow.get("user_id") != current_user.id:
        raise SignInError(
            _("This answer from Casdoor belongs to another sign-in. Start again from your code list."),
            "flow-user",
            403,
        )


def user_for(identity: Identity) -> User:
    """The user of this identity, found or new; its name and role as Casdoor says."""
    user = users.find_oidc_user(identity.issuer, identity.subject)
    if user is None:
        user = users.create_casdoor_user(
            identity.issuer,
            identity.subject,
            identity.casdoor_id,
            identity.display_name,
            keyring(),
            is_admin=users.casdoor_grants_admin(identity.owner, identity.is_admin),
        )
    if user.disabled:
        raise SignInError(_("This account is disabled; ask an administrator."), "disabled", 403)
    users.apply_casdoor_claims(
        user, identity.owner, identity.casdoor_id, identity.display_name, is_admin=identity.is_admin
    )
    if identity.groups is not None:  # the groups accounts are shared with follow each sign-in
        store_casdoor_groups(user, list(identity.groups))
    return user


def signed_in(
    user: User, identity: Identity, tokens: Tokens, method: str, next_url: str, *, reauthenticated_at: datetime | None
):
    """Store the tokens, start the session, sync once, and go on."""
    casdoor_sync.connect(user, Vault(user, keyring()), identity.casdoor_id, tokens)
    db.session.commit()
    sign_in(user, method, reauthenticated_at=reauthenticated_at)
    report = casdoor_sync.sync_user(user, casdoor_sync.Trigger.SIGN_IN, force=True, wait=SIGN_IN_WAIT_SECONDS)
    if report.error is not None:
        flash(_("Signed in, but the sync with Casdoor failed: %(reason)s", reason=report.message), "error")
    return redirect(safe_next(next_url))


def _renewed(identity: Identity, tokens: Tokens, flow: dict, *, reauth: bool):
    """A linked user came back from Casdoor: keep the new tokens; a recent `auth_time` is a password entry.

    For a re-authentication (`reauth`), an `auth_time` that is missing or older than the
    re-authentication window is refused: Casdoor may have answered from an open session
    without asking for anything, whatever `prompt=login` said.
    """
    require_flow_user(flow)
    if (current_user.oidc_issuer, current_user.oidc_subject) != (identity.issuer, identity.subject):
        raise SignInError(_("You confirmed as another Casdoor user than the one signed in here."), "reauth-user", 403)
    record = current_session()
    if record is None:
        abort(401)
    fresh = identity.fresh_authentication(reauth_window())
    if reauth and fresh is None:
        raise SignInError(
            _(
                "Casdoor did not ask for your password just now (it signed you in from an earlier session), "
                "so this does not confirm it is you. Sign out of Casdoor and try again, or enter your password here."
            ),
            "reauth-no-auth-time" if identity.authenticated_at is None else "reauth-stale",
            401,
        )
    user = db.session.get(User, current_user.id)
    casdoor_sync.connect(user, Vault(user, keyring()), identity.casdoor_id, tokens)
    if fresh is not None:
        audit.record("reauth.success", user=user, details={"method": "casdoor"})
        users.mark_reauthenticated(record, at=fresh)
    db.session.commit()
    return redirect(safe_next(flow.get("next_url")))


def offer_connection(identity: Identity, tokens: Tokens, *, source: str):
    """Offer the Casdoor account to the signed-in user, who confirms on a page that names it."""
    if current_user.oidc_subject is not None:
        raise SignInError(_("Your account here is connected to Casdoor already."), "already-linked", 409)
    if users.find_oidc_user(identity.issuer, identity.subject) is not None:
        raise SignInError(_("This Casdoor account is already linked to another user here."), "linked-elsewhere", 409)
    record = current_session()
    if record is None:
        abort(401)
    user = db.session.get(User, current_user.id)
    made = connect.offer(Vault(user, keyring()), record, identity, tokens, source=source)
    db.session.commit()
    return redirect(url_for("casdoor_connect.confirm", offer_uuid=made.uuid))


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
    require_casdoor()
    return _status_fragment()


@bp.post("/casdoor/sync")
@login_required
def sync_now():
    """ "Sync now" (forced), or the page's periodic sync (`auto=1`: backoff and recent syncs respected)."""
    require_casdoor()
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
    require_casdoor()
    casdoor_status.dismiss_conflicts(db.session.get(User, current_user.id))
    db.session.commit()
    if wants_fragment():
        return _status_fragment()
    return redirect(url_for("codes.index"))
