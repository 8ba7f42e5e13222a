"""Blueprints by feature, and the error pages they share."""

from __future__ import annotations

from flask import Flask, g, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from webauth.transfer.base import MAX_IMPORT_BYTES
from webauth.vault import Vault

ERROR_MESSAGES = {
    400: _l("The request could not be understood."),
    401: _l("Please sign in."),
    403: _l("You are not allowed to do that."),
    404: _l("There is nothing here."),
    405: _l("That action is not available here."),
    409: _l("That conflicts with what is already there."),
    413: _l("The upload is too large: a file may be at most %(mb)d MB.", mb=MAX_IMPORT_BYTES // 2**20),
    422: _l("Some input is not valid."),
    429: _l("Too many attempts. Wait a little and try again."),
}


def current_vault() -> Vault:
    """The signed-in user's vault for this request (its data key is unwrapped once)."""
    if "vault" not in g:
        from webauth import keyring

        # The user itself, not the proxy: a vault reads `user.id` for every secret it opens.
        g.vault = Vault(current_user._get_current_object(), keyring())
    return g.vault


def render_error(status: int, message: str | None = None):
    text = message or str(ERROR_MESSAGES.get(status, _("Something went wrong.")))
    template = "partials/error.html" if request.htmx else "error.html"
    return render_template(template, status=status, message=text), status


def group_code(code: str | None) -> str:
    """Digits in groups that are easy to read aloud: 123 456, 1234 5678, 123 4567."""
    if not code or not code.isdigit() or len(code) < 6:
        return code or ""
    split = len(code) // 2
    return f"{code[:split]} {code[split:]}"


def label_hue(label: str) -> int:
    """One of twelve avatar colours, stable for a given label."""
    return sum(label.lower().encode()) % 12


def register_blueprints(app: Flask) -> None:
    from webauth.views import accounts, admin, auth, casdoor, codes, icons, me, offline, ops, proxy, pwa, registration
    from webauth.views import transfer as transfer_views

    for module in (auth, codes, accounts, pwa, admin, me, registration, ops, offline, casdoor, icons, proxy):
        app.register_blueprint(module.bp)
    app.register_blueprint(transfer_views.bp)
    app.add_template_filter(group_code)
    app.add_template_filter(label_hue, "hue")
    app.add_template_global(get_locale)

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        return render_error(400, _("The form expired or was sent from another site. Reload the page and try again."))

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if error.code is None or error.code < 400 or error.code >= 500:
            return error
        return render_error(error.code)
