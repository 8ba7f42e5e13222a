"""What the fake Casdoor's parts share: Casdoor's own messages, its records (tokens, codes,
faults), and the small rules that copy Casdoor's or Go's behaviour (zero values, type errors,
`updatedTime` that always moves forward)."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from werkzeug.serving import WSGIRequestHandler

REST_ENDPOINTS = frozenset({"/api/get-account", "/api/get-user", "/api/update-user", "/api/userinfo"})
FAULT_KINDS = frozenset({"5xx", "error", "malformed", "hang"})
MFA_ENTRY_FIELDS = ("accountName", "issuer", "secretKey", "origin")
SESSION_COOKIE = "casdoor_session_id"
CODE_LIFETIME = 300
GLOBAL_ADMIN_ORG = "built-in"
PKCE_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")

# Casdoor's own messages, which the webauth client recognises.
MSG_LOGIN_FIRST = "Please login first"
MSG_TOKEN_UNKNOWN = "Access token doesn't exist in database"
MSG_TOKEN_EXPIRED = "Access token has expired"
MSG_UNAUTHORIZED = "Unauthorized operation"
MSG_FORBIDDEN = "The user is forbidden to sign in, please contact the administrator"


def now_text() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def later_than(previous: str) -> str:
    """The current time, or one second after `previous` if the clock has not moved on."""
    now = datetime.now().astimezone().replace(microsecond=0)
    try:
        floor = datetime.fromisoformat(previous) + timedelta(seconds=1)
    except ValueError:
        return now.isoformat()
    return max(now, floor).isoformat()


def pkce_s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def zero_like(value: Any) -> Any:
    """Go's zero value for a field of the same JSON type (nil for slices and maps)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return 0
    if isinstance(value, str):
        return ""
    return None


def type_error(key: str, value: Any, old: Any) -> str | None:
    """Go's unmarshal error when a body field has the wrong JSON type, else None."""
    if value is None or old is None:
        return None
    expected: type | tuple[type, ...]
    if isinstance(old, bool):
        expected = bool
    elif isinstance(old, int | float):
        expected = (int, float)
    else:
        expected = type(old)
    if isinstance(value, expected) and not (isinstance(value, bool) and expected == (int, float)):
        return None
    return f"json: cannot unmarshal {type(value).__name__} into Go struct field User.{key}"


def normalise_mfa_accounts(value: Any) -> list[dict[str, str]] | str | None:
    """Entries as Casdoor stores them (four string fields; null stays null), or an error text."""
    if value is None:
        return None
    if not isinstance(value, list):
        return "json: cannot unmarshal mfaAccounts: not an array"
    entries = []
    for item in value:
        if not isinstance(item, dict):
            return "json: cannot unmarshal mfaAccounts: an entry is not an object"
        entry = {}
        for name in MFA_ENTRY_FIELDS:
            field_value = item.get(name, "")
            if not isinstance(field_value, str):
                return f"json: cannot unmarshal {type(field_value).__name__} into Go struct field MfaAccount.{name}"
            entry[name] = field_value
        entries.append(entry)
    return entries


def with_query(url: str, params: Mapping[str, str]) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


@dataclass
class Application:
    """A Casdoor application: the one webauth is configured with, or another one on the same Casdoor."""

    name: str
    organization: str
    client_id: str
    client_secret: str
    redirect_uris: list[str]


@dataclass
class Token:
    access_token: str
    refresh_token: str
    user_key: tuple[str, str]
    client_id: str
    scope: str
    expires_at: float
    refresh_expires_at: float
    # When the user typed their password (Casdoor's AuthenticationContext); kept across refreshes.
    auth_time: float | None = None


@dataclass
class Code:
    user_key: tuple[str, str]
    client_id: str
    redirect_uri: str
    challenge: str
    nonce: str
    scope: str
    expires_at: float
    auth_time: float | None
    used: bool = False


@dataclass
class BrowserSession:
    """Casdoor's own session cookie: who signed in, and when they typed their password."""

    user_key: tuple[str, str]
    auth_time: float


@dataclass
class Fault:
    kind: str
    remaining: int
    seconds: float
    status: int
    message: str
    endpoints: frozenset[str]


class QuietRequestHandler(WSGIRequestHandler):
    """Serves like werkzeug's handler but does not print a line per request."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class TokenError(Exception):
    """An OAuth error answer of the token endpoint."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
