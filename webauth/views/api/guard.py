"""Who is calling: a personal access token in `Authorization: Bearer`, and nothing else.

The session cookie is neither read nor written under /api/ (auth_session.CookielessSessions),
so a browser's session gives no access and no cross-site request can ride on it: there is no
CSRF surface to protect. The token is identified first (a URL value preprocessor, before the
app's own hooks), so the rate limiter counts per token and the code behind it sees the token's
user as `current_user` (the audit's actor, the locale). Refusals come after the limiter, so a
flood of bad tokens from one address is slowed like a flood of good ones.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, current_app, g, request
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address

from webauth import audit, tokens
from webauth.extensions import db, limiter, login_manager
from webauth.models import AccessToken
from webauth.views.api.bodies import MAX_BODY_BYTES
from webauth.views.api.problems import REALM, problem

# Endpoints anyone may read: the contract and its reference page.
PUBLIC_ENDPOINTS = frozenset({"api.openapi_document", "api.reference"})


class Refused(Exception):
    """A request the token does not allow; the blueprint's handler answers it as a problem."""

    def __init__(self, status: int, detail: str, challenge: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.challenge = challenge


def init_blueprint(bp: Blueprint) -> None:
    bp.url_value_preprocessor(_identify)
    bp.before_request(_require_token)
    bp.register_error_handler(Refused, _refused)
    limiter.limit(_api_limit, key_func=_limit_key)(bp)
    # Refused tokens, per address: guessing is hopeless (256 bits), but each guess costs a lookup.
    limiter.limit(_refusal_limit, key_func=_address_key, deduct_when=lambda response: response.status_code == 401)(bp)


def _api_limit() -> str:
    return current_app.config["WEBAUTH_API_RATE_LIMIT"]


def _refusal_limit() -> str:
    return current_app.config["WEBAUTH_API_REFUSAL_RATE_LIMIT"]


def _limit_key() -> str:
    token = g.get("api_token")
    return f"api-token:{token.id}" if token is not None else _address_key()


def _address_key() -> str:
    return f"api-address:{get_remote_address()}"


def _identify(endpoint: str | None, values: dict[str, Any] | None) -> None:
    request.max_content_length = MAX_BODY_BYTES
    if endpoint in PUBLIC_ENDPOINTS:
        return
    checked = tokens.check(request.headers.get("Authorization"))
    g.api_refusal = checked.refusal
    if checked.user is not None:
        g.api_token = checked.token
        g._login_user = checked.user  # Flask-Login's current_user, for this request only
    else:
        g._login_user = login_manager.anonymous_user()


_REFUSALS = {
    "missing": lambda: _("Send a personal access token: Authorization: Bearer wa_pat_..."),
    "malformed": lambda: _("This is not a personal access token (they start with wa_pat_)."),
    "unknown": lambda: _("This token is not valid: it was revoked, or never existed."),
    "expired": lambda: _("This token has expired. Make a new one on the Access tokens page."),
    "disabled": lambda: _("The token's user is disabled."),
}


def _require_token() -> None:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    refusal = g.get("api_refusal")
    if refusal is not None:
        # RFC 6750: no error code when no token was sent at all.
        challenge = REALM if refusal == "missing" else f'{REALM}, error="invalid_token"'
        raise Refused(401, _REFUSALS[refusal](), challenge)
    token: AccessToken = g.api_token
    if token.last_used_at is None or token.last_used_at <= tokens.now() - tokens.LAST_USE_RESOLUTION:
        tokens.note_use(token, audit.client_ip())
        db.session.commit()


def current_token() -> AccessToken:
    return g.api_token


def writes(view: Callable[..., Any]) -> Callable[..., Any]:
    """Only a read-and-write token may call `view`: a read-only one gets 403, as RFC 6750 says."""

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if current_token().scope != "write":
            challenge = f'{REALM}, error="insufficient_scope", scope="write"'
            raise Refused(403, _("This token is read-only: make a read and write token to change accounts."), challenge)
        return view(*args, **kwargs)

    return guarded


def _refused(error: Refused):
    return problem(error.status, error.detail, headers={"WWW-Authenticate": error.challenge})
