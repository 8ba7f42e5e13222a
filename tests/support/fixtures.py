"""Casdoor fixtures shared by tests/casdoor, tests/functional and tests/e2e.

A fresh fake Casdoor per test, seeded with one organization. The RSA signing key is made
once per session: generating it is the slow part of starting a server, and no test depends
on a server having a key of its own. `tests/conftest.py` imports these, so every test
folder sees them.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests
from joserfc.jwk import RSAKey

from tests.support.casdoor_server import CasdoorServer

REDIRECT_URI = "http://127.0.0.1:5999/auth/casdoor/callback"
# The redirect URI of an app driven by Flask's test client (its host is "localhost").
TEST_CLIENT_REDIRECT_URI = "http://localhost/auth/casdoor/callback"
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

    The application allows `REDIRECT_URI` (listed first) and the test client's callback.
    """
    with CasdoorServer(
        organization="acme", redirect_uris=[REDIRECT_URI, TEST_CLIENT_REDIRECT_URI], signing_key=signing_key
    ) as server:
        server.add_user("acme", "alice", "alice-pw", display_name="Alice", mfa_accounts=[GITHUB])
        server.add_user("acme", "bob", "bob-pw")
        server.add_user("acme", "admin", "admin-pw", is_admin=True)
        yield server


@pytest.fixture
def casdoor_config(app_config, casdoor: CasdoorServer) -> dict:
    """The test app's configuration with Casdoor pointing at the fake, one organization.

    The timeout is the production default: on a machine running two suites at once a token refresh
    took over 2 s. Tests of timeouts set a short one themselves.
    """
    return {
        **app_config,
        "WEBAUTH_CASDOOR_URL": casdoor.url,
        "WEBAUTH_CASDOOR_CLIENT_ID": casdoor.client_id,
        "WEBAUTH_CASDOOR_CLIENT_SECRET": casdoor.client_secret,
        "WEBAUTH_CASDOOR_ORGANIZATION": "acme",
        "WEBAUTH_CASDOOR_TIMEOUT": 10,
    }


@pytest.fixture
def casdoor_app(casdoor_config) -> Iterator:
    """The app with Casdoor on; like `app`, no context is pushed."""
    from webauth import create_app
    from webauth.extensions import db

    app = create_app(dict(casdoor_config))
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def casdoor_client(casdoor_app):
    return casdoor_app.test_client()


@pytest.fixture
def casdoor_app_with(casdoor_config) -> Iterator:
    """A factory of apps with Casdoor on and some settings changed; like `casdoor_app` otherwise."""
    from webauth import create_app
    from webauth.extensions import db

    made = []

    def make(**settings):
        app = create_app({**casdoor_config, **settings})
        made.append(app)
        return app

    yield make
    for app in made:
        with app.app_context():
            db.engine.dispose()


def casdoor_sign_in(client, username: str = "alice", password: str = "alice-pw", *, start: str = "/auth/casdoor/login"):
    """Sign in through the fake's real login form; returns the app's answer to the callback."""
    begun = client.get(start)
    assert begun.status_code == 302, begun.get_data(as_text=True)
    callback = casdoor_authorize(begun.headers["Location"], username, password)
    return client.get(callback)


def casdoor_authorize(authorize_url: str, username: str, password: str) -> str:
    """Submit Casdoor's login form as a browser would; the path and query of the redirect back."""
    form = {"username": username, "password": password}
    answer = requests.post(authorize_url, data=form, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    parts = urlsplit(answer.headers["Location"])
    return f"{parts.path}?{parts.query}"
