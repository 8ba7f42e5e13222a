"""How password sign-in attempts are limited, so that guessing is slow and nobody is locked out.

Three limits, all kept in the rate-limit storage (WEBAUTH_RATELIMIT_STORAGE_URL: Redis when
several processes serve, so every process counts the same attempts):

- per address (WEBAUTH_LOGIN_RATE_LIMIT): one address guessing at many users;
- per username and address (the same limit): one address guessing at one user. This is the
  lock, and it locks that address only; the user's own address keeps its own count;
- per username, counting failures only, from browsers that never signed in as that user
  (WEBAUTH_LOGIN_USER_RATE_LIMIT, a short window: 5 per minute by default): many addresses
  guessing at one user are slowed to that pace together. It recovers within its window, and
  a browser where the user signed in before (the "known browser" cookie) is not subject to
  it at all, so nobody can keep a user out of their usual browser by failing on purpose.

The known-browser cookie holds a keyed tag per username (HMAC with the secret key): it
names no user, cannot be forged, and only spares its holder the shared per-username window;
the other two limits still count every attempt from it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any

from flask import current_app, request
from flask_limiter.util import get_remote_address
from werkzeug.wrappers import Response

from webauth.extensions import limiter

KNOWN_BROWSER_COOKIE = "webauth_known"
# The same cookie under HTTPS, bound to this host (no Domain, Path=/, Secure).
KNOWN_BROWSER_COOKIE_HTTPS = "__Host-webauth_known"
MAX_KNOWN_USERS = 5
KNOWN_BROWSER_DAYS = 400  # the longest a browser keeps a cookie
TAG_LENGTH = 16


def address_limit() -> str:
    return current_app.config["WEBAUTH_LOGIN_RATE_LIMIT"]


def user_limit() -> str:
    return current_app.config["WEBAUTH_LOGIN_USER_RATE_LIMIT"]


def typed_username() -> str:
    return request.form.get("username", "").strip().lower()[:255]


def user_at_address_key() -> str:
    return f"login-user-address:{typed_username()}:{get_remote_address()}"


def username_key() -> str:
    return f"login-user:{typed_username()}"


def failed(response: Response) -> bool:
    """Only a wrong password spends the per-username budget; a success or a form error does not."""
    return response.status_code == 401


def _cookie_name() -> str:
    return KNOWN_BROWSER_COOKIE_HTTPS if current_app.config["WEBAUTH_HTTPS"] else KNOWN_BROWSER_COOKIE


def _tag(username: str) -> str:
    key = current_app.secret_key
    secret = key.encode() if isinstance(key, str) else bytes(key or b"")
    digest = hmac.new(secret, b"known-sign-in\x00" + username.strip().lower().encode(), hashlib.sha256)
    return digest.hexdigest()[:TAG_LENGTH]


def _known_tags() -> list[str]:
    raw = request.cookies.get(_cookie_name(), "")
    return [tag for tag in raw.split(".")[:MAX_KNOWN_USERS] if len(tag) == TAG_LENGTH]


def known_browser() -> bool:
    """Whether this browser signed in before as the username typed (exempt from the per-username window)."""
    username = typed_username()
    return bool(username) and any(hmac.compare_digest(tag, _tag(username)) for tag in _known_tags())


def remember_browser(response: Response, username: str) -> Response:
    """After a password sign-in: this browser is known for this username (the newest first)."""
    tag = _tag(username)
    tags = [tag, *(known for known in _known_tags() if known != tag)][:MAX_KNOWN_USERS]
    response.set_cookie(
        _cookie_name(),
        ".".join(tags),
        max_age=KNOWN_BROWSER_DAYS * 24 * 3600,
        secure=current_app.config["WEBAUTH_HTTPS"],
        httponly=True,
        samesite="Lax",
    )
    return response


def limit_sign_in(view: Callable[..., Any]) -> Callable[..., Any]:
    """The three limits above on a view's POST (the sign-in form)."""
    view = limiter.limit(
        user_limit, methods=["POST"], key_func=username_key, exempt_when=known_browser, deduct_when=failed
    )(view)
    view = limiter.limit(address_limit, methods=["POST"], key_func=user_at_address_key)(view)
    return limiter.limit(address_limit, methods=["POST"])(view)
