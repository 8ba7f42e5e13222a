"""Sign-in, sign-out, the first-run set-up and the language choice."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.exceptions import NotFound

from webauth import audit, proxy_auth, settings, users
from webauth.auth_session import current_session, recently_authenticated, sign_in, sign_out
from webauth.extensions import db, limiter
from webauth.forms import LoginForm, ReauthForm, SetupForm
from webauth.keys import keyring
from webauth.models import utcnow
from webauth.passkeys import credentials as passkeys
from webauth.views.casdoor import end_session_page
from webauth.views.common import safe_next
from webauth.views.signin_limits import limit_sign_in, remember_browser

bp = Blueprint("auth", __name__)
bp.add_app_template_global(settings.local_login_enabled)


def _login_limit() -> str:
    return current_app.config["WEBAUTH_LOGIN_RATE_LIMIT"]


SETUP_EXEMPT = {
    "auth.setup", "auth.language", "static", "pwa.manifest", "pwa.service_worker", "ops.healthz", "ops.scrape",
    "offline.page", "casdoor.login", "casdoor.callback", "casdoor_connect.link", "proxy_sign_on.continue_as",
}


@bp.before_app_request
def require_setup():
    """Until the first administrator exists, every page leads to the set-up page.

    Not when only Casdoor signs people in (WEBAUTH_LOCAL_LOGIN=0): the first Casdoor user
    comes in through the sign-in page, an administrator if Casdoor says so.
    """
    if request.endpoint in SETUP_EXEMPT or request.blueprint == "api":
        return None  # the API answers for itself: without users there is no token, so a 401
    if current_user.is_authenticated or not settings.local_login_enabled():
        return None
    if users.has_users():
        return None
    return redirect(url_for("auth.setup"))


@bp.route("/setup", methods=["GET", "POST"])
def setup():
    if users.has_users() or not settings.local_login_enabled():
        raise NotFound()
    form = SetupForm()
    if form.validate_on_submit():
        try:
            user = users.create_first_admin(form.username.data, form.password.data, keyring())
            db.session.commit()
        except users.UserError as error:
            getattr(form, error.field).errors.append(error.message)
        except users.SetupAlreadyDone:
            # Another set-up request made the administrator a moment ago; this one made nobody.
            flash(_("The administrator was created a moment ago, from another request. Sign in."), "error")
            return redirect(url_for("auth.login"))
        else:
            response = redirect(url_for("accounts.new"))
            sign_in(user, "password", reauthenticated_at=utcnow())
            flash(_("Welcome! Add your first account."), "success")
            return remember_browser(response, user.username)
    status = 422 if form.errors else 200
    return render_template("auth/setup.html", form=form), status


@bp.route("/login", methods=["GET", "POST"])
@limit_sign_in
def login():
    if current_user.is_authenticated:
        return redirect(url_for("codes.index"))
    form = LoginForm()
    status = 200
    if request.method == "POST" and not settings.local_login_enabled():
        return render_template("auth/login.html", form=form), 403
    if form.validate_on_submit():
        user = users.authenticate(form.username.data, form.password.data)
        if user is not None and not user.disabled and not user.passkey_only:
            sign_in(user, "password", reauthenticated_at=utcnow())
            return remember_browser(redirect(safe_next(request.args.get("next"))), user.username)
        reason = "bad-credentials" if user is None else "disabled" if user.disabled else "passkey-only"
        audit.record("signin.failure", user=user, username=form.username.data[:255], details={"reason": reason})
        db.session.commit()
        if reason == "passkey-only":
            # Said only to whoever knows the password: this account signs in with a passkey alone.
            form.password.errors.append(_("This account signs in with a passkey only. Use “Sign in with a passkey”."))
        else:
            form.password.errors.append(_("Wrong username or password."))
        status = 401
    elif form.errors:
        status = 422
    return render_template("auth/login.html", form=form), status


@bp.route("/reauth", methods=["GET", "POST"])
@login_required
@limiter.limit(_login_limit, methods=["POST"])
@limiter.limit(_login_limit, methods=["POST"], key_func=lambda: f"reauth-user:{current_user.get_id()}")
def reauth():
    """Confirm the password before revealing or exporting secrets; then on to `next`.

    Without a script the form's page stays in the history before what it led to. Back comes to
    this address again once the password is confirmed, and is then sent on to `back`, the page
    before the form (reauth_required), so Back from a revealed secret shows the account, never
    the password form again. Success is a 303 (POST/redirect/GET): the secret's page is fetched
    with GET, so neither Back nor a reload posts the password again.
    """
    back = request.args.get("back")
    if request.method == "GET" and back and recently_authenticated():
        return redirect(safe_next(back), 303)
    form = ReauthForm()
    status = 200
    if form.validate_on_submit():
        if users.verify_password(current_user, form.password.data):
            users.mark_reauthenticated(current_session())
            audit.record("reauth.success", user=current_user)
            db.session.commit()
            target = safe_next(request.args.get("next"))
            if request.accept_mimetypes.best == "application/json":
                # static/js/safe-actions.js goes there in this page's place in the history, so
                # that Back from what was revealed skips "Confirm it is you".
                return {"location": target}
            return redirect(target, 303)
        audit.record("reauth.failure", user=current_user)
        db.session.commit()
        form.password.errors.append(_("Wrong password."))
        status = 401
    elif form.errors:
        status = 422
    has_passkeys = passkeys.passkey_count(current_user) > 0
    cancel = safe_next(back) if back else None
    return render_template("auth/reauth.html", form=form, has_passkeys=has_passkeys, cancel=cancel), status


@bp.post("/logout")
@login_required
def logout():
    casdoor_page = end_session_page(current_user)
    proxy_exit = proxy_auth.logout_url(current_session())
    sign_out()
    if proxy_exit is not None:
        return redirect(proxy_exit)
    if casdoor_page is not None:
        return casdoor_page()
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.post("/language")
def language():
    choice = request.form.get("locale", "")
    if choice not in current_app.config["WEBAUTH_LANGUAGES"]:
        return redirect(url_for("codes.index"))
    session["locale"] = choice
    if current_user.is_authenticated:
        current_user.locale = choice
        db.session.commit()
    return redirect(safe_next(request.form.get("next")))
