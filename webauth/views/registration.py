"""Open registration: anyone may create a local account, when the settings page allows it."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.exceptions import NotFound

from webauth import settings, users
from webauth.auth_session import sign_in
from webauth.extensions import db, limiter
from webauth.forms import SetupForm
from webauth.keys import keyring
from webauth.models import utcnow
from webauth.views.signin_limits import remember_browser

bp = Blueprint("registration", __name__)


def _limit() -> str:
    return current_app.config["WEBAUTH_LOGIN_RATE_LIMIT"]


@bp.app_template_global()
def registration_open() -> bool:
    return settings.registration_open()


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(_limit, methods=["POST"])
def register():
    """A closed registration is no page at all (404), so nobody guesses at it."""
    if not settings.registration_open():
        raise NotFound()
    if current_user.is_authenticated:
        return redirect(url_for("codes.index"))
    form = SetupForm()
    if form.validate_on_submit():
        try:
            user = users.create_local_user(form.username.data, form.password.data, keyring(), self_service=True)
        except users.UserError as error:
            getattr(form, error.field).errors.append(error.message)
        else:
            db.session.commit()
            sign_in(user, "password", reauthenticated_at=utcnow())
            flash(_("Welcome! Add your first account."), "success")
            return remember_browser(redirect(url_for("accounts.new")), user.username)
    status = 422 if form.errors else 200
    return render_template("auth/register.html", form=form), status
