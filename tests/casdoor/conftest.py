"""Fixtures for the Casdoor tests: a fresh fake Casdoor per test, seeded with one organization.

The RSA signing key is made once per session: generating it is the slow part of starting
a server, and no test depends on a server having a key of its own.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from joserfc.jwk import RSAKey

from tests.support.casdoor_server import CasdoorServer

REDIRECT_URI = "http://127.0.0.1:5999/auth/casdoor/callback"
GITHUB = {"accountName": "alice@example.com", "issuer": "GitHub", "secretKey": "JBSWY3DPEHPK3PXP", "origin": "phone-1"}


@pytest.fixture
def github_entry() -> dict[str, str]:
    """The MFA account acme/alice starts with."""
    return dict(GITHUB)


@pytest.fixture(scope="session")
def signing_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "cert-built-in", "use": "sig", "alg": "RS256"})


@pytest.fixture
def casdoor(signing_key: RSAKey) -> Iterator[CasdoorServer]:
    """acme/alice (with `github_entry`), acme/bob, and acme/admin (an organization admin).

    The application allows one redirect URI, `casdoor.redirect_uris[0]`.
    """
    with CasdoorServer(organization="acme", redirect_uris=[REDIRECT_URI], signing_key=signing_key) as server:
        server.add_user("acme", "alice", "alice-pw", display_name="Alice", mfa_accounts=[GITHUB])
        server.add_user("acme", "bob", "bob-pw")
        server.add_user("acme", "admin", "admin-pw", is_admin=True)
        yield server
