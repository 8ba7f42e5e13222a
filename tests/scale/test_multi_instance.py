"""Two instances behind one load balancer: two gunicorns sharing one PostgreSQL and one Redis.

Each test drives both instances the way a load balancer without sticky sessions would: one
browser (a `requests.Session`, whose cookies ignore the port as a browser's do) sends each
request to either instance. The instances share nothing but the database, Redis, the keys
and `WEBAUTH_SECRET_KEY` (docs/operations.md, "Scaling out"), and one (fake) Casdoor, so what is checked here is
what a deployment needs: changes, sessions, revocations, rate limits and syncs are the same on
every instance.

Runs in CI's PostgreSQL pass (`WEBAUTH_TEST_DATABASE_URL`); SQLite is one file on one
machine, not a multi-instance deployment, so the tests skip on it.
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
import requests
from sqlalchemy import select

from tests.conftest import TEST_PASSWORD, csrf_from
from tests.support.casdoor_server import CasdoorServer
from tests.support.casdoor_vault import remote_entries, vault_entries
from tests.support.fixtures import casdoor_authorize
from tests.support.server import sign_in, start_server, stop_server
from tests.support.server import token as _token
from webauth.extensions import db
from webauth.keys import keyring
from webauth.models import User
from webauth.otp import OtpParams
from webauth.otpauth import AccountSpec, decode_secret, parse_uri
from webauth.vault import Vault

pytestmark = pytest.mark.skipif(
    not os.environ.get("WEBAUTH_TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="multi-instance tests need WEBAUTH_TEST_DATABASE_URL to name a PostgreSQL database (CI's second pass)",
)

REDIS_URL = os.environ.get("WEBAUTH_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
# Requests one share link may serve, and refused share-link tokens per address, in the test hour.
SHARE_LINK_LIMIT = 4
LOGIN_LIMIT = 3  # sign-in attempts per hour, per address and per username and address, over both instances
USER_LIMIT = 6  # failed sign-ins per hour for one username from browsers it never used, over both instances
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
Pair = tuple[str, str]


@pytest.fixture(scope="module")
def redis_db() -> redis.Redis:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.fail(f"Redis at {REDIS_URL} does not answer ({error}); scripts/start-services.sh starts it")
    return client


@pytest.fixture(scope="module")
def casdoor_world(signing_key) -> Iterator[CasdoorServer]:
    """One Casdoor for both instances; each test adds the users it needs."""
    with CasdoorServer(organization="acme", signing_key=signing_key) as server:
        yield server


@pytest.fixture(scope="module")
def instances(base_config, migrated_database, redis_db, casdoor_world, tmp_path_factory) -> Iterator[Pair]:
    """Base URLs of two gunicorns (2 workers x 4 threads each) on two ports, sharing the database and Redis."""
    env = {
        "WEBAUTH_CASDOOR_URL": casdoor_world.url,
        "WEBAUTH_CASDOOR_CLIENT_ID": casdoor_world.client_id,
        "WEBAUTH_CASDOOR_CLIENT_SECRET": casdoor_world.client_secret,
        "WEBAUTH_CASDOOR_ORGANIZATION": "acme",
        "WEBAUTH_DATABASE_URL": migrated_database,
        "WEBAUTH_KEYS": base_config["WEBAUTH_KEYS"],
        "WEBAUTH_SECRET_KEY": base_config["SECRET_KEY"],
        "WEBAUTH_RATELIMIT_ENABLED": "1",
        "WEBAUTH_RATELIMIT_STORAGE_URL": REDIS_URL,
        "WEBAUTH_LOGIN_RATE_LIMIT": f"{LOGIN_LIMIT} per hour",
        "WEBAUTH_LOGIN_USER_RATE_LIMIT": f"{USER_LIMIT} per hour",
        "WEBAUTH_SHARE_LINK_PER_LINK_RATE_LIMIT": f"{SHARE_LINK_LIMIT} per hour",
        "WEBAUTH_SHARE_LINK_REFUSAL_RATE_LIMIT": f"{SHARE_LINK_LIMIT} per hour",
        # The load balancer's X-Forwarded-For names the client, so tests can come from many addresses.
        "WEBAUTH_PROXY_HOPS": "1",
    }
    redis_db.flushdb()
    started = []
    try:
        for name in ("a", "b"):
            started.append(start_server(env, tmp_path_factory.mktemp(f"instance-{name}")))
            casdoor_world.add_redirect_uri(f"{started[-1][1]}/auth/casdoor/callback")
        yield started[0][1], started[1][1]
    finally:
        for process, _url in started:
            stop_server(process)


@pytest.fixture
def pair(instances: Pair, redis_db: redis.Redis, app) -> Pair:
    """The two instances, with the rate-limit counters emptied (and, through `app`, the database after the test)."""
    redis_db.flushdb()
    return instances


def listed(browser: requests.Session, base: str) -> str:
    """The code list as htmx fetches it; fails if the session is not accepted."""
    answer = browser.get(f"{base}/", headers={"HX-Request": "true"}, allow_redirects=False, timeout=30)
    assert answer.status_code == 200, f"{base} refused the session ({answer.status_code})"
    return answer.text


def refused(browser: requests.Session, base: str) -> bool:
    answer = browser.get(f"{base}/", allow_redirects=False, timeout=30)
    return answer.status_code == 302 and "/login" in answer.headers.get("Location", "")


def test_one_session_serves_on_both_and_changes_show_on_both(pair: Pair, app, user) -> None:
    """No sticky sessions: the cookie from A works on B, and what A writes B reads at once."""
    a, b = pair
    with app.app_context():
        alice = db.session.scalar(select(User).where(User.username == "alice"))
        gitlab = Vault(alice, keyring()).add(parse_uri(f"otpauth://totp/GitLab:alice?secret={SECRET}&issuer=GitLab"))
        db.session.commit()
        gitlab_uuid = gitlab.uuid
    browser = sign_in(a)
    assert "GitLab" in listed(browser, b)

    page = browser.get(f"{b}/accounts/new", timeout=30).text
    added = browser.post(
        f"{b}/accounts/new/uri",
        data={"csrf_token": csrf_from(page), "uri-uri": f"otpauth://totp/Forgejo:alice?secret={SECRET}&issuer=Forgejo",
              "uri-origin": "link"},
        allow_redirects=False, timeout=30,
    )
    assert added.status_code == 302, added.text
    assert "Forgejo" in listed(browser, a)

    list_page = browser.get(f"{a}/", timeout=30).text
    deleted = browser.post(
        f"{a}/accounts/{gitlab_uuid}/delete", data={"csrf_token": csrf_from(list_page)},
        allow_redirects=False, timeout=30,
    )
    assert deleted.status_code == 302
    on_b = listed(browser, b)
    assert f'id="account-{gitlab_uuid}"' not in on_b and "Forgejo" in on_b


def test_sign_in_attempts_count_across_both(pair: Pair, redis_db: redis.Redis, user) -> None:
    """Failed sign-ins spread over both instances hit one limit, kept in Redis, that both enforce."""
    a, b = pair
    browser = requests.Session()
    statuses = []
    for number in range(LOGIN_LIMIT + 1):
        base = (a, b)[number % 2]
        answer = browser.post(
            f"{base}/login",
            data={"csrf_token": _token(browser, f"{base}/login"), "username": "alice", "password": "wrong password"},
            allow_redirects=False, timeout=30,
        )
        statuses.append(answer.status_code)
    assert statuses == [401] * LOGIN_LIMIT + [429]
    assert redis_db.keys("LIMITS*"), "the counters are not in the shared Redis"

    for base in (a, b):  # the right password too, on either instance, until the window ends
        answer = browser.post(
            f"{base}/login",
            data={"csrf_token": _token(browser, f"{base}/login"), "username": "alice", "password": TEST_PASSWORD},
            allow_redirects=False, timeout=30,
        )
        assert answer.status_code == 429


def _attempt(browser: requests.Session, base: str, address: str, password: str) -> int:
    forwarded = {"X-Forwarded-For": address}
    token = csrf_from(browser.get(f"{base}/login", headers=forwarded, timeout=30).text)
    answer = browser.post(
        f"{base}/login", data={"csrf_token": token, "username": "alice", "password": password},
        headers=forwarded, allow_redirects=False, timeout=30,
    )  # fmt: skip
    if answer.status_code == 302:
        page = browser.get(f"{base}/", headers=forwarded, timeout=30).text
        browser.post(f"{base}/logout", data={"csrf_token": csrf_from(page)}, headers=forwarded, timeout=30)
    return answer.status_code


def test_failures_from_many_addresses_lock_those_addresses_not_the_user(
    pair: Pair, redis_db: redis.Redis, user
) -> None:
    """Issue 12, item 7, over two processes: the three sign-in limits live in the shared Redis."""
    a, b = pair
    laptop = requests.Session()  # alice's usual browser, known to both instances once she signed in on one
    assert _attempt(laptop, a, "10.0.0.1", TEST_PASSWORD) == 302

    bot = requests.Session()  # one address guessing on both instances: locked after LOGIN_LIMIT
    tries = [_attempt(bot, (a, b)[n % 2], "198.51.100.1", "a guess") for n in range(LOGIN_LIMIT + 1)]
    assert tries == [401] * LOGIN_LIMIT + [429]
    for number in range(USER_LIMIT - LOGIN_LIMIT):  # more addresses, one failure each: the username's window is spent
        assert _attempt(requests.Session(), (a, b)[number % 2], f"203.0.113.{number}", "a guess") == 401

    phone = requests.Session()  # alice on a browser she never used: waits out the per-username window
    assert _attempt(phone, a, "10.0.0.2", TEST_PASSWORD) == 429
    assert _attempt(phone, b, "10.0.0.2", TEST_PASSWORD) == 429
    for base in (b, a):  # her usual browser signs in on both, whatever the attackers did
        assert _attempt(laptop, base, "10.0.0.1", TEST_PASSWORD) == 302
    assert redis_db.keys("*login-user:alice*") and redis_db.keys("*login-user-address:alice:198.51.100.1*")


def test_a_revoked_session_is_refused_by_both(pair: Pair, user) -> None:
    """Revocation through one instance ends the session on every instance at its next request."""
    a, b = pair
    laptop, phone = sign_in(a), sign_in(b)
    for browser in (laptop, phone):
        for base in (a, b):
            listed(browser, base)

    me = phone.get(f"{b}/me/", timeout=30).text
    ended = phone.post(f"{b}/me/sessions/revoke-others", data={"csrf_token": csrf_from(me)}, timeout=30)
    assert ended.status_code == 200
    assert refused(laptop, a) and refused(laptop, b)
    listed(phone, a)

    stolen = requests.Session()  # a copy of the cookie, replayed after sign-out
    stolen.cookies.update(phone.cookies)
    signed_out = phone.post(f"{a}/logout", data={"csrf_token": _token(phone, f"{a}/")}, allow_redirects=False,
                            timeout=30)
    assert signed_out.status_code == 302
    assert refused(stolen, b) and refused(stolen, a)


def _entry(issuer: str) -> dict[str, str]:
    secret = base64.b32encode(secrets.token_bytes(10)).decode()
    return {"issuer": issuer, "accountName": "carol@example.com", "secretKey": secret, "origin": "phone"}


def test_concurrent_syncs_from_both_leave_casdoor_and_the_vault_alike(pair: Pair, casdoor_world, app) -> None:
    """Syncs started at once on both instances take turns (the lease is a database row), and lose nothing.

    Both sides change before the syncs: Casdoor gains entries (the phone app), the vault gains
    accounts (outside a request, so no sync is triggered by them). Afterwards Casdoor and the
    vault hold the same list, with every entry of both sides once.
    """
    a, b = pair
    first = [_entry(f"Before {number}") for number in range(3)]
    casdoor_world.add_user("acme", "carol", "carol-pw", mfa_accounts=first)
    browser = requests.Session()
    begun = browser.get(f"{a}/auth/casdoor/login", allow_redirects=False, timeout=30)
    callback = casdoor_authorize(begun.headers["Location"], "carol", "carol-pw")
    assert browser.get(f"{a}{callback}", allow_redirects=False, timeout=30).status_code == 302
    subject = casdoor_world.user("acme", "carol")["id"]
    with app.app_context():
        carol = db.session.scalar(select(User).where(User.oidc_subject == subject))
        user_id = carol.id
    assert {entry[0] for entry in vault_entries(app, user_id)[0]} == {entry["issuer"] for entry in first}

    remote_new = [_entry(f"Phone {number}") for number in range(4)]
    casdoor_world.set_mfa_accounts("acme", "carol", [*casdoor_world.mfa_accounts("acme", "carol"), *remote_new])
    local_new = [_entry(f"Here {number}") for number in range(4)]
    with app.app_context():
        vault = Vault(db.session.get(User, user_id), keyring())
        for entry in local_new:
            params = OtpParams(type="totp", secret=decode_secret(entry["secretKey"]))
            vault.add(AccountSpec(issuer=entry["issuer"], name=entry["accountName"], params=params))
        db.session.commit()

    token = _token(browser, f"{a}/")

    def sync(base: str) -> int:
        return browser.post(f"{base}/casdoor/sync", data={"csrf_token": token}, headers={"HX-Request": "true"},
                            timeout=60).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(sync, [a, b, a, b, a, b]))
    assert statuses == [200] * 6

    live, _trash = vault_entries(app, user_id)
    remote = remote_entries(casdoor_world, "acme", "carol")
    assert live == remote, f"here only: {live - remote}; Casdoor only: {remote - live}"
    assert {entry[0] for entry in remote} == {entry["issuer"] for entry in [*first, *remote_new, *local_new]}
    assert len(casdoor_world.mfa_accounts("acme", "carol")) == len(remote), "Casdoor holds an entry twice"
    with app.app_context():
        assert len(Vault(db.session.get(User, user_id), keyring()).accounts()) == len(live), "an account is twice"


def test_share_links_are_limited_and_revoked_on_both(pair: Pair, app, user) -> None:
    """A share link's limits are counted in Redis for both instances, and a revocation holds on both."""
    from webauth.sharelinks import links

    a, b = pair
    with app.app_context():
        vault = Vault(db.session.scalar(select(User).where(User.username == "alice")), keyring())
        uuid = vault.add(parse_uri(f"otpauth://totp/GitLab:alice?secret={SECRET}&issuer=GitLab")).uuid
        _busy, busy_token = links.create(vault, uuid, 10)
        revoked, revoked_token = links.create(vault, uuid, 10)
        db.session.commit()
        revoked_id = revoked.id

    def fetch(base: str, token: str, address: str = "198.51.100.1") -> int:
        return requests.post(f"{base}/s/code", json={"token": token}, headers={"X-Forwarded-For": address},
                             timeout=30).status_code

    # One link read through both instances, from different addresses: one count.
    rounds = range(SHARE_LINK_LIMIT + 1)
    statuses = [fetch((a, b)[number % 2], busy_token, f"198.51.100.{number}") for number in rounds]
    assert statuses == [200] * SHARE_LINK_LIMIT + [429]
    # Guesses from one address, spread over both: one count too.
    guesses = [fetch((a, b)[number % 2], secrets.token_urlsafe(32), "203.0.113.5") for number in rounds]
    assert guesses == [410] * SHARE_LINK_LIMIT + [429]

    assert fetch(a, revoked_token) == 200
    with app.app_context():
        owner = db.session.scalar(select(User).where(User.username == "alice"))
        links.revoke(owner, links.get(owner, revoked_id))
        db.session.commit()
    assert fetch(a, revoked_token) == 410 and fetch(b, revoked_token) == 410
