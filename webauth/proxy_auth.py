"""Single sign-on from the reverse proxy: a header naming the user (`Remote-User` from Authelia,
Authentik, oauth2-proxy...), believed only when the proxy itself sends it.

Off unless `WEBAUTH_TRUSTED_PROXIES` and `WEBAUTH_REMOTE_USER_HEADER` are both set. Then:

- **Who sent it.** The header counts only when the request's immediate peer, the address that
  opened the TCP connection to gunicorn, is a trusted proxy. That is `REMOTE_ADDR` as the server
  set it, before ProxyFix replaced it with a value taken from `X-Forwarded-For`: that header is
  written by whoever sends the request, the peer address is not. From anyone else the header is
  ignored, and a warning is logged (with the name, which is no secret, and the address).
- **Signing in.** A page load with no session signs in the user the proxy names (creating them
  when `WEBAUTH_REMOTE_USER_CREATE` allows), through the same server-side session records as
  every sign-in (`auth_session.sign_in`), with method "proxy". Such a sign-in typed no password
  here, so it never counts as a re-authentication: showing or exporting secrets still asks for
  the password.
- **Staying signed in.** A proxy session lasts as long as the proxy keeps naming its user: when
  the header names someone else, is gone, or the request came around the proxy, the session ends
  on that request. Requests that show nothing of a user (static files, the manifest, the
  service worker, health and metrics) neither start nor end a session, so a proxy rule that lets
  them through without signing in does not sign people out.
- **Signing out** of a proxy session (or the idle lock) pauses the automatic sign-in in that
  browser; the sign-in page then offers to continue as the proxy's user, and
  `WEBAUTH_REMOTE_USER_LOGOUT_URL` can send "Sign out" on to the proxy's own sign-out.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Address, IPv6Network, ip_address

from flask import Flask, current_app, g, request, session
from flask_login import current_user, logout_user
from sqlalchemy.exc import IntegrityError

from webauth import audit, users
from webauth.auth_session import (
    COOKIELESS_PREFIX,
    PROXY_METHOD,
    PROXY_PAUSED_KEY,
    SESSION_TOKEN_KEY,
    current_session,
    sign_in,
)
from webauth.extensions import db
from webauth.keys import keyring
from webauth.models import SessionRecord

# Endpoints that show nothing of a user: a proxy's header neither starts nor ends a session there.
PASSIVE_ENDPOINTS = frozenset(
    {"static", "pwa.manifest", "pwa.service_worker", "ops.healthz", "ops.scrape", "offline.page"}
)
# The cookie remembers the last refused name, so a refusal is audited once per browser, not per page.
REFUSED_KEY = "proxy_refused"
MAX_NAME_LENGTH = 255


@dataclass(frozen=True)
class ProxySignOn:
    """The settings of single sign-on from the proxy (config.py), read once at start-up."""

    trusted: tuple[IPv4Network | IPv6Network, ...]
    header: str
    create_users: bool
    logout_url: str

    def trusts(self, peer: str) -> bool:
        try:
            address = ip_address(peer.split("%", 1)[0])  # an IPv6 zone is no part of the address
        except ValueError:
            return False
        # A server listening on [::] sees IPv4 peers as ::ffff:a.b.c.d.
        if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.trusted)


def configured(app: Flask | None = None) -> ProxySignOn | None:
    return (app or current_app).extensions.get("webauth.proxy_sign_on")


def init_app(app: Flask) -> None:
    """Turn single sign-on on when both settings are there; otherwise nothing is registered."""
    trusted, header = app.config["WEBAUTH_TRUSTED_PROXIES"], app.config["WEBAUTH_REMOTE_USER_HEADER"]
    app.add_template_global(offer, "proxy_sign_in")
    if not trusted or not header:
        return
    app.extensions["webauth.proxy_sign_on"] = ProxySignOn(
        trusted=trusted,
        header=header,
        create_users=app.config["WEBAUTH_REMOTE_USER_CREATE"],
        logout_url=app.config["WEBAUTH_REMOTE_USER_LOGOUT_URL"],
    )
    app.before_request(follow_proxy)


def immediate_peer() -> str:
    """The address that connected to this server: never one a client can write into a header."""
    original = request.environ.get("werkzeug.proxy_fix.orig")
    if original is not None:
        return original.get("REMOTE_ADDR") or ""
    return request.environ.get("REMOTE_ADDR") or ""


def vouched_name() -> str | None:
    """The user the trusted proxy names on this request, if any (logged when someone else sends it)."""
    if "proxy_vouched" in g:
        return g.proxy_vouched
    sign_on = configured()
    name = None
    raw = request.headers.get(sign_on.header) if sign_on is not None else None
    if raw is not None:
        peer = immediate_peer()
        if sign_on.trusts(peer):
            name = raw.strip()[: MAX_NAME_LENGTH + 1] or None
        else:
            current_app.logger.warning(
                "ignored the %s header (naming %r) from %s, which is not in WEBAUTH_TRUSTED_PROXIES",
                sign_on.header, raw[:64], peer,
            )
    g.proxy_vouched = name
    return name


@dataclass(frozen=True)
class Offer:
    """What the sign-in page says about the proxy's user: continue as them, or why not."""

    name: str
    refused: bool


def offer() -> Offer | None:
    """For the sign-in page: the user the proxy vouches for, and whether they were refused here."""
    if configured() is None or (name := vouched_name()) is None:
        return None
    return Offer(name=name, refused=session.get(REFUSED_KEY) == name[:MAX_NAME_LENGTH])


def logout_url(record: SessionRecord | None) -> str | None:
    """Where "Sign out" goes after ending this session: the proxy's sign-out, for a proxy session."""
    sign_on = configured()
    if sign_on is None or not sign_on.logout_url or record is None or record.method != PROXY_METHOD:
        return None
    return sign_on.logout_url


def follow_proxy() -> None:
    """Before each request: end a proxy session the proxy no longer vouches for; start one on a page load."""
    if request.endpoint in PASSIVE_ENDPOINTS or request.path.startswith(COOKIELESS_PREFIX):
        return  # the API answers bearer tokens, never a proxy's header
    name = vouched_name()
    if current_user.is_authenticated:
        record = current_session()
        if record is None or record.method != PROXY_METHOD or name == current_user.username:
            return
        _end_proxy_session(record, "header-changed" if name else "header-missing")
        db.session.commit()
    if name is None or not _is_page_load() or session.get(PROXY_PAUSED_KEY):
        return
    if not sign_in_as(name):
        db.session.commit()  # the refusal's audit event: a page load may commit nothing else


def sign_in_as(name: str) -> bool:
    """Sign in the user the proxy named (creating them when allowed); False, audited once, when refused.

    A sign-in commits (auth_session.sign_in); a refusal's audit event is the caller's to commit.
    """
    sign_on = configured()
    user = users.find_user(name) if len(name) <= MAX_NAME_LENGTH else None
    reason = None
    if user is None and sign_on is not None and sign_on.create_users and users.is_configured_admin_name(name):
        reason = "admin-name"  # an administrator's name is made by an operator, never by a header
    elif user is None and sign_on is not None and sign_on.create_users:
        try:
            user = users.create_proxy_user(name, keyring())
        except users.UserError:
            db.session.rollback()
            reason = "invalid-name"
        except IntegrityError:  # another request created them a moment ago
            db.session.rollback()
            user = users.find_user(name)
    elif user is None:
        reason = "unknown-user"
    if user is not None and user.disabled:
        reason = "disabled"
    if reason is not None:
        if session.get(REFUSED_KEY) != name[:MAX_NAME_LENGTH]:
            audit.record(
                "signin.failure", user=user, username=name[:MAX_NAME_LENGTH],
                details={"method": PROXY_METHOD, "reason": reason},
            )
            session[REFUSED_KEY] = name[:MAX_NAME_LENGTH]
        return False
    sign_in(user, PROXY_METHOD, reauthenticated_at=None)
    return True


def _is_page_load() -> bool:
    """A top-level page the browser navigates to: not a fragment, a form post or a script's fetch."""
    if request.method not in ("GET", "HEAD") or request.headers.get("HX-Request") == "true":
        return False
    mode = request.headers.get("Sec-Fetch-Mode")
    return mode is None or mode == "navigate"


def _end_proxy_session(record: SessionRecord, reason: str) -> None:
    """The proxy stopped vouching for this session's user: end it now, in every process."""
    audit.record("session.proxy_end", user=current_user._get_current_object(), details={"reason": reason})
    users.end_session(session.get(SESSION_TOKEN_KEY))  # the caller commits, with the audit event
    logout_user()
    session.clear()
