"""Sign-in with Casdoor over OpenID Connect, on Authlib's Flask client.

Every sign-in uses the authorization-code flow with PKCE (S256), a random `state` and a
`nonce`, kept by Authlib in the signed session cookie for the round trip. The id_token is
verified before anything trusts it: RS256 signature against the server's JWKS (fetched
again once when the key id is unknown, so key rotation works), `iss` equal to the issuer
of the discovery document, `aud` holding our client id, `exp` (with a small leeway for
clock skew) and the `nonce` of this very sign-in. Casdoor's id_token is its access token,
so the same string is then used as the bearer token of the REST calls.

Each app gets its own Authlib registry (`app.extensions`), so two apps in one process
(tests, a benchmark) never share a server's metadata. Nothing here logs a token, a code or
the PKCE verifier; Authlib's own DEBUG logging, which prints the verifier, is raised to INFO.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from authlib.integrations.base_client.errors import MismatchingStateError, OAuthError
from authlib.integrations.flask_client import OAuth
from authlib.integrations.requests_client import OAuth2Session
from flask import Flask, current_app, redirect, request, session
from flask_babel import gettext as _
from joserfc import jwt
from joserfc.errors import BadSignatureError, ClaimError, ExpiredTokenError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry
from werkzeug.wrappers import Response

from webauth.models import utcnow

log = logging.getLogger(__name__)
if logging.getLogger("authlib").getEffectiveLevel() < logging.INFO:
    logging.getLogger("authlib").setLevel(logging.INFO)

NAME = "casdoor"
SCOPE = "openid profile email"
# Seconds of clock skew allowed when checking `exp`, `nbf` and `iat`.
LEEWAY = 60
# Casdoor sends `expires_in`; a token response without it is taken to last this long.
DEFAULT_TOKEN_SECONDS = 3600
_EXTENSION = "webauth.casdoor.oauth"
LOGIN_LINK_SCHEME = "casdoor-authenticator"


class SignInError(Exception):
    """A sign-in that must be refused; `message` is for the user, `reason` for the audit log."""

    def __init__(self, message: str, reason: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class Tokens:
    """What the token endpoint answered, reduced to what webauth keeps (sealed)."""

    access_token: str
    refresh_token: str | None
    expires_at: datetime

    @classmethod
    def from_response(cls, answer: Mapping[str, Any]) -> Tokens:
        access = answer.get("access_token")
        if not isinstance(access, str) or not access:
            raise SignInError(_("Casdoor did not send an access token."), "no-access-token", 502)
        try:
            seconds = int(answer.get("expires_in") or DEFAULT_TOKEN_SECONDS)
        except (TypeError, ValueError):
            seconds = DEFAULT_TOKEN_SECONDS
        refresh = answer.get("refresh_token")
        return cls(
            access, refresh if isinstance(refresh, str) and refresh else None, utcnow() + timedelta(seconds=seconds)
        )


@dataclass(frozen=True)
class Identity:
    """A verified Casdoor user: keyed by (issuer, subject), shown as `owner/name`.

    `authenticated_at` is the token's `auth_time`: when the user last typed their password
    (or passed another sign-in method) at Casdoor. Casdoor sets it from the sign-in that made
    the authorization code (its AuthenticationContext) and keeps it across silent sign-ins
    and refreshes; older Casdoor releases leave it out, and then it is None.
    """

    issuer: str
    subject: str
    owner: str
    name: str
    display_name: str
    is_admin: bool
    authenticated_at: datetime | None = None
    # The Casdoor groups the user is in (the `groups` claim), or None when the token says nothing.
    groups: tuple[str, ...] | None = None

    @property
    def casdoor_id(self) -> str:
        return f"{self.owner}/{self.name}"

    def fresh_authentication(self, window_seconds: int) -> datetime | None:
        """When the user signed in at Casdoor, if that was within the last `window_seconds`; else None.

        Only such a sign-in counts as a password entry here: an `auth_time` from an older
        Casdoor session, one in the future (beyond the clock-skew leeway), or none at all
        does not, since Casdoor may have signed the browser in without asking anything.
        """
        at = self.authenticated_at
        if at is None:
            return None
        age = (utcnow() - at).total_seconds()
        if age < -LEEWAY or age > window_seconds:
            return None
        return min(at, utcnow())

    @classmethod
    def from_claims(cls, issuer: str, claims: Mapping[str, Any]) -> Identity:
        """From the claims of Casdoor's default "JWT" token format, or of "JWT-Standard"."""
        owner = claims.get("owner")
        name = claims.get("preferred_username") if "preferred_username" in claims else claims.get("name")
        subject = claims.get("sub")
        if not all(isinstance(value, str) and value for value in (owner, name, subject)):
            raise SignInError(_("Casdoor's answer does not say who signed in."), "claims-missing", 502)
        display = claims.get("displayName") or claims.get("name") or name
        return cls(
            issuer=issuer,
            subject=str(subject),
            owner=str(owner),
            name=str(name),
            display_name=str(display),
            is_admin=claims.get("isAdmin") is True,
            authenticated_at=_auth_time(claims),
            groups=_groups(claims.get("groups")),
        )


def _groups(value: Any) -> tuple[str, ...] | None:
    if not isinstance(value, list):
        return None
    return tuple(name for name in value if isinstance(name, str))


def _auth_time(claims: Mapping[str, Any]) -> datetime | None:
    value = claims.get("auth_time")
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def configured(app: Flask | None = None) -> bool:
    config = (app or current_app).config
    return bool(config.get("WEBAUTH_CASDOOR_URL") and config.get("WEBAUTH_CASDOOR_CLIENT_ID"))


def init_app(app: Flask) -> None:
    """Register the Casdoor client of this app when Casdoor is configured."""
    if not configured(app):
        return
    oauth = OAuth(app)
    secret = app.config["WEBAUTH_CASDOOR_CLIENT_SECRET"] or None
    oauth.register(
        NAME,
        client_id=app.config["WEBAUTH_CASDOOR_CLIENT_ID"],
        client_secret=secret,
        server_metadata_url=f"{app.config['WEBAUTH_CASDOOR_URL']}/.well-known/openid-configuration",
        client_kwargs=_client_kwargs(app),
    )
    app.extensions[_EXTENSION] = oauth


def _client_kwargs(app: Flask) -> dict[str, Any]:
    timeout = max(1, app.config["WEBAUTH_CASDOOR_TIMEOUT"])
    return {
        "scope": SCOPE,
        "code_challenge_method": "S256",
        # A public client when no secret is set: PKCE alone then binds the code to this browser.
        "token_endpoint_auth_method": "client_secret_basic" if app.config["WEBAUTH_CASDOOR_CLIENT_SECRET"] else "none",
        "default_timeout": (min(5, timeout), timeout),
    }


def _client():
    return current_app.extensions[_EXTENSION].create_client(NAME)


def metadata() -> dict[str, Any]:
    """The discovery document (fetched once per process); SignInError when Casdoor is unreachable."""
    try:
        return _client().load_server_metadata()
    except (requests.RequestException, ValueError) as exc:
        log.warning("Casdoor discovery failed: %s", type(exc).__name__)
        raise SignInError(_("Casdoor could not be reached; try again later."), "unreachable", 502) from None


def issuer() -> str:
    value = metadata().get("issuer")
    if not isinstance(value, str) or not value:
        raise SignInError(_("Casdoor's discovery document names no issuer."), "no-issuer", 502)
    return value


def begin(redirect_uri: str, *, next_url: str, mode: str, **state: Any) -> Response:
    """The redirect to Casdoor's authorize page; `next_url`, `mode` and `state` come back in the state data.

    `mode` is "signin", "renew" (a signed-in, linked user's fresh tokens), "connect" (link
    the signed-in user, after a confirmation) or "reauth". A re-authentication asks Casdoor
    for a fresh login (`prompt=login`, `max_age=0`); since a Casdoor application with
    automatic sign-in may still answer from an open session, the callback also checks the
    token's `auth_time` (Identity.fresh_authentication).
    """
    client = _client()
    metadata()
    extra = {"prompt": "login", "max_age": 0} if mode == "reauth" else {}
    try:
        found = client.create_authorization_url(redirect_uri, **extra)
    except requests.RequestException:
        raise SignInError(_("Casdoor could not be reached; try again later."), "unreachable", 502) from None
    client.save_authorize_data(redirect_uri=redirect_uri, next_url=next_url, mode=mode, **state, **found)
    return redirect(found["url"])


def pending_flow() -> dict[str, Any] | None:
    """The state data of the sign-in this callback answers, if the state is known."""
    state = request.args.get("state")
    if not state:
        return None
    return _client().framework.get_state_data(session, state)


def finish() -> tuple[Identity, Tokens]:
    """Exchange the code (with the PKCE verifier) and verify the id_token; SignInError if anything is off."""
    if request.args.get("error"):
        description = request.args.get("error_description") or request.args["error"]
        raise SignInError(_("Casdoor did not sign you in: %(reason)s", reason=description[:200]), "denied", 400)
    if not request.args.get("code"):
        raise SignInError(_("The answer from Casdoor has no authorization code."), "no-code", 400)
    expected_issuer = issuer()
    client = _client()
    options = {
        "iss": {"essential": True, "values": [expected_issuer]},
        "aud": {"essential": True, "values": [client.client_id]},
    }
    try:
        answer = client.authorize_access_token(claims_options=options, leeway=LEEWAY)
    except MismatchingStateError:
        raise SignInError(
            _("This sign-in did not start here or has expired (the state does not match). Please try again."),
            "state",
            400,
        ) from None
    except OAuthError as error:
        reason = getattr(error, "description", None) or getattr(error, "error", "") or "refused"
        raise SignInError(
            _("Casdoor refused the sign-in: %(reason)s", reason=str(reason)[:200]), "token-endpoint", 400
        ) from None
    except requests.RequestException:
        raise SignInError(_("Casdoor could not be reached; try again later."), "unreachable", 502) from None
    except JoseError as error:
        raise _token_error(error) from None
    except ValueError:
        raise SignInError(_("Casdoor sent an answer webauth could not read."), "garbled", 502) from None
    claims = answer.get("userinfo")
    if not claims:
        raise SignInError(_("Casdoor did not send an ID token."), "no-id-token", 400)
    return Identity.from_claims(expected_issuer, claims), Tokens.from_response(answer)


def _token_error(error: Exception) -> SignInError:
    """A message that says which check of the ID token failed."""
    if isinstance(error, BadSignatureError):
        return SignInError(_("The ID token from Casdoor has a bad signature."), "id-token-signature", 401)
    if isinstance(error, ExpiredTokenError):
        return SignInError(_("The ID token from Casdoor has expired."), "id-token-expired", 401)
    if isinstance(error, ClaimError):
        claim = getattr(error, "claim", "") or ""
        messages = {
            "iss": _("The ID token was issued by another server than the configured Casdoor."),
            "aud": _("The ID token was issued for another application."),
            "nonce": _("The ID token belongs to another sign-in (the nonce does not match)."),
            "exp": _("The ID token from Casdoor has expired."),
            "azp": _("The ID token was issued for another application."),
        }
        message = messages.get(claim, _("The ID token from Casdoor is not valid (%(claim)s).", claim=claim))
        return SignInError(message, f"id-token-{claim or 'claims'}", 401)
    return SignInError(_("The ID token from Casdoor could not be verified."), "id-token", 401)


def token_parties(claims: Mapping[str, Any]) -> frozenset[str]:
    """The client ids a token was issued to: its `aud` (a string or a list) and its `azp`."""
    audience = claims.get("aud")
    values = [audience] if isinstance(audience, str) else list(audience) if isinstance(audience, list) else []
    values.append(claims.get("azp"))
    return frozenset(value for value in values if isinstance(value, str) and value)


def verify_access_token(token: str) -> dict[str, Any]:
    """The claims of a Casdoor access token verified by signature, issuer and expiry.

    For login links. Casdoor's account page puts in the link a token of the user's own
    Casdoor application (GetAccessTokenByUser), not one issued to this app, so the audience
    is the caller's to judge (`token_parties`): every application on the same Casdoor holds
    tokens that pass the checks here. The caller also checks the token with Casdoor.
    """
    meta = metadata()
    expected_issuer = issuer()
    client = _client()
    try:
        keys = KeySet.import_key_set(client.fetch_jwk_set())
        registry = JWSRegistry(algorithms=meta.get("id_token_signing_alg_values_supported") or ["RS256"])
        decoded = jwt.decode(token, keys, registry=registry)
        jwt.JWTClaimsRegistry(leeway=LEEWAY, iss={"essential": True, "values": [expected_issuer]}).validate(
            decoded.claims
        )
    except requests.RequestException:
        raise SignInError(_("Casdoor could not be reached; try again later."), "unreachable", 502) from None
    except ExpiredTokenError:
        raise SignInError(
            _("This login link has expired; show a new one on your Casdoor account page."), "link-expired", 400
        ) from None
    except (JoseError, ValueError) as error:
        reason = _token_error(error).reason.replace("id-token", "link-token")
        raise SignInError(_("The access token in this login link is not valid."), reason, 400) from None
    return dict(decoded.claims)


def refresh(refresh_token: str) -> Tokens:
    """New tokens for a refresh token; raises OAuthError (refused) or requests errors (unreachable)."""
    app = current_app._get_current_object()
    kwargs = _client_kwargs(app)
    kwargs.pop("code_challenge_method")
    with OAuth2Session(
        app.config["WEBAUTH_CASDOOR_CLIENT_ID"], app.config["WEBAUTH_CASDOOR_CLIENT_SECRET"] or None, **kwargs
    ) as oauth_session:
        endpoint = metadata().get("token_endpoint")
        answer = oauth_session.refresh_token(endpoint, refresh_token=refresh_token)
    return Tokens.from_response(answer)


def end_session_endpoint() -> str | None:
    """Where the browser ends its Casdoor session, when the server offers it."""
    try:
        endpoint = metadata().get("end_session_endpoint")
    except SignInError:
        return None
    return endpoint if isinstance(endpoint, str) and endpoint.startswith(("https://", "http://")) else None


def origin_of(url: str) -> str:
    """scheme://host[:port], lower-cased, default ports dropped: how two server URLs are compared."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    if port is None or (scheme, port) in {("http", 80), ("https", 443)}:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


@dataclass(frozen=True)
class LoginLink:
    server_url: str
    access_token: str


def parse_login_link(text: str) -> LoginLink:
    """`casdoor-authenticator://login?serverUrl=...&accessToken=...`, as Casdoor's account page shows it."""
    text = text.strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() != LOGIN_LINK_SCHEME or parts.netloc.lower() != "login":
        raise SignInError(
            _("This is not a Casdoor login link (it starts with %(prefix)s).", prefix=f"{LOGIN_LINK_SCHEME}://login"),
            "link-format",
            422,
        )
    query = parse_qs(parts.query, keep_blank_values=True)
    server = (query.get("serverUrl") or [""])[0]
    token = (query.get("accessToken") or [""])[0]
    if not server or not token:
        raise SignInError(_("The login link lacks its server address or its access token."), "link-format", 422)
    return LoginLink(server, token)
