"""Each user's own account page: passkeys, sign-ins and sessions; and the idle lock's "lock now"."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required
from werkzeug.exceptions import NotFound as HTTPNotFound

from webauth import admin, settings
from webauth.auth_session import current_session, recently_authenticated, sign_out
from webauth.passkeys import credentials as passkeys
from webauth.views.common import page_or_fragment, safe_next

bp = Blueprint("me", __name__, url_prefix="/me")


@bp.app_template_global()
def idle_lock_minutes() -> int:
    """For the page's idle-lock script; 0 when the lock is off."""
    limit = settings.idle_lock()
    return int(limit.total_seconds() // 60) if limit else 0


@bp.get("/")
@login_required
def index():
    me = current_user._get_current_object()
    history = admin.signin_history(me, request.args.get("page", 1, type=int))
    return page_or_fragment(
        "me/index.html",
        "partials/signin_history.html",
        history=history,
        history_endpoint="me.index",
        history_args={},
        sessions=admin.active_sessions(me),
        current_session_id=getattr(current_session(), "id", None),
        can_have_passkeys=passkeys.can_have_passkeys(me),
        passkeys=passkeys.user_passkeys(me),
        max_passkeys=passkeys.MAX_PASSKEYS,
        fresh=recently_authenticated(),
    )


@bp.post("/sessions/<int:session_id>/revoke")
@login_required
def revoke(session_id: int):
    """End one of my sessions; ending the one in use signs out here."""
    me = current_user._get_current_object()
    try:
        admin.revoke_session(me, session_id, event="session.revoke")
    except admin.NotFound:
        raise HTTPNotFound() from None
    if session_id == getattr(current_session(), "id", None):
        sign_out()
        flash(_("You are signed out."), "info")
        return redirect(url_for("auth.login"))
    flash(_("The session is ended: that device is signed out."), "success")
    return redirect(url_for("me.index"))


@bp.post("/sessions/revoke-others")
@login_required
def revoke_others():
    ended = admin.revoke_sessions(
        current_user._get_current_object(), event="session.revoke_others", keep=getattr(current_session(), "id", None)
    )
    flash(ngettext("Ended %(num)d other session.", "Ended %(num)d other sessions.", ended), "success")
    return redirect(url_for("me.index"))


@bp.post("/lock")
def lock():
    """Sent by the idle-lock script: end this session, hide the codes, ask for a sign-in.

    Not `login_required`: when the server has already refused the idle session, the page
    still goes to the sign-in page with its way back, not to a `next` of this POST-only URL.
    """
    if current_user.is_authenticated:
        record = current_session()
        if record is not None:
            admin.revoke_session(current_user._get_current_object(), record.id, event="session.lock")
        sign_out()
    flash(_("Locked after a while without activity. Sign in again to see your codes."), "info")
    return redirect(url_for("auth.login", next=safe_next(request.form.get("next"))))
