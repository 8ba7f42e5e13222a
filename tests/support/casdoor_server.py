"""A Casdoor-compatible OpenID Connect and REST server for the test suite and benchmarks.

It speaks the subset of Casdoor that webauth uses (webauth/casdoor/, docs/casdoor.md):
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

Several applications share the server, as on a real Casdoor: the one webauth is configured
with (`client_id`), and any added with `add_application`. Their tokens are alike (same issuer
and signing key); only `aud` and `azp` tell them apart. `account_page_link` gives the
`casdoor-authenticator://login?...` link of Casdoor's account page, whose token belongs to
the user's signup application (GetAccessTokenByUser), not to webauth.

Tokens carry `auth_time`, as current Casdoor releases do (its AuthenticationContext): the
time the user typed their password in the login form, kept when a browser's Casdoor session
signs in again without a form, and across refreshes. `age_sessions` moves those times back,
and `set_auto_signin(True)` makes an open session sign in even with `prompt=login`, as a
Casdoor application with "auto sign-in" does.

This module holds the server's state, its test controls and its life cycle; the endpoints are
in tests/support/casdoor_fake/ (`oidc.py`: sign-in and tokens, `rest.py`: the user API).

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
import copy
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any, Literal, Self
from urllib.parse import urlencode

from flask import Flask, Response, jsonify, request
from joserfc.jwk import RSAKey
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from tests.support.casdoor_fake.common import (
    FAULT_KINDS,
    REST_ENDPOINTS,
    Application,
    BrowserSession,
    Code,
    Fault,
    QuietRequestHandler,
    Token,
    later_than,
    normalise_mfa_accounts,
    now_text,
)
from tests.support.casdoor_fake.oidc import OidcEndpoints
from tests.support.casdoor_fake.rest import RestEndpoints


class CasdoorServer(OidcEndpoints, RestEndpoints):
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
        self._applications: dict[str, Application] = {
            client_id: Application(application, organization, client_id, client_secret, list(redirect_uris))
        }
        self._auto_signin = False
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
        self._tokens: dict[str, Token] = {}
        self._refresh_index: dict[str, str] = {}
        self._codes: dict[str, Code] = {}
        self._sessions: dict[str, BrowserSession] = {}
        self._faults: list[Fault] = []
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
        handler = WSGIRequestHandler if self._log_requests else QuietRequestHandler
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
            return list(self._applications[self.client_id].redirect_uris)

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
        signup_application: str | None = None,
    ) -> dict[str, Any]:
        """Create a user (as Casdoor's admin page would) and return a copy of it.

        `signup_application` (default: webauth's application) is the application whose token
        Casdoor's account page puts in the user's login link.
        """
        entries = normalise_mfa_accounts([dict(entry) for entry in mfa_accounts])
        if isinstance(entries, str):
            raise ValueError(entries)
        now = now_text()
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
            "signupApplication": signup_application if signup_application is not None else self.application,
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
        entries = normalise_mfa_accounts([dict(entry) for entry in accounts])
        if isinstance(entries, str):
            raise ValueError(entries)
        with self._lock:
            user = self._users[(owner, name)]
            user["mfaAccounts"] = entries
            user["updatedTime"] = later_than(user["updatedTime"])

    def set_groups(self, owner: str, name: str, groups: Iterable[str]) -> None:
        """Put the user in exactly these groups (`owner/name` each, as Casdoor names them), as
        Casdoor's admin page would; tokens issued from now on carry them in `groups`."""
        with self._lock:
            user = self._users[(owner, name)]
            user["groups"] = list(groups)
            user["updatedTime"] = later_than(user["updatedTime"])

    def add_redirect_uri(self, uri: str) -> None:
        """Allow one more redirect URI (the app under test learns its port late)."""
        with self._lock:
            self._applications[self.client_id].redirect_uris.append(uri)

    def add_application(
        self,
        name: str,
        client_id: str,
        client_secret: str = "",
        *,
        organization: str | None = None,
        redirect_uris: Iterable[str] = (),
    ) -> dict[str, Any]:
        """Another application on this Casdoor (another app using it for sign-in, or Casdoor's own)."""
        with self._lock:
            if client_id in self._applications:
                raise ValueError(f"the client id {client_id} exists already")
            found = Application(name, organization or self.organization, client_id, client_secret, list(redirect_uris))
            self._applications[client_id] = found
            return {"name": name, "organization": found.organization, "clientId": client_id}

    def account_page_token(self, owner: str, name: str) -> str:
        """The access token Casdoor's account page puts in the user's login link (GetAccessTokenByUser).

        Issued to the user's signup application when this server has it, else to the first
        application of the user's organization, else to webauth's; scope "profile", and no
        `auth_time`, since no password was typed for it.
        """
        with self._lock:
            user = self._users[(owner, name)]
            by_name = {app.name: app for app in self._applications.values()}
            found = by_name.get(user["signupApplication"]) or next(
                (app for app in self._applications.values() if app.organization == owner),
                self._applications[self.client_id],
            )
            return self._issue((owner, name), scope="profile", nonce="", client_id=found.client_id, auth_time=None)[
                "access_token"
            ]

    def account_page_link(self, owner: str, name: str) -> str:
        """The `casdoor-authenticator://login?...` link behind the QR code of the user's account page."""
        token = self.account_page_token(owner, name)
        return "casdoor-authenticator://login?" + urlencode({"serverUrl": self.url, "accessToken": token})

    def age_sessions(self, seconds: float) -> None:
        """Move back the password entry of every open Casdoor browser session (and codes not yet used)."""
        with self._lock:
            for browser in self._sessions.values():
                browser.auth_time -= seconds
            for code in self._codes.values():
                if code.auth_time is not None:
                    code.auth_time -= seconds

    def set_auto_signin(self, enabled: bool) -> None:
        """On: an open Casdoor session signs in without a form even when asked `prompt=login`."""
        with self._lock:
            self._auto_signin = enabled

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

    def issue_token(
        self,
        owner: str,
        name: str,
        *,
        scope: str = "openid profile email",
        nonce: str = "",
        client_id: str | None = None,
        auth_time: float | Literal["now"] | None = "now",
    ) -> dict:
        """A token response for the user without the browser flow (for REST tests).

        For webauth's application unless `client_id` names another; `auth_time` is when the
        user typed their password ("now", a Unix time, or None to leave the claim out).
        """
        with self._lock:
            self._sign_in((owner, name))
            target = client_id or self.client_id
            if target not in self._applications:
                raise ValueError(f"no application has the client id {target}")
            typed_at = time.time() if auth_time == "now" else auth_time
            return self._issue((owner, name), scope=scope, nonce=nonce, client_id=target, auth_time=typed_at)

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
            self._faults.append(Fault(kind, count, seconds, status, message, targets))

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

    def _forget_token(self, token: Token) -> None:
        self._tokens.pop(token.access_token, None)
        self._refresh_index.pop(token.refresh_token, None)

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

    _CONTROLS = frozenset(
        {
            "add_user", "delete_user", "user", "mfa_accounts", "set_mfa_accounts", "add_redirect_uri",
            "set_token_lifetime", "revoke_tokens", "issue_token", "inject_fault", "clear_faults",
            "set_mfa_accounts_item", "request_count", "request_counts", "reset_counts", "add_application",
            "account_page_token", "account_page_link", "age_sessions", "set_auto_signin",
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
