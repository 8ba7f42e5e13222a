"""Single sign-on from the proxy: "Continue as NAME" on the sign-in page (see proxy_auth.py)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.exceptions import NotFound

from webauth import proxy_auth
from webauth.auth_session import PROXY_PAUSED_KEY
from webauth.extensions import db
from webauth.views.common import safe_next

bp = Blueprint("proxy_sign_on", __name__)


@bp.post("/auth/proxy")
def continue_as():
    """Sign in as the user the trusted proxy names, after a sign-out paused the automatic sign-in."""
    if proxy_auth.configured() is None:
        raise NotFound()
    if current_user.is_authenticated:
        return redirect(url_for("codes.index"))
    name = proxy_auth.vouched_name()
    if name is None:
        flash(_("Single sign-on did not name you on this request. Sign in another way."), "error")
        return redirect(url_for("auth.login"))
    session.pop(PROXY_PAUSED_KEY, None)
    if not proxy_auth.sign_in_as(name):
        db.session.commit()  # the refusal's audit event
        return redirect(url_for("auth.login"))
    return redirect(safe_next(request.form.get("next")))
