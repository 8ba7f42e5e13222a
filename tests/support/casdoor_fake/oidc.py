"""The fake Casdoor's OpenID Connect side: discovery, JWKS, the application check
(`/api/get-app-login`), the login form and authorization code flow with PKCE S256, the token
endpoint (both grants), `/api/userinfo` and `/api/logout`.

A mixin of `CasdoorServer`, whose state (users, tokens, codes, sessions, the lock) it uses.
"""

from __future__ import annotations

import hmac
import html
import secrets
import time
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from flask import Response, jsonify, redirect, request
from joserfc import jwt
from joserfc.errors import JoseError

from tests.support.casdoor_fake.common import (
    CODE_LIFETIME,
    MSG_FORBIDDEN,
    PKCE_CHALLENGE,
    SESSION_COOKIE,
    Application,
    BrowserSession,
    Code,
    Token,
    TokenError,
    later_than,
    pkce_s256,
    with_query,
)


class OidcEndpoints:
    """The OpenID Connect endpoints of `CasdoorServer`."""

    def _user_claims(self, user: Mapping[str, Any]) -> dict[str, Any]:
        """The user fields Casdoor's default "JWT" token format carries (no password, no list)."""
        return {key: value for key, value in user.items() if key not in {"password", "mfaAccounts"}}

    def _issue(
        self, user_key: tuple[str, str], *, scope: str, nonce: str, client_id: str, auth_time: float | None
    ) -> dict[str, Any]:
        """Tokens for `client_id`'s application. `auth_time` is when the user typed their password
        (None: the token comes from no sign-in, as GetAccessTokenByUser's); Casdoor leaves it out then."""
        user = self._users[user_key]
        now = int(time.time())
        name = str(uuid.uuid4())
        registered = {"iss": self.issuer, "sub": user["id"], "aud": [client_id], "iat": now, "nbf": now}
        if auth_time is not None:
            registered["auth_time"] = int(auth_time)
        access = {
            **self._user_claims(user),
            "tokenType": "access-token",
            "nonce": nonce,
            "tag": "",
            "scope": scope,
            "azp": client_id,
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
            "azp": client_id,
            **registered,
            "exp": now + self._refresh_lifetime,
            "jti": f"admin/{name}",
        }
        header = {"alg": "RS256", "kid": self._key.kid, "typ": "JWT"}
        access_token = jwt.encode(header, access, self._key)
        refresh_token = jwt.encode(header, refresh, self._key)
        token = Token(
            access_token, refresh_token, user_key, client_id, scope,
            now + self._token_lifetime, now + self._refresh_lifetime, auth_time,
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

    def _sign_in(self, user_key: tuple[str, str]) -> None:
        user = self._users[user_key]
        user["updatedTime"] = later_than(user["updatedTime"])
        user["lastSigninTime"] = user["updatedTime"]

    def _valid_redirect(self, uri: str, client_id: str) -> bool:
        found = self._applications.get(client_id)
        return found is not None and uri in found.redirect_uris

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
            found = self._applications.get(args.get("clientId", ""))
            if found is None:
                return jsonify(status="error", msg="Invalid client_id", data=None)
            redirect_uri = args.get("redirectUri", "")
            application = {"owner": "admin", "name": found.name, "organization": found.organization,
                           "clientId": found.client_id, "clientSecret": "", "redirectUris": list(found.redirect_uris)}
            if not self._valid_redirect(redirect_uri, found.client_id):
                message = f"Redirect URI: {redirect_uri} doesn't exist in the allowed Redirect URI list"
                return jsonify(status="error", msg=message, data=application)
        return jsonify(status="ok", msg="", data=application)

    def _application_of_request(self) -> Application:
        """The application the authorize request names (checked before any page is shown)."""
        return self._applications[request.args.get("client_id", "")]

    def _jwks_view(self) -> Response:
        return jsonify(self.jwks)

    def _login_page(self, message: str = "", username: str = "", status: int = 200) -> Response:
        notice = f'<p role="alert">{html.escape(message)}</p>' if message else ""
        page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in - Casdoor (test)</title></head>
<body><main>
<h1>Sign in to {html.escape(self._application_of_request().name)}</h1>
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
            client_id = args.get("client_id", "")
            if client_id not in self._applications:
                return self._error_page("Invalid client_id")
            redirect_uri = args.get("redirect_uri", "")
            if not self._valid_redirect(redirect_uri, client_id):
                return self._error_page(f"Redirect URI: {redirect_uri} doesn't exist in the allowed Redirect URI list")
        if args.get("response_type") != "code":
            return self._error_page(f"Grant_type: {args.get('response_type')} is not supported in this application")
        if args.get("code_challenge_method") != "S256":
            return self._error_page("code_challenge_method must be S256 (PKCE is required; plain is rejected)")
        challenge = args.get("code_challenge", "")
        if not PKCE_CHALLENGE.fullmatch(challenge):
            return self._error_page("code_challenge must be the base64url SHA-256 of the verifier")

        with self._lock:
            browser = self._sessions.get(request.cookies.get(SESSION_COOKIE, ""))
            if request.method == "GET":
                # Casdoor's login page signs an open session in by itself when the application has
                # "auto sign-in"; that version of Casdoor reads no `prompt` (set_auto_signin).
                asks = args.get("prompt") == "login" and not self._auto_signin
                if browser is not None and browser.user_key in self._users and not asks:
                    return self._code_redirect(browser.user_key, session_id=None, auth_time=browser.auth_time)
                return self._login_page()
            username = request.form.get("username", "").strip()
            password = request.form.get("password", "")
            owner, _, name = username.rpartition("/")
            user_key = (owner or self._application_of_request().organization, name)
            stored = self._passwords.get(user_key)
            if stored is None or not hmac.compare_digest(stored.encode(), password.encode()):
                return self._login_page("Invalid username or password", username, status=401)
            if self._users[user_key]["isForbidden"]:
                return self._login_page(MSG_FORBIDDEN, username, status=403)
            session_id = secrets.token_urlsafe(24)
            typed_at = time.time()
            self._sessions[session_id] = BrowserSession(user_key, typed_at)
            return self._code_redirect(user_key, session_id=session_id, auth_time=typed_at)

    def _code_redirect(self, user_key: tuple[str, str], session_id: str | None, auth_time: float) -> Response:
        args = request.args
        self._sign_in(user_key)
        code = secrets.token_urlsafe(24)
        self._codes[code] = Code(
            user_key=user_key,
            client_id=args["client_id"],
            redirect_uri=args["redirect_uri"],
            challenge=args["code_challenge"],
            nonce=args.get("nonce", ""),
            scope=args.get("scope", ""),
            expires_at=time.time() + CODE_LIFETIME,
            auth_time=auth_time,
        )
        params = {"code": code}
        if "state" in args:
            params["state"] = args["state"]
        response = redirect(with_query(args["redirect_uri"], params), code=302)
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
        except TokenError as exc:
            response = jsonify(error=exc.error, error_description=exc.description)
            response.status_code = 401 if exc.error == "invalid_client" else 400
        else:
            response = jsonify(answer)
        response.headers["Cache-Control"] = "no-store"
        return response

    def _check_client(self, params: Mapping[str, str]) -> str:
        found = self._applications.get(params.get("client_id", ""))
        if found is None:
            raise TokenError("invalid_client", "client_id is invalid")
        secret = params.get("client_secret", "")
        if secret and not hmac.compare_digest(secret.encode(), found.client_secret.encode()):
            raise TokenError("invalid_client", "client_secret is invalid")
        return found.client_id

    def _grant(self, params: Mapping[str, str]) -> dict[str, Any]:
        grant_type = params.get("grant_type", "")
        if grant_type == "authorization_code":
            return self._grant_code(params, self._check_client(params))
        if grant_type == "refresh_token" and self._allow_refresh_grant:
            return self._grant_refresh(params, self._check_client(params))
        raise TokenError("unsupported_grant_type", f"grant_type: {grant_type} is not supported in this application")

    def _grant_code(self, params: Mapping[str, str], client_id: str) -> dict[str, Any]:
        value = params.get("code", "")
        if not value:
            raise TokenError("invalid_request", "authorization code should not be empty")
        code = self._codes.get(value)
        if code is None:
            raise TokenError("invalid_grant", "authorization code is invalid")
        if code.used:
            raise TokenError("invalid_grant", "authorization code has been used")
        if code.client_id != client_id:
            raise TokenError("invalid_grant", "the authorization code was issued to another application")
        if time.time() > code.expires_at:
            raise TokenError("invalid_grant", "authorization code has expired")
        if params.get("redirect_uri") != code.redirect_uri:
            raise TokenError("invalid_grant", "redirect_uri does not match the authorization request")
        verifier = params.get("code_verifier", "")
        if not hmac.compare_digest(pkce_s256(verifier), code.challenge):
            raise TokenError("invalid_grant", "verifier is invalid")
        if code.user_key not in self._users:
            raise TokenError("invalid_grant", "the user of this code no longer exists")
        code.used = True
        return self._issue(
            code.user_key, scope=code.scope, nonce=code.nonce, client_id=client_id, auth_time=code.auth_time
        )

    def _grant_refresh(self, params: Mapping[str, str], client_id: str) -> dict[str, Any]:
        value = params.get("refresh_token", "")
        access = self._refresh_index.get(value)
        token = self._tokens.get(access) if access else None
        if token is None or token.client_id != client_id:
            raise TokenError("invalid_grant", "refresh token is invalid, expired or revoked")
        try:
            jwt.decode(value, self._key, algorithms=["RS256"])
        except (JoseError, ValueError) as exc:
            raise TokenError("invalid_grant", f"parse refresh token error: {exc}") from None
        if time.time() >= token.refresh_expires_at:
            raise TokenError("invalid_grant", "refresh token is invalid, expired or revoked")
        user = self._users.get(token.user_key)
        if user is None or user["isForbidden"]:
            raise TokenError("invalid_grant", MSG_FORBIDDEN)
        self._forget_token(token)
        return self._issue(
            token.user_key, scope=params.get("scope") or token.scope, nonce="", client_id=client_id,
            auth_time=token.auth_time,
        )  # fmt: skip

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

    def _logout(self) -> Response:
        hint = request.values.get("id_token_hint", "")
        redirect_uri = request.values.get("post_logout_redirect_uri", "")
        state = request.values.get("state", "")
        session_id = request.cookies.get(SESSION_COOKIE, "")
        with self._lock:
            browser = self._sessions.get(session_id)
            if not hint and not redirect_uri:
                self._sessions.pop(session_id, None)
                shown = "/".join(browser.user_key) if browser else ""
                response = jsonify(status="ok", msg="", data=shown)
            elif not redirect_uri:
                return jsonify(status="error", msg="Missing parameter: post_logout_redirect_uri", data=None)
            elif not hint:
                return jsonify(status="error", msg="Missing parameter: id_token_hint", data=None)
            else:
                token = self._tokens.get(hint)
                if token is None:
                    return jsonify(status="error", msg="Token not found, invalid accessToken", data=None)
                if not self._valid_redirect(redirect_uri, token.client_id):
                    message = f"Redirect URI: {redirect_uri} doesn't exist in the allowed Redirect URI list"
                    return jsonify(status="error", msg=message, data=None)
                self._forget_token(token)
                self._sessions.pop(session_id, None)
                response = redirect(f"{redirect_uri.rstrip('/')}?{urlencode({'state': state})}", code=302)
        response.delete_cookie(SESSION_COOKIE)
        return response
