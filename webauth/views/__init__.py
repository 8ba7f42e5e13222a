"""Blueprints by feature, and the error handlers they share (helpers in `views/common.py`)."""

from __future__ import annotations

from flask import Flask, current_app, request
from flask_babel import format_number, get_locale
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from webauth import languages
from webauth.vault import AccountNotFound
from webauth.views.api.problems import is_api_request
from webauth.views.common import group_code, otp_type_label, render_error


def register_blueprints(app: Flask) -> None:
    from webauth.views import (  # account_page, admin_teams: routes that join a blueprint before it is registered
        account_page,  # noqa: F401
        accounts,
        admin,
        admin_sharing,  # noqa: F401  (its routes join the admin blueprint, like account_page's)
        admin_teams,  # noqa: F401  (its routes join the admin blueprint, like account_page's)
        auth,
        backups,
        casdoor,
        casdoor_connect,
        codes,
        icons,
        me,
        offline,
        ops,
        passkeys,
        proxy,
        pwa,
        registration,
        sharelinks,
        sharing,
        tokens,
    )
    from webauth.views import transfer as transfer_views
    from webauth.views.api import routes as api_routes

    modules = (
        auth, codes, accounts, pwa, admin, me, tokens, registration, ops, offline, passkeys, casdoor,
        casdoor_connect, icons, backups, sharelinks, sharing,
    )
    for module in (*modules, proxy):
        app.register_blueprint(module.bp)
    app.register_blueprint(transfer_views.bp)
    app.register_blueprint(api_routes.bp)
    app.add_template_filter(group_code)
    app.add_template_filter(otp_type_label)
    app.add_template_global(get_locale)

    @app.before_request
    def form_messages_in_the_pages_language() -> None:
        # Flask-WTF keeps the catalog it loads for a request here; the right one is put first.
        request.wtforms_translations = languages.wtforms_translations(get_locale())

    @app.template_filter("number")
    def number(value: int) -> str:
        """A count as the page's locale writes it (1,234 / 1.234 / 1 234)."""
        return format_number(value)

    @app.template_filter("bytes")
    def byte_size(value: int) -> str:
        return languages.byte_size(value, get_locale())

    @app.template_global()
    def page_lang() -> str:
        """The page's `lang`: the request's locale as a BCP 47 tag (zh_Hans -> zh-Hans)."""
        return languages.html_lang(get_locale())

    @app.template_global()
    def page_dir() -> str:
        """The page's `dir`: rtl for Arabic, ltr otherwise."""
        return languages.direction(get_locale())

    @app.template_global()
    def language_choices() -> list[tuple[str, str]]:
        """The language picker's options: each offered locale with its native name."""
        return languages.choices(current_app.config["WEBAUTH_LANGUAGES"])

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        return render_error(400, _("The form expired or was sent from another site. Reload the page and try again."))

    @app.errorhandler(AccountNotFound)
    def account_not_found(error: AccountNotFound):
        """Another user's account is the same as no account: 404, from every view."""
        return render_error(404)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        """Error pages for 4xx; the API answers every error, a 500 too, as problem details."""
        if error.code is not None and error.code >= 400 and is_api_request():
            headers = {name: value for name, value in error.get_headers() if name.lower() == "allow"}
            return render_error(error.code, headers=headers)
        if error.code is None or error.code < 400 or error.code >= 500:
            return error
        return render_error(error.code)
