"""Who the passkeys belong to: the relying party id (a host name) and the origin.

A passkey is bound for good to the relying party id it was made for, and each answer names
the origin of the page that asked. Both come from `WEBAUTH_PUBLIC_URL`, the address people
open (behind a reverse proxy, the proxy's address, never gunicorn's). Without it they are
taken from each request, which the proxy settings (`WEBAUTH_PROXY_HOPS`) make right behind a
proxy too; `flask doctor` says to set it, since a host name that changes strands every
passkey made under the old one.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import current_app, request

# What the authenticator shows as the site's name.
RP_NAME = "webauth"


@dataclass(frozen=True)
class RelyingParty:
    id: str
    origin: str
    name: str = RP_NAME


def origin_of(url: str) -> RelyingParty:
    """The relying party of an address: its host name, and its scheme, host and port."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    shown_host = f"[{host}]" if ":" in host else host
    default_port = 443 if parts.scheme == "https" else 80
    port = f":{parts.port}" if parts.port not in (None, default_port) else ""
    return RelyingParty(id=host, origin=f"{parts.scheme}://{shown_host}{port}")


def current() -> RelyingParty:
    """The relying party for this request: WEBAUTH_PUBLIC_URL's, else the request's own host.

    Without WEBAUTH_PUBLIC_URL, the scheme is https whenever WEBAUTH_HTTPS says people use
    HTTPS: a proxy that ends TLS reaches gunicorn over plain HTTP, and unless
    WEBAUTH_PROXY_HOPS lets it say so, the request looks like http while the browser's page,
    whose origin each answer names, is https.
    """
    configured = current_app.config.get("WEBAUTH_PUBLIC_URL") or ""
    if configured:
        return origin_of(configured)
    scheme = "https" if current_app.config.get("WEBAUTH_HTTPS") else request.scheme
    return origin_of(f"{scheme}://{request.host}")
