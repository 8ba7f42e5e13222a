"""The bridge between Flask-Login and the server-side session records of `users`.

This is where a request's cookie and the session records meet, so it commits them itself:
a sign-in's record before the cookie names it, a sign-out's end before the cookie forgets
it, and the "last seen" touch of a request that may change nothing else (a GET commits
nothing). Everything else is the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Request, current_app, flash, g, make_response, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from flask_login import login_url, login_user, logout_user

from webauth import settings, users
from webauth.extensions import db, login_manager
from webauth.models import SessionRecord, User

SESSION_TOKEN_KEY = "sid"  # noqa: S105 - the name of a session field, not a secret
# The method of a session the reverse proxy's header started (proxy_auth.py).
PROXY_METHOD = "proxy"
# The API's paths: bearer tokens only, never the session cookie (views/api/guard.py).
COOKIELESS_PREFIX = "/api/"
# Set in the cookie after signing out of a proxy session: no automatic sign-in until asked for.
PROXY_PAUSED_KEY = "proxy_paused"


class CookielessSessions(SecureCookieSessionInterface):
    """The signed cookie session, except under `COOKIELESS_PREFIX`: there a request gets an
    empty session that is never saved, so the cookie is neither believed nor set."""

    def open_session(self, app: Flask, request: Request) -> SessionMixin | None:
        if request.path.startswith(COOKIELESS_PREFIX):
            return self.make_null_session(app)
        return super().open_session(app, request)


def init_app(app: Flask) -> None:
    app.session_interface = CookielessSessions()
    login_manager.user_loader(_load_user)
    login_manager.unauthorized_handler(_sign_in_first)


def _sign_in_first() -> Any:
    """A signed-out request goes to the sign-in page; an htmx one by `HX-Redirect`, as a whole page.

    Following a redirect, htmx would swap the sign-in page into the fragment it asked for (the
    list of codes, a clock tick), so it gets a 401 and the page to load, with the page it was
    on, not the fragment's URL, to come back to.
    """
    if request.headers.get("HX-Request") == "true":
        current = urlsplit(request.headers.get("HX-Current-URL", ""))
        back = current.path + (f"?{current.query}" if current.query else "") if current.path else None
        response = make_response("", 401)
        response.headers["HX-Redirect"] = login_url(login_manager.login_view, next_url=back)
        return response
    if login_manager.login_message:
        flash(login_manager.login_message, category=login_manager.login_message_category)
    return redirect(login_url(login_manager.login_view, next_url=request.url))


def _load_user(user_id: str) -> User | None:
    found = users.live_session(session.get(SESSION_TOKEN_KEY))
    if found is not None and db.session.is_modified(found[0]):
        db.session.commit()  # the "last seen" touch, whatever the request goes on to do
    if found is None or str(found[0].user_id) != user_id:
        return None
    g.session_record, user = found
    return user


def current_session() -> SessionRecord | None:
    return g.get("session_record")


def sign_in(user: User, method: str, *, reauthenticated_at: datetime | None, details: dict | None = None) -> None:
    """Start a fresh session: the old cookie's contents (and any fixed session id) are dropped.

    `reauthenticated_at`: when this sign-in proved a password (users.start_session), which
    every caller must decide: a sign-in is not a password entry by default. `details` go
    into the `signin.success` audit event.
    """
    locale = session.get("locale")
    session.clear()
    token = users.start_session(
        user, method, settings.session_lifetime(), reauthenticated_at=reauthenticated_at, details=details
    )
    db.session.commit()  # with whatever the caller did before (a new user, Casdoor's tokens)
    session[SESSION_TOKEN_KEY] = token
    if locale:
        session["locale"] = locale
    session.permanent = True
    login_user(user)


def sign_out() -> None:
    """End this browser's session; after a proxy session, the proxy's header no longer signs in by itself."""
    record = current_session()
    users.end_session(session.get(SESSION_TOKEN_KEY))
    db.session.commit()  # with the caller's audit event, if any
    logout_user()
    session.clear()
    if record is not None and record.method == PROXY_METHOD:
        session[PROXY_PAUSED_KEY] = True


def recently_authenticated() -> bool:
    """Whether this session proved its password (or a fresh sign-in) within WEBAUTH_REAUTH_SECONDS."""
    return users.recently_authenticated(current_session(), current_app.config["WEBAUTH_REAUTH_SECONDS"])


def page_before() -> str | None:
    """The path (and query) of the page of this site that led to this request, from its Referer;
    None when there is none or it is another site's. Callers still pass it through `safe_next`."""
    parts = urlsplit(request.referrer or "")
    if not parts.path or parts.netloc != request.host:
        return None
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def reauth_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Guard a view that reveals or exports secrets behind a recent re-authentication.

    A plain request is sent to the re-authentication page and back; an htmx request gets an
    `HX-Redirect` there, since swapping a password page into a fragment would make no sense.
    The page that led here rides along as `back`: once the password is confirmed, the
    re-authentication page's address sends Back there (views/auth.py) instead of to the form.
    """

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if recently_authenticated():
            return view(*args, **kwargs)
        before = page_before()
        here = request.full_path if request.query_string else request.path
        after = here if request.method == "GET" else (before or url_for("codes.index"))
        target = url_for("auth.reauth", next=after, back=before)
        if request.headers.get("HX-Request") == "true":
            response = make_response("", 401)
            response.headers["HX-Redirect"] = target
            return response
        return redirect(target)

    return guarded
