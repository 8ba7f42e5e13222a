"""Failing on purpose cannot lock a user out (issue 12, item 7).

The per-username sign-in limit ("10 per minute; 50 per hour") counted every address's
failures together and then refused that username everywhere: fifty wrong passwords, from
anywhere, kept the user out for an hour. Now (views/signin_limits.py):

- the attacker's address is locked, per username and address, and per address as before;
- the user's own browser, where they signed in before, is not held back at all;
- a browser the user never used waits only for the short per-username window
  (WEBAUTH_LOGIN_USER_RATE_LIMIT), which counts failures only.

Time is injected into the rate-limit storage (the `limits` memory storage reads
`time.time()`); tests/scale/test_multi_instance.py runs the same limits on two gunicorns
sharing Redis.
"""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from tests.conftest import TEST_PASSWORD, csrf_from
from webauth import create_app
from webauth.extensions import db

ADDRESS_LIMIT = "3 per hour"
USER_LIMIT = "5 per minute"
ALICE_HOME = {"REMOTE_ADDR": "10.0.0.1"}


@pytest.fixture
def clock(monkeypatch):
    """The rate-limit storage's clock, moved by the test."""
    import limits.storage.memory

    now = [time.time()]
    monkeypatch.setattr(limits.storage.memory, "time", SimpleNamespace(time=lambda: now[0]))
    return now


@pytest.fixture
def limited_app(app, app_config, clock):
    """Made after `app` (which `make_user` uses): the limiter is shared, and the last app made sets it up."""
    app = create_app(
        {
            **app_config,
            "RATELIMIT_ENABLED": True,
            "RATELIMIT_STORAGE_URI": "memory://",
            "WEBAUTH_LOGIN_RATE_LIMIT": ADDRESS_LIMIT,
            "WEBAUTH_LOGIN_USER_RATE_LIMIT": USER_LIMIT,
        }
    )
    yield app
    with app.app_context():
        db.engine.dispose()


def attempt(client, address: str | dict, password: str, username: str = "alice") -> int:
    environ = address if isinstance(address, dict) else {"REMOTE_ADDR": address}
    token = csrf_from(client.get("/login", environ_base=environ).get_data(as_text=True))
    answer = client.post(
        "/login", data={"csrf_token": token, "username": username, "password": password}, environ_base=environ
    )
    if answer.status_code == 302:  # signed in: sign out again, keeping the browser's cookies
        page = client.get("/", environ_base=environ).get_data(as_text=True)
        client.post("/logout", data={"csrf_token": csrf_from(page)}, environ_base=environ)
    return answer.status_code


def test_failures_from_elsewhere_never_lock_the_user_out(limited_app, make_user, clock) -> None:
    make_user("alice")
    laptop = limited_app.test_client()
    assert attempt(laptop, ALICE_HOME, TEST_PASSWORD) == 302  # alice's usual browser

    attackers = [f"203.0.113.{number}" for number in range(1, 6)]
    for address in attackers:  # five addresses, far past what the username alone used to allow
        bot = limited_app.test_client()
        results = [attempt(bot, address, f"guess {n}") for n in range(4)]
        assert results[-1] == 429, f"{address} was not locked: {results}"

    assert attempt(laptop, ALICE_HOME, TEST_PASSWORD) == 302, "the attackers locked alice out of her own browser"
    for address in attackers:
        assert attempt(limited_app.test_client(), address, TEST_PASSWORD) == 429, "an attacker's address is free"


def test_a_new_browser_waits_for_the_short_window_only(limited_app, make_user, clock) -> None:
    make_user("alice")
    for number in range(5):  # five failures for alice from five addresses: the shared window is spent
        assert attempt(limited_app.test_client(), f"198.51.100.{number}", "a guess") == 401

    phone = limited_app.test_client()  # alice, on a browser she never signed in with
    assert attempt(phone, {"REMOTE_ADDR": "10.0.0.7"}, TEST_PASSWORD) == 429

    clock[0] += 61  # a minute later, not an hour
    assert attempt(phone, {"REMOTE_ADDR": "10.0.0.7"}, TEST_PASSWORD) == 302


def test_successes_do_not_spend_the_per_username_window(limited_app, make_user) -> None:
    make_user("alice")
    for number in range(8):
        assert attempt(limited_app.test_client(), f"192.0.2.{number}", TEST_PASSWORD) == 302


def test_the_known_browser_cookie_names_no_user_and_cannot_be_forged(limited_app, make_user, clock) -> None:
    make_user("alice")
    laptop = limited_app.test_client()
    assert attempt(laptop, ALICE_HOME, TEST_PASSWORD) == 302
    cookie = laptop.get_cookie("webauth_known")
    assert cookie is not None and "alice" not in cookie.value and cookie.http_only

    for number in range(5):
        assert attempt(limited_app.test_client(), f"198.51.100.{number}", "a guess") == 401
    forger = limited_app.test_client()
    forger.set_cookie("webauth_known", "0123456789abcdef")
    assert attempt(forger, {"REMOTE_ADDR": "198.51.100.200"}, "a guess") == 429
