"""webauth: a self-hosted, installable web authenticator for two-factor codes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, current_app, has_request_context, request, session
from flask_login import current_user
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from webauth import assets, keys, languages, security_headers, templating
from webauth.config import ROOT, instance_path, load_config
from webauth.extensions import babel, csrf, db, htmx, limiter, login_manager, migrate


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """The application factory: settings, extensions, blueprints, CLI."""
    config = dict(config or {})
    instance = Path(config.pop("INSTANCE_PATH", None) or instance_path())
    app = Flask(
        __name__,
        instance_path=str(instance),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.update(load_config(instance))
    app.config.update(config)

    if app.config["WEBAUTH_PROXY_HOPS"]:
        hops = app.config["WEBAUTH_PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)  # type: ignore[method-assign]

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    csrf.init_app(app)
    limiter.init_app(app)
    htmx.init_app(app)
    babel.init_app(app, locale_selector=_select_locale, default_translation_directories=str(ROOT / "translations"))
    assets.init_app(app)  # static files under content-hashed names, compressed ahead of time
    templating.init_app(app)  # after Babel: cheap strings and URLs for templates, see templating.py
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = None  # sessions are checked server-side on every request

    keys.init_app(app)

    from webauth import auth_session, casdoor, proxy_auth
    from webauth.cli import register_cli
    from webauth.views import register_blueprints

    auth_session.init_app(app)
    proxy_auth.init_app(app)  # before the blueprints: its sign-in precedes their checks
    register_blueprints(app)
    casdoor.init_app(app)
    register_cli(app)
    security_headers.init_app(app)
    return app


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    """WAL lets readers and one writer share the SQLite file across gunicorn workers."""
    if type(dbapi_connection).__module__ != "sqlite3":
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _select_locale() -> str | None:
    if not has_request_context():
        return None  # the CLI: Flask-Babel's default locale
    supported = current_app.config["WEBAUTH_LANGUAGES"]
    if current_user and current_user.is_authenticated and current_user.locale in supported:
        return current_user.locale
    chosen = session.get("locale")
    if chosen in supported:
        return chosen
    return languages.negotiate(request.accept_languages, supported)

