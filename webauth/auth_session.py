"""The bridge between Flask-Login and the server-side session records of `users`."""

from __future__ import annotations

from flask import Flask, current_app, g, session
from flask_login import login_user, logout_user

from webauth import users
from webauth.extensions import db, login_manager
from webauth.models import SessionRecord, User

SESSION_TOKEN_KEY = "sid"  # noqa: S105 - the name of a session field, not a secret


def init_app(app: Flask) -> None:
    login_manager.user_loader(_load_user)


def _load_user(user_id: str) -> User | None:
    record = users.session_record(session.get(SESSION_TOKEN_KEY))
    if record is None or str(record.user_id) != user_id:
        return None
    g.session_record = record
    return db.session.get(User, record.user_id)


def current_session() -> SessionRecord | None:
    return g.get("session_record")


def sign_in(user: User, method: str) -> None:
    """Start a fresh session: the old cookie's contents (and any fixed session id) are dropped."""
    locale = session.get("locale")
    session.clear()
    token = users.start_session(user, method, current_app.config["PERMANENT_SESSION_LIFETIME"])
    session[SESSION_TOKEN_KEY] = token
    if locale:
        session["locale"] = locale
    session.permanent = True
    login_user(user)


def sign_out() -> None:
    users.end_session(session.get(SESSION_TOKEN_KEY))
    logout_user()
    session.clear()
