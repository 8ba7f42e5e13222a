"""Shared fixtures: one migrated database per run (SQLite, or PostgreSQL when
`WEBAUTH_TEST_DATABASE_URL` names one), emptied after every test, and app/client helpers.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import hypothesis
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

# The fake Casdoor and its users, for every test folder.
from tests.support.fixtures import (  # noqa: F401
    casdoor,
    casdoor_app,
    casdoor_app_with,
    casdoor_client,
    casdoor_config,
    github_entry,
    signing_key,
)
from webauth import clock, create_app
from webauth.extensions import db

# Timing varies on a shared 2-core machine: property tests judge results, not speed.
hypothesis.settings.register_profile("webauth", deadline=None, print_blob=True)
# CI (and the mutation run) draw the same examples every time, so that a green run means the
# same thing twice and a mutant's fate does not depend on luck; a developer's run explores.
hypothesis.settings.register_profile(
    "derandomized", parent=hypothesis.settings.get_profile("webauth"), derandomize=True
)
# `make mutation` runs the tests once per mutant: fewer examples, the same ones every time.
hypothesis.settings.register_profile(
    "mutation", parent=hypothesis.settings.get_profile("derandomized"), max_examples=25
)
hypothesis.settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("derandomized" if os.environ.get("CI") else "webauth")
)

ROOT = Path(__file__).resolve().parents[1]
# Test data kept in the repository: OTP vectors, and other apps' exports (interop/SOURCES.md).
FIXTURES = ROOT / "tests" / "fixtures"
INTEROP = FIXTURES / "interop"
TEST_PASSWORD = "correct horse battery"
# 2026-01-01 00:00:10 UTC: 10 s into a 30 s period, 20 s before its boundary, outside the preview.
FROZEN_AT = 1_767_225_610.0


def pytest_make_parametrize_id(config: pytest.Config, val: object, argname: str) -> str | None:
    """Test ids a command line can select again (mutmut runs tests by id), the same in every process.

    Pytest shows bytes, control characters, backslashes and non-ASCII letters escaped, and an
    id holding an escape no longer matches its own test. Bytes (often sealed with random salts,
    so different in each xdist worker) are named by their length; such text by a digest.
    """
    if isinstance(val, bytes):
        return f"{argname}-{len(val)}-bytes"
    if isinstance(val, str) and not (val.isascii() and val.isprintable() and "\\" not in val):
        return f"{argname}-{hashlib.sha256(val.encode('utf-8', 'surrogatepass')).hexdigest()[:8]}"
    return None


def make_keyring_json() -> str:
    return json.dumps({"primary": "k1", "keys": {"k1": base64.b64encode(os.urandom(32)).decode()}})


@pytest.fixture(autouse=True, scope="session")
def quick_password_hashing() -> Iterator[None]:
    """Argon2id at its smallest cost in the test process, so each sign-in takes milliseconds.

    Servers the tests start (gunicorn) keep the production cost; `test_password_hash_cost`
    checks that cost.
    """
    from argon2 import PasswordHasher

    from webauth import users

    production = users._hasher
    users._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    users._hasher = production


# Modules whose messages reach the user from pure code (importers, the otpauth parser).
_MESSAGE_MODULES = [
    "webauth.otp", "webauth.otpauth", "webauth.transfer._parsing", "webauth.transfer.registry", "webauth.tokens",
    "webauth.views.api.bodies", "webauth.views.api.guard", "webauth.users", "webauth.admin",
    "webauth.sharelinks.links", "webauth.views.sharelinks",
]


@pytest.fixture(autouse=True)
def messages_are_in_the_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every message the importers and the parser produce during a test must be in the catalog.

    A message added without `make messages` would show in English in every language; a test
    that meets it fails here, whatever it asserts about the message itself.
    """
    import importlib
    import pkgutil

    import webauth.transfer
    from tests.support.i18n import checked_gettext

    names = _MESSAGE_MODULES + [f"webauth.transfer.{m.name}" for m in pkgutil.iter_modules(webauth.transfer.__path__)]
    for name in dict.fromkeys(names):
        module = importlib.import_module(name)
        if callable(getattr(module, "_", None)):
            monkeypatch.setattr(module, "_", checked_gettext(module._))


@pytest.fixture
def frozen_clock() -> Iterator[clock.FrozenClock]:
    """The codes' clock held at FROZEN_AT (move it with `.set` or `.advance`).

    A test that compares the server's codes, seconds left or refresh delay with its own figures
    freezes the time they are computed at, rather than reading the wall clock on both sides of
    a request that may straddle a period boundary.
    """
    with clock.frozen(FROZEN_AT) as frozen:
        yield frozen


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    return os.environ.get("WEBAUTH_TEST_DATABASE_URL") or (
        f"sqlite:///{tmp_path_factory.mktemp('db') / 'webauth-test.db'}"
    )


@pytest.fixture(scope="session")
def keyring_json() -> str:
    return make_keyring_json()


@pytest.fixture(scope="session")
def base_config(database_url, keyring_json, tmp_path_factory) -> dict:
    return {
        "TESTING": True,
        "INSTANCE_PATH": str(tmp_path_factory.mktemp("instance")),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "WEBAUTH_KEYS": keyring_json,
        "RATELIMIT_ENABLED": False,
    }


@pytest.fixture(scope="session")
def migrated_database(base_config, database_url) -> str:
    """Apply the migrations once, from an empty database, as `flask db upgrade` would."""
    engine = sa.create_engine(database_url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()
    app = create_app(dict(base_config))
    with app.app_context():
        from flask_migrate import upgrade

        upgrade(revision="heads")
    return database_url


def _empty_tables(database_url: str) -> None:
    engine = sa.create_engine(database_url)
    with engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())
    engine.dispose()


@pytest.fixture(autouse=True)
def clean_database(request) -> Iterator[None]:
    """Every test starts from an empty, migrated database (only for tests that use it)."""
    if not {"app", "live_server", "migrated_database"} & set(request.fixturenames):
        yield
        return
    url = request.getfixturevalue("migrated_database")
    yield
    _empty_tables(url)


@pytest.fixture
def app_config(base_config, migrated_database) -> dict:
    return dict(base_config)


@pytest.fixture
def app(app_config) -> Iterator[Flask]:
    """The app, with no context pushed: each test-client request gets its own, as in production.

    Tests that touch the database directly do it in short `with app.app_context():` blocks:
    a context held across requests would share `g` and the session between them.
    """
    app = create_app(dict(app_config))
    yield app
    with app.app_context():
        db.engine.dispose()



@pytest.fixture
def client(app) -> FlaskClient:
    return app.test_client()


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, "the page carries no CSRF token"
    return match.group(1)


def account_state(app: Flask, uuid: str) -> dict:
    """Every column of an account (secret, counter, revision, dates...) and the audit events about it.

    Tests of refusals compare it before and after: a refused request must change nothing.
    """
    from webauth.models import Account, AuditEvent

    with app.app_context():
        account = db.session.scalar(sa.select(Account).where(Account.uuid == uuid))
        assert account is not None
        columns = {column.key: getattr(account, column.key) for column in sa.inspect(Account).column_attrs}
        events = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)).all()
        return {**columns, "audit": [(event.event, event.details) for event in events if uuid in str(event.details)]}


def post_form(client: FlaskClient, page: str, action: str, data: dict, **kwargs):
    """Post a form the way a browser does: fetch the page, take its CSRF token, submit."""
    token = csrf_from(client.get(page).get_data(as_text=True))
    return client.post(action, data={"csrf_token": token, **data}, **kwargs)


@pytest.fixture
def make_user(app):
    from webauth import users
    from webauth.keys import keyring

    def make(username: str = "alice", password: str = TEST_PASSWORD, admin: bool = False):
        with app.app_context():
            user = users.create_local_user(username, password, keyring(), is_admin=admin)
            db.session.commit()
            db.session.refresh(user)
            db.session.expunge(user)
            return user

    return make


@pytest.fixture
def user(make_user):
    return make_user("alice", admin=True)


def sign_in(client: FlaskClient, username: str = "alice", password: str = TEST_PASSWORD):
    response = post_form(client, "/login", "/login", {"username": username, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)
    return response


@pytest.fixture
def signed_in(client, user) -> FlaskClient:
    sign_in(client)
    return client
