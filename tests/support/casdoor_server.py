"""A Casdoor-compatible OpenID Connect and REST server for the test suite and benchmarks.

It speaks the subset of Casdoor that webauth uses (see docs/casdoor.md in the shared docs):
discovery, JWKS, the authorization-code flow with PKCE S256 behind a real HTML login form,
the token endpoint (authorization_code and refresh_token grants), `/api/userinfo`,
`/api/get-account`, `/api/get-user`, `/api/update-user`, `/api/logout` and `/api/get-app-login`
(the check of an application's client id and redirect URL). Answers are
shaped like Casdoor's: REST calls answer HTTP 200 with `{"status", "msg", "data"}` even on
errors, `id_token` is the same RS256 JWT as `access_token`, `sub` is the user's UUID, and
`update-user` replaces the whole user (fields missing from the body are reset, as Go's
JSON decoding into a fresh struct does).

Where Casdoor is lax the fake is stricter, so code that works here works there: redirect
URIs must match the application's list exactly, PKCE S256 is required (Casdoor makes it
optional), and the token endpoint checks `redirect_uri`. The user's `updatedTime` moves
forward at least one second on each change, so tests can observe every bump.

Tests drive it through the Python methods below (thread-safe); a second process (a
benchmark, a manual run) can reach the same controls at `POST /_test/<method>` with the
keyword arguments as a JSON object, when the server was made with `http_controls=True`
(the command line does that).

Usage in a pytest fixture::

    import pytest
    from tests.support.casdoor_server import CasdoorServer

    @pytest.fixture
    def casdoor():
        with CasdoorServer(redirect_uris=["http://127.0.0.1:5000/auth/casdoor/callback"]) as server:
            server.add_user("acme", "alice", "s3cret", mfa_accounts=[
                {"accountName": "alice@example.com", "issuer": "GitHub", "secretKey": "JBSWY3DPEHPK3PXP", "origin": ""},
            ])
            yield server

    def test_something(casdoor):
        tokens = casdoor.issue_token("acme", "alice")   # skip the browser flow
        ...                                            # casdoor.url, casdoor.client_id, ...
        casdoor.inject_fault("5xx", count=2)            # the next two REST calls fail
        assert casdoor.request_count("/api/get-account") == 1

Standalone, for manual runs::

    python -m tests.support.casdoor_server --port 8100 --seed-user acme/alice:s3cret \\
        --redirect-uri http://127.0.0.1:5000/auth/casdoor/callback
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import hmac
import html
import re
import secrets
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Self
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Flask, Response, jsonify, redirect, request
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

REST_ENDPOINTS = frozenset({"/api/get-account", "/api/get-user", "/api/update-user", "/api/userinfo"})
FAULT_KINDS = frozenset({"5xx", "error", "malformed", "hang"})
MFA_ENTRY_FIELDS = ("accountName", "issuer", "secretKey", "origin")
SESSION_COOKIE = "casdoor_session_id"
CODE_LIFETIME = 300
GLOBAL_ADMIN_ORG = "built-in"
_PKCE_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")

# Casdoor's own messages, which the webauth client recognises.
MSG_LOGIN_FIRST = "Please login first"
MSG_TOKEN_UNKNOWN = "Access token doesn't exist in database"
MSG_TOKEN_EXPIRED = "Access token has expired"
MSG_UNAUTHORIZED = "Unauthorized operation"
MSG_FORBIDDEN = "The user is forbidden to sign in, please contact the administrator"


def _now_text() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def _later_than(previous: str) -> str:
    """The current time, or one second after `previous` if the clock has not moved on."""
    now = datetime.now().astimezone().replace(microsecond=0)
    try:
        floor = datetime.fromisoformat(previous) + timedelta(seconds=1)
    except ValueError:
        return now.isoformat()
    return max(now, floor).isoformat()


def _pkce_s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _zero_like(value: Any) -> Any:
    """Go's zero value for a field of the same JSON type (nil for slices and maps)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return 0
    if isinstance(value, str):
        return ""
    return None


def _type_error(key: str, value: Any, old: Any) -> str | None:
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


def _normalise_mfa_accounts(value: Any) -> list[dict[str, str]] | str | None:
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


def _with_query(url: str, params: Mapping[str, str]) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


@dataclass
class _Token:
    access_token: str
    refresh_token: str
    user_key: tuple[str, str]
    client_id: str
    scope: str
    expires_at: float
    refresh_expires_at: float


@dataclass
class _Code:
    user_key: tuple[str, str]
    redirect_uri: str
    challenge: str
    nonce: str
    scope: str
    expires_at: float
    used: bool = False


@dataclass
class _Fault:
    kind: str
    remaining: int
    seconds: float
    status: int
    message: str
    endpoints: frozenset[str]


class _QuietRequestHandler(WSGIRequestHandler):
    """Serves like werkzeug's handler but does not print a line per request."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class _TokenError(Exception):
    """An OAuth error answer of the token endpoint."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


class CasdoorServer:
    """One Casdoor organization-and-application world, served on 127.0.0.1 in a thread.

    Users live in any organization (`owner`); the application belongs to `organization`,
    whose users may type just their name in the login form (others type `owner/name`).
    The organization's "MFA accounts" account item is on for every organization unless
    turned off with `set_mfa_accounts_item`.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        organization: str = "built-in",
        application: str = "webauth",
        client_id: str = "webauth-client-id",
        client_secret: str = "webauth-client-secret",
        redirect_uris: Iterable[str] = (),
        token_lifetime: int = 3600,
        refresh_lifetime: int = 7 * 24 * 3600,
        allow_refresh_grant: bool = True,
        signing_key: RSAKey | None = None,
        http_controls: bool = False,
        log_requests: bool = False,
    ) -> None:
        self.host = host
        self.organization = organization
        self.application = application
        self.client_id = client_id
        self.client_secret = client_secret
        self._requested_port = port
        self._redirect_uris = list(redirect_uris)
        self._token_lifetime = token_lifetime
        self._refresh_lifetime = refresh_lifetime
        self._allow_refresh_grant = allow_refresh_grant
        self._key = signing_key or RSAKey.generate_key(
            2048, parameters={"kid": "cert-built-in", "use": "sig", "alg": "RS256"}
        )
        self._http_controls = http_controls
        self._log_requests = log_requests
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._users: dict[tuple[str, str], dict[str, Any]] = {}
        self._passwords: dict[tuple[str, str], str] = {}
        self._tokens: dict[str, _Token] = {}
        self._refresh_index: dict[str, str] = {}
        self._codes: dict[str, _Code] = {}
        self._sessions: dict[str, tuple[str, str]] = {}
        self._faults: list[_Fault] = []
        self._mfa_item_off: set[str] = set()
        self._counts: Counter[str] = Counter()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.app = self._build_app()

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> Self:
        """Bind the port (a free one by default) and serve in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("the server is already running")
        self._stopping.clear()
        handler = WSGIRequestHandler if self._log_requests else _QuietRequestHandler
        self._server = make_server(self.host, self._requested_port, self.app, threaded=True, request_handler=handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="casdoor-fake", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; requests held by a "hang" fault are released first."""
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the server is not running")
        return self._server.server_port

    @property
    def url(self) -> str:
        """The server origin, which is also the token issuer (`iss`)."""
        return f"http://{self.host}:{self.port}"

    issuer = url

    @property
    def redirect_uris(self) -> list[str]:
        """The application's allowed redirect URIs (a copy)."""
        with self._lock:
            return list(self._redirect_uris)

    @property
    def jwks(self) -> dict[str, Any]:
        """The public key set, as `/.well-known/jwks` serves it."""
        return {"keys": [self._key.as_dict(private=False)]}

    # ----------------------------------------------------------------- controls

    def add_user(
        self,
        owner: str,
        name: str,
        password: str,
        *,
        is_admin: bool = False,
        display_name: str | None = None,
        email: str | None = None,
        mfa_accounts: Iterable[Mapping[str, str]] = (),
    ) -> dict[str, Any]:
        """Create a user (as Casdoor's admin page would) and return a copy of it."""
        entries = _normalise_mfa_accounts([dict(entry) for entry in mfa_accounts])
        if isinstance(entries, str):
            raise ValueError(entries)
        now = _now_text()
        user = {
            "owner": owner,
            "name": name,
            "createdTime": now,
            "updatedTime": now,
            "id": str(uuid.uuid4()),
            "type": "normal-user",
            "password": "***",
            "displayName": display_name if display_name is not None else name,
            "firstName": "",
            "lastName": "",
            "avatar": "",
            "email": email if email is not None else f"{name}@example.com",
            "emailVerified": False,
            "phone": "",
            "countryCode": "",
            "region": "",
            "location": "",
            "address": [],
            "affiliation": "",
            "title": "",
            "homepage": "",
            "bio": "",
            "tag": "",
            "language": "",
            "score": 0,
            "karma": 0,
            "isAdmin": is_admin,
            "isForbidden": False,
            "isDeleted": False,
            "signupApplication": self.application,
            "lastSigninTime": "",
            "preferredMfaType": "",
            "totpSecret": "",
            "mfaAccounts": entries,
            "properties": {},
            "groups": [],
        }
        with self._lock:
            if (owner, name) in self._users:
                raise ValueError(f"the user {owner}/{name} exists already")
            self._users[(owner, name)] = user
            self._passwords[(owner, name)] = password
            return copy.deepcopy(user)

    def delete_user(self, owner: str, name: str) -> None:
        """Remove a user; tokens already issued to them stop working."""
        with self._lock:
            del self._users[(owner, name)]
            del self._passwords[(owner, name)]

    def user(self, owner: str, name: str) -> dict[str, Any]:
        """A copy of the stored user, whatever the organization's settings."""
        with self._lock:
            return copy.deepcopy(self._users[(owner, name)])

    def mfa_accounts(self, owner: str, name: str) -> list[dict[str, str]] | None:
        """A copy of the user's `mfaAccounts` (None when Casdoor holds null)."""
        with self._lock:
            return copy.deepcopy(self._users[(owner, name)]["mfaAccounts"])

    def set_mfa_accounts(self, owner: str, name: str, accounts: Iterable[Mapping[str, str]]) -> None:
        """Replace the user's list directly, as the official mobile app's sync would."""
        entries = _normalise_mfa_accounts([dict(entry) for entry in accounts])
        if isinstance(entries, str):
            raise ValueError(entries)
        with self._lock:
            user = self._users[(owner, name)]
            user["mfaAccounts"] = entries
            user["updatedTime"] = _later_than(user["updatedTime"])

    def add_redirect_uri(self, uri: str) -> None:
        """Allow one more redirect URI (the app under test learns its port late)."""
        with self._lock:
            self._redirect_uris.append(uri)

    def set_token_lifetime(self, seconds: int, refresh_seconds: int | None = None) -> None:
        """Lifetime of tokens issued from now on; 0 makes them expired at once."""
        with self._lock:
            self._token_lifetime = seconds
            if refresh_seconds is not None:
                self._refresh_lifetime = refresh_seconds

    def revoke_tokens(self, owner: str, name: str) -> int:
        """Delete every token of the user (access and refresh); return how many."""
        with self._lock:
            doomed = [t for t in self._tokens.values() if t.user_key == (owner, name)]
            for token in doomed:
                self._forget_token(token)
            return len(doomed)

    def issue_token(self, owner: str, name: str, *, scope: str = "openid profile email", nonce: str = "") -> dict:
        """A token response for the user without the browser flow (for REST tests)."""
        with self._lock:
            self._sign_in((owner, name))
            return self._issue((owner, name), scope=scope, nonce=nonce)

    def inject_fault(
        self,
        kind: str,
        *,
        count: int = 1,
        seconds: float = 0.0,
        status: int = 503,
        message: str = "Internal error (injected)",
        endpoints: Iterable[str] | None = None,
    ) -> None:
        """Make the next `count` calls to `endpoints` (default: the REST calls) misbehave.

        kind: "5xx" answers HTTP `status`; "error" answers `{"status": "error", "msg": message}`;
        "malformed" answers HTTP 200 with truncated JSON; "hang" waits `seconds`, then answers
        normally. Faults queue up and are used in the order they were added.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; use one of {sorted(FAULT_KINDS)}")
        targets = frozenset(endpoints) if endpoints is not None else REST_ENDPOINTS
        with self._lock:
            self._faults.append(_Fault(kind, count, seconds, status, message, targets))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def set_mfa_accounts_item(self, enabled: bool, organization: str | None = None) -> None:
        """Add or remove the "MFA accounts" row of an organization's account items.

        Off, get-account and get-user leave `mfaAccounts` out and update-user keeps the
        stored list whatever the body says, as Casdoor does for an item a user may not see.
        """
        org = organization or self.organization
        with self._lock:
            if enabled:
                self._mfa_item_off.discard(org)
            else:
                self._mfa_item_off.add(org)

    def request_count(self, path: str) -> int:
        """How many requests reached `path` (e.g. "/api/update-user") since the last reset."""
        with self._lock:
            return self._counts[path]

    def request_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def reset_counts(self) -> None:
        with self._lock:
            self._counts.clear()

    # ----------------------------------------------------------------- internals

    def _forget_token(self, token: _Token) -> None:
        self._tokens.pop(token.access_token, None)
        self._refresh_index.pop(token.refresh_token, None)

    def _user_claims(self, user: Mapping[str, Any]) -> dict[str, Any]:
        """The user fields Casdoor's default "JWT" token format carries (no password, no list)."""
        return {key: value for key, value in user.items() if key not in {"password", "mfaAccounts"}}

    def _issue(self, user_key: tuple[str, str], *, scope: str, nonce: str) -> dict[str, Any]:
        user = self._users[user_key]
        now = int(time.time())
        name = str(uuid.uuid4())
        registered = {"iss": self.issuer, "sub": user["id"], "aud": [self.client_id], "iat": now, "nbf": now}
        access = {
            **self._user_claims(user),
            "tokenType": "access-token",
            "nonce": nonce,
            "tag": "",
            "scope": scope,
            "azp": self.client_id,
            "provider": "",
            **registered,
            "exp": now + self._token_lifetime,
            "jti": f"admin/{name}",
        }
        refresh = {
            "owner": user["owner"],
            "name": user["name"],
            "tokenType": "refresh-token",
            "scope": scope,
            "azp": self.client_id,
            **registered,
            "exp": now + self._refresh_lifetime,
            "jti": f"admin/{name}",
        }
        header = {"alg": "RS256", "kid": self._key.kid, "typ": "JWT"}
        access_token = jwt.encode(header, access, self._key)
        refresh_token = jwt.encode(header, refresh, self._key)
        token = _Token(
            access_token, refresh_token, user_key, self.client_id, scope,
            now + self._token_lifetime, now + self._refresh_lifetime,
        )  # fmt: skip
        self._tokens[access_token] = token
        self._refresh_index[refresh_token] = access_token
        return {
            "access_token": access_token,
            "id_token": access_token,
            "refresh_token": refresh_token,
            "token_type": "Bearer",
            "expires_in": self._token_lifetime,
            "scope": scope,
        }

    def _visible_user(self, user: Mapping[str, Any]) -> dict[str, Any]:
        shown = copy.deepcopy(dict(user))
        if user["owner"] in self._mfa_item_off:
            del shown["mfaAccounts"]
        return shown

    def _organization(self, name: str) -> dict[str, Any]:
        items = [{"name": "Display name", "visible": True, "viewRule": "Public", "modifyRule": "Self"}]
        if name not in self._mfa_item_off:
            items.append({"name": "MFA accounts", "visible": True, "viewRule": "Self", "modifyRule": "Self"})
        return {"owner": "admin", "name": name, "accountItems": items}

    def _may_manage(self, caller: Mapping[str, Any], target_key: tuple[str, str]) -> bool:
        if (caller["owner"], caller["name"]) == target_key:
            return True
        return bool(caller["isAdmin"]) and caller["owner"] in {target_key[0], GLOBAL_ADMIN_ORG}

    def _bearer_user(self) -> tuple[dict[str, Any] | None, _Token | None, str]:
        """The caller's user and token, or None and Casdoor's message saying why not."""
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return None, None, MSG_LOGIN_FIRST
        value = value.strip()
        try:
            jwt.decode(value, self._key, algorithms=["RS256"])
        except (JoseError, ValueError):
            return None, None, MSG_TOKEN_UNKNOWN
        token = self._tokens.get(value)
        if token is None:
            return None, None, MSG_TOKEN_UNKNOWN
        if time.time() >= token.expires_at:
            return None, None, MSG_TOKEN_EXPIRED
        user = self._users.get(token.user_key)
        if user is None:
            return None, None, f"The user: {token.user_key[0]}/{token.user_key[1]} doesn't exist"
        if user["isForbidden"]:
            return None, None, MSG_FORBIDDEN
        return user, token, ""

    def _valid_redirect(self, uri: str) -> bool:
        return uri in self._redirect_uris

    def _replace_user(
        self, old: Mapping[str, Any], body: Mapping[str, Any], caller_is_admin: bool
    ) -> dict[str, Any] | str:
        """The user after update-user, or Casdoor's error text."""
        new: dict[str, Any] = {}
        for key, old_value in old.items():
            if key not in body:
                new[key] = _zero_like(old_value)
                continue
            error = _type_error(key, body[key], old_value)
            if error:
                return error
            new[key] = copy.deepcopy(body[key])
        if not new.get("displayName"):
            return "Display name cannot be empty"
        entries = _normalise_mfa_accounts(new.get("mfaAccounts"))
        if isinstance(entries, str):
            return entries
        new["mfaAccounts"] = entries
        kept = ["owner", "name", "id", "createdTime", "password", "signupApplication"]
        if not caller_is_admin:
            kept += ["isAdmin", "isForbidden", "type"]
        if old["owner"] in self._mfa_item_off:
            kept.append("mfaAccounts")
        for key in kept:
            new[key] = copy.deepcopy(old[key])
        new["updatedTime"] = _later_than(old["updatedTime"])
        return new

    def _sign_in(self, user_key: tuple[str, str]) -> None:
        user = self._users[user_key]
        user["updatedTime"] = _later_than(user["updatedTime"])
        user["lastSigninTime"] = user["updatedTime"]

    def _apply_fault(self) -> Response | None:
        if request.path.startswith("/_test/"):
            return None
        with self._lock:
            self._counts[request.path] += 1
            fault = next((f for f in self._faults if request.path in f.endpoints), None)
            if fault is None:
                return None
            fault.remaining -= 1
            if fault.remaining <= 0:
                self._faults.remove(fault)
        if fault.kind == "hang":
            self._stopping.wait(fault.seconds)
            return None
        if fault.kind == "5xx":
            return Response("<html><body>Bad Gateway</body></html>", status=fault.status, mimetype="text/html")
        if fault.kind == "error":
            return jsonify(status="error", msg=fault.message, data=None)
        return Response('{"status": "ok", "msg": "", "data": {"owner": ', mimetype="application/json")

    # ----------------------------------------------------------------- HTTP

    def _build_app(self) -> Flask:
        app = Flask(__name__)
        app.before_request(self._apply_fault)
        app.add_url_rule("/.well-known/openid-configuration", view_func=self._discovery)
        app.add_url_rule("/.well-known/<application>/openid-configuration", view_func=self._discovery)
        app.add_url_rule("/.well-known/jwks", view_func=self._jwks_view)
        app.add_url_rule("/login/oauth/authorize", view_func=self._authorize, methods=["GET", "POST"])
        app.add_url_rule("/api/login/oauth/access_token", view_func=self._token_view, methods=["POST"])
        app.add_url_rule("/api/userinfo", view_func=self._userinfo, methods=["GET", "POST"])
        app.add_url_rule("/api/get-account", view_func=self._get_account)
        app.add_url_rule("/api/get-user", view_func=self._get_user)
        app.add_url_rule("/api/update-user", view_func=self._update_user, methods=["POST"])
        app.add_url_rule("/api/logout", view_func=self._logout, methods=["GET", "POST"])
        app.add_url_rule("/api/get-app-login", view_func=self._get_app_login)
        if self._http_controls:
            app.add_url_rule("/_test/<method>", view_func=self._control, methods=["POST"])
        return app

    def _discovery(self, application: str | None = None) -> Response:
        origin = self.issuer
        return jsonify(
            issuer=origin,
            authorization_endpoint=f"{origin}/login/oauth/authorize",
            token_endpoint=f"{origin}/api/login/oauth/access_token",
            userinfo_endpoint=f"{origin}/api/userinfo",
            jwks_uri=f"{origin}/.well-known/jwks",
            end_session_endpoint=f"{origin}/api/logout",
            response_types_supported=["code"],
            response_modes_supported=["query"],
            grant_types_supported=["authorization_code", "refresh_token"],
            subject_types_supported=["public"],
            id_token_signing_alg_values_supported=["RS256"],
            scopes_supported=["openid", "email", "profile", "address", "phone", "offline_access"],
            claims_supported=["iss", "sub", "aud", "iat", "exp", "name", "displayName", "email", "owner", "isAdmin"],
            token_endpoint_auth_methods_supported=["client_secret_basic", "client_secret_post", "none"],
            code_challenge_methods_supported=["S256"],
            request_parameter_supported=True,
        )

    def _get_app_login(self) -> Response:
        """What Casdoor's sign-in page asks first: does this client id accept this redirect URI?"""
        args = request.args
        if args.get("responseType") != "code":
            return jsonify(status="error", msg=f"Grant_type: {args.get('responseType')} is not supported "
                                               "in this application", data=None)
        with self._lock:
            if args.get("clientId") != self.client_id:
                return jsonify(status="error", msg="Invalid client_id", data=None)
            redirect_uri = args.get("redirectUri", "")
            application = {"owner": "admin", "name": self.application, "organization": self.organization,
                           "clientId": self.client_id, "clientSecret": "", "redirectUris": list(self._redirect_uris)}
            if not self._valid_redirect(redirect_uri):
                message = f"Redirect URI: {redirect_uri} doesn't exist in the allowed Redirect URI list"
                return jsonify(status="error", msg=message, data=application)
        return jsonify(status="ok", msg="", data=application)

    def _jwks_view(self) -> Response:
        return jsonify(self.jwks)

    def _login_page(self, message: str = "", username: str = "", status: int = 200) -> Response:
        notice = f'<p role="alert">{html.escape(message)}</p>' if message else ""
        page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in - Casdoor (test)</title></head>
<body><main>
<h1>Sign in to {html.escape(self.application)}</h1>
{notice}
<form method="post" action="{html.escape(request.full_path)}">
<p><label for="username">Username</label> <input id="username" name="username" autocomplete="username"
 value="{html.escape(username)}" required></p>
<p><label for="password">Password</label> <input id="password" name="password" type="password"
 autocomplete="current-password" required></p>
<p><button type="submit">Sign in</button></p>
</form>
</main></body></html>"""
        return Response(page, status=status, mimetype="text/html")

    def _error_page(self, message: str) -> Response:
        body = f"<!doctype html><title>Error</title><h1>Error</h1><p>{html.escape(message)}</p>"
        return Response(body, status=400, mimetype="text/html")

    def _authorize(self) -> Response:
        args = request.args
        with self._lock:
            if args.get("client_id") != self.client_id:
                return self._error_page("Invalid client_id")
            redirect_uri = args.get("redirect_uri", "")
            if not self._valid_redirect(redirect_uri):
                return self._error_page(f"Redirect URI: {redirect_uri} doesn't exist in the allowed Redirect URI list")
        if args.get("response_type") != "code":
            return self._error_page(f"Grant_type: {args.get('response_type')} is not supported in this application")
        if args.get("code_challenge_method") != "S256":
            return self._error_page("code_challenge_method must be S256 (PKCE is required; plain is rejected)")
        challenge = args.get("code_challenge", "")
        if not _PKCE_CHALLENGE.fullmatch(challenge):
            return self._error_page("code_challenge must be the base64url SHA-256 of the verifier")

        with self._lock:
            session_user = self._sessions.get(request.cookies.get(SESSION_COOKIE, ""))
            if request.method == "GET":
                if session_user in self._users and args.get("prompt") != "login":
                    return self._code_redirect(session_user, session_id=None)
                return self._login_page()
            username = request.form.get("username", "").strip()
            password = request.form.get("password", "")
            owner, _, name = username.rpartition("/")
            user_key = (owner or self.organization, name)
            stored = self._passwords.get(user_key)
            if stored is None or not hmac.compare_digest(stored.encode(), password.encode()):
                return self._login_page("Invalid username or password", username, status=401)
            if self._users[user_key]["isForbidden"]:
                return self._login_page(MSG_FORBIDDEN, username, status=403)
            session_id = secrets.token_urlsafe(24)
            self._sessions[session_id] = user_key
            return self._code_redirect(user_key, session_id=session_id)

    def _code_redirect(self, user_key: tuple[str, str], session_id: str | None) -> Response:
        args = request.args
        self._sign_in(user_key)
        code = secrets.token_urlsafe(24)
        self._codes[code] = _Code(
            user_key=user_key,
            redirect_uri=args["redirect_uri"],
            challenge=args["code_challenge"],
            nonce=args.get("nonce", ""),
            scope=args.get("scope", ""),
            expires_at=time.time() + CODE_LIFETIME,
        )
        params = {"code": code}
        if "state" in args:
            params["state"] = args["state"]
        response = redirect(_with_query(args["redirect_uri"], params), code=302)
        if session_id is not None:
            response.set_cookie(SESSION_COOKIE, session_id, httponly=True, samesite="Lax")
        return response

    def _token_params(self) -> dict[str, str]:
        params = {key: value for key, value in request.values.items()}
        body = request.get_json(silent=True) if request.is_json else None
        if isinstance(body, dict):
            for key, value in body.items():
                if isinstance(value, str):
                    params.setdefault(key, value)
        if not params.get("client_id") and not params.get("client_secret") and request.authorization:
            params["client_id"] = request.authorization.username or ""
            params["client_secret"] = request.authorization.password or ""
        return params

    def _token_view(self) -> Response:
        params = self._token_params()
        try:
            with self._lock:
                answer = self._grant(params)
        except _TokenError as exc:
            response = jsonify(error=exc.error, error_description=exc.description)
            response.status_code = 401 if exc.error == "invalid_client" else 400
        else:
            response = jsonify(answer)
        response.headers["Cache-Control"] = "no-store"
        return response

    def _check_client(self, params: Mapping[str, str]) -> None:
        if params.get("client_id") != self.client_id:
            raise _TokenError("invalid_client", "client_id is invalid")
        secret = params.get("client_secret", "")
        if secret and not hmac.compare_digest(secret.encode(), self.client_secret.encode()):
            raise _TokenError("invalid_client", "client_secret is invalid")

    def _grant(self, params: Mapping[str, str]) -> dict[str, Any]:
        grant_type = params.get("grant_type", "")
        if grant_type == "authorization_code":
            self._check_client(params)
            return self._grant_code(params)
        if grant_type == "refresh_token" and self._allow_refresh_grant:
            self._check_client(params)
            return self._grant_refresh(params)
        raise _TokenError("unsupported_grant_type", f"grant_type: {grant_type} is not supported in this application")

    def _grant_code(self, params: Mapping[str, str]) -> dict[str, Any]:
        value = params.get("code", "")
        if not value:
            raise _TokenError("invalid_request", "authorization code should not be empty")
        code = self._codes.get(value)
        if code is None:
            raise _TokenError("invalid_grant", "authorization code is invalid")
        if code.used:
            raise _TokenError("invalid_grant", "authorization code has been used")
        if time.time() > code.expires_at:
            raise _TokenError("invalid_grant", "authorization code has expired")
        if params.get("redirect_uri") != code.redirect_uri:
            raise _TokenError("invalid_grant", "redirect_uri does not match the authorization request")
        verifier = params.get("code_verifier", "")
        if not hmac.compare_digest(_pkce_s256(verifier), code.challenge):
            raise _TokenError("invalid_grant", "verifier is invalid")
        if code.user_key not in self._users:
            raise _TokenError("invalid_grant", "the user of this code no longer exists")
        code.used = True
        return self._issue(code.user_key, scope=code.scope, nonce=code.nonce)

    def _grant_refresh(self, params: Mapping[str, str]) -> dict[str, Any]:
        value = params.get("refresh_token", "")
        access = self._refresh_index.get(value)
        token = self._tokens.get(access) if access else None
        if token is None:
            raise _TokenError("invalid_grant", "refresh token is invalid, expired or revoked")
        try:
            jwt.decode(value, self._key, algorithms=["RS256"])
        except (JoseError, ValueError) as exc:
            raise _TokenError("invalid_grant", f"parse refresh token error: {exc}") from None
        if time.time() >= token.refresh_expires_at:
            raise _TokenError("invalid_grant", "refresh token is invalid, expired or revoked")
        user = self._users.get(token.user_key)
        if user is None or user["isForbidden"]:
            raise _TokenError("invalid_grant", MSG_FORBIDDEN)
        self._forget_token(token)
        return self._issue(token.user_key, scope=params.get("scope") or token.scope, nonce="")

    def _userinfo(self) -> Response:
        with self._lock:
            user, token, message = self._bearer_user()
            if user is None or token is None:
                return jsonify(status="error", msg=message, data=None)
            scopes = set(token.scope.split())
            info: dict[str, Any] = {"sub": user["id"], "iss": self.issuer, "aud": token.client_id}
            if "profile" in scopes:
                info.update(
                    preferred_username=user["name"],
                    name=user["displayName"],
                    picture=user["avatar"],
                    groups=list(user["groups"] or []),
                )
            if "email" in scopes:
                info.update(email=user["email"], email_verified=user["emailVerified"])
            return jsonify(info)

    def _get_account(self) -> Response:
        with self._lock:
            user, _, message = self._bearer_user()
            if user is None:
                return jsonify(status="error", msg=message, data=None)
            return jsonify(
                status="ok",
                msg="",
                sub=user["id"],
                name=user["name"],
                data=self._visible_user(user),
                data2=self._organization(user["owner"]),
            )

    def _get_user(self) -> Response:
        with self._lock:
            caller, _, message = self._bearer_user()
            if caller is None:
                return jsonify(status="error", msg=message, data=None)
            owner, _, name = request.args.get("id", "").partition("/")
            if not self._may_manage(caller, (owner, name)):
                return jsonify(status="error", msg=MSG_UNAUTHORIZED, data=None)
            target = self._users.get((owner, name))
            if target is None:
                return jsonify(status="error", msg=f"The user: {owner}/{name} doesn't exist", data=None)
            return jsonify(status="ok", msg="", data=self._visible_user(target))

    def _update_user(self) -> Response:
        with self._lock:
            caller, _, message = self._bearer_user()
            if caller is None:
                return jsonify(status="error", msg=message, data=None)
            user_id = request.args.get("id") or f"{caller['owner']}/{caller['name']}"
            owner, _, name = user_id.partition("/")
            if not self._may_manage(caller, (owner, name)):
                return jsonify(status="error", msg=MSG_UNAUTHORIZED, data=None)
            old = self._users.get((owner, name))
            if old is None:
                return jsonify(status="error", msg=f"The user: {user_id} doesn't exist", data=None)
            body = request.get_json(force=True, silent=True)
            if not isinstance(body, dict):
                return jsonify(status="error", msg="unexpected end of JSON input", data=None)
            new = self._replace_user(old, body, caller_is_admin=bool(caller["isAdmin"]))
            if isinstance(new, str):
                return jsonify(status="error", msg=new, data=None)
            self._users[(owner, name)] = new
            return jsonify(status="ok", msg="", data="Affected")

    def _logout(self) -> Response:
        hint = request.values.get("id_token_hint", "")
        redirect_uri = request.values.get("post_logout_redirect_uri", "")
        state = request.values.get("state", "")
        session_id = request.cookies.get(SESSION_COOKIE, "")
        with self._lock:
            session_user = self._sessions.get(session_id)
            if not hint and not redirect_uri:
                self._sessions.pop(session_id, None)
                shown = "/".join(session_user) if session_user else ""
                response = jsonify(status="ok", msg="", data=shown)
            elif not redirect_uri:
                return jsonify(status="error", msg="Missing parameter: post_logout_redirect_uri", data=None)
            elif not hint:
                return jsonify(status="error", msg="Missing parameter: id_token_hint", data=None)
            else:
                token = self._tokens.get(hint)
                if token is None:
                    return jsonify(status="error", msg="Token not found, invalid accessToken", data=None)
                if not self._valid_redirect(redirect_uri):
                    message = f"Redirect URI: {redirect_uri} doesn't exist in the allowed Redirect URI list"
                    return jsonify(status="error", msg=message, data=None)
                self._forget_token(token)
                self._sessions.pop(session_id, None)
                response = redirect(f"{redirect_uri.rstrip('/')}?{urlencode({'state': state})}", code=302)
        response.delete_cookie(SESSION_COOKIE)
        return response

    _CONTROLS = frozenset(
        {
            "add_user", "delete_user", "user", "mfa_accounts", "set_mfa_accounts", "add_redirect_uri",
            "set_token_lifetime", "revoke_tokens", "issue_token", "inject_fault", "clear_faults",
            "set_mfa_accounts_item", "request_count", "request_counts", "reset_counts",
        }
    )  # fmt: skip

    def _control(self, method: str) -> Response:
        if method not in self._CONTROLS:
            return Response(f"unknown control {method!r}", status=404, mimetype="text/plain")
        kwargs = request.get_json(force=True, silent=True) or {}
        try:
            result = getattr(self, method)(**kwargs)
        except (TypeError, ValueError, KeyError) as exc:
            return jsonify(error=f"{type(exc).__name__}: {exc}"), 400
        return jsonify(result=result)


def _parse_seed(text: str) -> tuple[str, str, str]:
    user_id, sep, password = text.partition(":")
    owner, slash, name = user_id.partition("/")
    if not sep or not slash or not owner or not name:
        raise argparse.ArgumentTypeError(f"expected org/name:password, not {text!r}")
    return owner, name, password


def main(argv: list[str] | None = None) -> None:
    """Run the server in the foreground with HTTP controls until interrupted."""
    parser = argparse.ArgumentParser(description="A Casdoor-compatible server for manual runs and benchmarks.")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--organization", default="built-in", help="the application's organization")
    parser.add_argument("--client-id", default="webauth-client-id")
    parser.add_argument("--client-secret", default="webauth-client-secret")
    parser.add_argument("--redirect-uri", action="append", default=[], help="allowed redirect URI (repeatable)")
    parser.add_argument("--seed-user", action="append", default=[], type=_parse_seed, help="org/name:password")
    parser.add_argument("--seed-admin", action="append", default=[], type=_parse_seed, help="org/name:password")
    args = parser.parse_args(argv)
    server = CasdoorServer(
        port=args.port,
        organization=args.organization,
        client_id=args.client_id,
        client_secret=args.client_secret,
        redirect_uris=args.redirect_uri,
        http_controls=True,
        log_requests=True,
    )
    for owner, name, password in args.seed_user:
        server.add_user(owner, name, password)
    for owner, name, password in args.seed_admin:
        server.add_user(owner, name, password, is_admin=True)
    server.start()
    print(f"Casdoor test server at {server.url} (client_id={server.client_id}, client_secret={server.client_secret})")
    print(f"redirect URIs: {', '.join(args.redirect_uri) or '(none: add with --redirect-uri)'}; Ctrl-C stops it.")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
