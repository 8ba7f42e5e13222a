"""Each user's own account page: passkeys, sign-ins and sessions, the password; and the idle lock's "lock now"."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, jsonify, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required
from werkzeug.exceptions import NotFound as HTTPNotFound

from webauth import admin, audit, settings, users
from webauth.auth_session import current_session, recently_authenticated, sign_out
from webauth.extensions import db, limiter
from webauth.forms import ChangePasswordForm
from webauth.passkeys import credentials as passkeys
from webauth.views.common import page_or_fragment, safe_next

bp = Blueprint("me", __name__, url_prefix="/me")

# What a user whose password was reset may still reach before choosing a new one.
OPEN_WHILE_CHANGE_DUE = {
    "me.password",
    "sharelinks.page",
    "sharelinks.code",
    "me.lock",
    "auth.logout",
    "auth.language",
    "casdoor.logout",
    "static",
    "pwa.manifest",
    "pwa.service_worker",
    "ops.healthz",
    "ops.scrape",
    "offline.page",
}


@bp.before_app_request
def require_password_change():
    """After an administrator's reset, nothing but the change-password page until the user has changed it.

    Plain requests are sent there; htmx requests get `HX-Redirect` to it, and the offline
    copy's JSON requests a 403 they can read, so no fragment or JSON is answered by a page.
    """
    if request.endpoint in OPEN_WHILE_CHANGE_DUE or not current_user.is_authenticated:
        return None
    if not current_user.must_change_password:
        return None
    target = url_for("me.password")
    if request.headers.get("HX-Request") == "true":
        response = make_response("", 401)
        response.headers["HX-Redirect"] = target
        return response
    if request.accept_mimetypes.best == "application/json" or request.is_json:
        return jsonify(error="password_change_required", location=target), 403
    return redirect(target)


def _change_limit() -> str:
    return current_app.config["WEBAUTH_LOGIN_RATE_LIMIT"]


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


@bp.route("/password", methods=["GET", "POST"])
@login_required
@limiter.limit(_change_limit, methods=["POST"], key_func=lambda: f"password-user:{current_user.get_id()}")
def password():
    """Change my password: the current one first; my other sessions end when I ask.

    A user without a password here (Casdoor or the proxy signs them in) is told where their
    password lives instead of being shown a form they could not use.
    """
    me = current_user._get_current_object()
    form = ChangePasswordForm()
    status = 200
    if not users.has_local_password(me):
        if request.method == "POST":
            status = 409
        return render_template("me/password.html", form=None, forced=False, **_password_page_globals()), status
    if form.validate_on_submit():
        record = current_session()
        try:
            ended = users.change_password(
                me,
                form.current_password.data,
                form.password.data,
                keep_session=getattr(record, "id", None),
                end_others=form.end_others.data,
            )
        except users.UserError as error:
            if error.field == "current_password":
                audit.record("user.password.change_failure", user=me)
                db.session.commit()
                status = 401
            else:
                status = 422
            getattr(form, error.field).errors.append(error.message)
        else:
            if record is not None:
                users.mark_reauthenticated(record)
            db.session.commit()
            message = _("Your password is changed.")
            if ended:
                message += " " + ngettext(
                    "%(num)d other session is signed out.", "%(num)d other sessions are signed out.", ended
                )
            flash(message, "success")
            return redirect(url_for("me.index"))
    elif form.errors:
        status = 422
    return render_template(
        "me/password.html", form=form, forced=me.must_change_password, **_password_page_globals()
    ), status


def _password_page_globals() -> dict:
    casdoor_url = current_app.config.get("WEBAUTH_CASDOOR_URL") or ""
    return {
        "min_password_length": users.MIN_PASSWORD_LENGTH,
        "casdoor_account_url": f"{casdoor_url}/account" if casdoor_url else "",
    }


@bp.post("/sessions/<int:session_id>/revoke")
@login_required
def revoke(session_id: int):
    """End one of my sessions; ending the one in use signs out here."""
    me = current_user._get_current_object()
    try:
        admin.revoke_session(me, session_id, event="session.revoke")
    except admin.NotFound:
        raise HTTPNotFound() from None
    db.session.commit()
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
    db.session.commit()
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
            db.session.commit()
        sign_out()
    flash(_("Locked after a while without activity. Sign in again to see your codes."), "info")
    return redirect(url_for("auth.login", next=safe_next(request.form.get("next"))))
