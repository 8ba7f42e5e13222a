"""Connecting to Casdoor is asked for, re-authenticated and confirmed (issue 12, item 2).

Connecting links a user here to a Casdoor account and pushes the whole vault into that
account's `mfaAccounts`. It used to start from a GET (`/auth/casdoor/login?connect=1`), so a
link on any site could start it, and link the vault to whatever Casdoor account the browser
held. Against the test Casdoor:

- it starts only from a POST with a CSRF token, after a recent password entry;
- the Casdoor account that comes back is named (owner/name, display name) on a confirmation
  page, and nothing is linked or pushed before the user confirms there, in the same session;
- the session that results is not "recently re-authenticated".

And a Casdoor sign-in counts as a password entry only with a fresh `auth_time`: Casdoor signs
an open session in without asking anything (with "auto sign-in" even when asked
`prompt=login`), and its tokens say when the password was last typed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.conftest import csrf_from, sign_in
from tests.support.casdoor_connect import (
    OFFER_PATH,
    confirm,
    connect_through_casdoor,
    forget_password_entry,
    reauthenticate,
    recently_reauthenticated,
    start_connect,
)
from tests.support.casdoor_vault import add_local, remote_entries
from tests.support.fixtures import casdoor_authorize
from webauth.casdoor.oidc import Identity
from webauth.extensions import db
from webauth.models import AuditEvent, CasdoorLink, User

HOUR = 3600


@pytest.fixture
def carol(casdoor_app, make_user):
    """A user who signs in here with a password, with one account in her vault, signed in just now."""
    user = make_user("carol")
    add_local(casdoor_app, user.id, "Slack", "carol", "MFRGGZDFMZTWQ2LK")
    return user


def _linked(app, user_id: int) -> str | None:
    with app.app_context():
        return db.session.get(User, user_id).oidc_subject


def test_a_get_never_starts_connecting(casdoor_app, casdoor_client, casdoor, carol) -> None:
    """A link from another site to the old address, or to the new one, sends nobody to Casdoor."""
    sign_in(casdoor_client, "carol")
    casdoor.reset_counts()

    old = casdoor_client.get("/auth/casdoor/login?connect=1&next=/")
    assert old.status_code == 302 and old.headers["Location"] == "/auth/casdoor/connect"
    page = casdoor_client.get("/auth/casdoor/connect")
    assert page.status_code == 200 and "Sign in with Casdoor to choose the account" in page.get_data(as_text=True)
    assert casdoor.request_count("/login/oauth/authorize") == 0
    assert casdoor_client.get("/auth/casdoor/login?connect=1", follow_redirects=True).status_code == 200
    assert _linked(casdoor_app, carol.id) is None


def test_connecting_needs_a_csrf_token(casdoor_client, carol) -> None:
    sign_in(casdoor_client, "carol")
    answer = casdoor_client.post("/auth/casdoor/connect", data={})
    assert answer.status_code == 400
    assert "Location" not in answer.headers


def test_connecting_needs_a_recent_password_entry(casdoor_app, casdoor_client, casdoor, carol) -> None:
    sign_in(casdoor_client, "carol")
    token = csrf_from(casdoor_client.get("/auth/casdoor/connect").get_data(as_text=True))
    forget_password_entry(casdoor_app)

    answer = casdoor_client.post("/auth/casdoor/connect", data={"csrf_token": token})

    assert answer.status_code == 302 and answer.headers["Location"].startswith("/reauth")
    assert casdoor_client.get("/auth/casdoor/connect").headers["Location"].startswith("/reauth")
    reauthenticate(casdoor_client)
    begun = start_connect(casdoor_client)
    assert begun.status_code == 302 and begun.headers["Location"].startswith(f"{casdoor.url}/login/oauth/authorize")


def test_the_accounts_go_to_casdoor_only_after_the_user_confirms_the_named_account(
    casdoor_app, casdoor_client, casdoor, carol
) -> None:
    sign_in(casdoor_client, "carol")
    casdoor.reset_counts()

    offer = connect_through_casdoor(casdoor_client, "alice", "alice-pw")

    page = casdoor_client.get(offer)
    html = page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    assert "acme/alice" in html and "Alice" in html and "Connect to acme/alice" in html
    assert casdoor.request_count("/api/update-user") == 0 and casdoor.request_count("/api/get-user") == 0
    assert {issuer for issuer, _n, _s in remote_entries(casdoor)} == {"GitHub"}
    assert _linked(casdoor_app, carol.id) is None
    with casdoor_app.app_context():
        assert db.session.scalar(db.select(CasdoorLink)) is None

    answer = confirm(casdoor_client, offer)

    assert answer.status_code == 302 and answer.headers["Location"] == "/"
    assert _linked(casdoor_app, carol.id) == casdoor.user("acme", "alice")["id"]
    assert {issuer for issuer, _n, _s in remote_entries(casdoor)} == {"GitHub", "Slack"}
    assert not recently_reauthenticated(casdoor_client), "the session that connected still counts as re-authenticated"
    with casdoor_app.app_context():
        event = db.session.scalar(db.select(AuditEvent).where(AuditEvent.event == "casdoor.connect"))
        assert event.details == {"casdoor": "acme/alice", "source": "casdoor"}
    assert casdoor_client.get(offer).status_code == 404, "an offer serves once"


def test_cancelling_connects_nothing(casdoor_app, casdoor_client, casdoor, carol) -> None:
    sign_in(casdoor_client, "carol")
    offer = connect_through_casdoor(casdoor_client, "bob", "bob-pw")
    assert "acme/bob" in casdoor_client.get(offer).get_data(as_text=True)

    assert confirm(casdoor_client, offer, action="cancel").status_code == 302

    assert _linked(casdoor_app, carol.id) is None
    assert remote_entries(casdoor, "acme", "bob") == set()
    assert casdoor_client.get(offer).status_code == 404


def test_another_session_cannot_confirm(casdoor_app, casdoor_client, casdoor, carol) -> None:
    """The offer is bound to the session that asked: another browser of the same user gets nothing."""
    sign_in(casdoor_client, "carol")
    offer = connect_through_casdoor(casdoor_client)
    other = casdoor_app.test_client()
    sign_in(other, "carol")

    assert other.get(offer).status_code == 404
    page = other.get("/").get_data(as_text=True)
    assert other.post(offer, data={"csrf_token": csrf_from(page), "action": "connect"}).status_code == 404
    assert _linked(casdoor_app, carol.id) is None


def test_an_answer_from_casdoor_for_another_session_connects_nothing(casdoor_app, carol, make_user, casdoor) -> None:
    """A callback URL carried to another browser (whose session has no such flow) is refused."""
    make_user("dave")
    victim, attacker = casdoor_app.test_client(), casdoor_app.test_client()
    sign_in(victim, "carol")
    sign_in(attacker, "dave")
    begun = start_connect(attacker)
    callback = casdoor_authorize(begun.headers["Location"], "bob", "bob-pw")

    answer = victim.get(callback)

    assert answer.status_code in (400, 403)
    assert not OFFER_PATH.match(answer.headers.get("Location", ""))
    assert _linked(casdoor_app, carol.id) is None


# A Casdoor sign-in as a password entry ------------------------------------------------------


def _reauth_with_casdoor(client, casdoor_browser: requests.Session, username="alice", password="alice-pw"):
    """"Confirm with Casdoor": through Casdoor's login form when it shows one, or straight back when it does not."""
    begun = client.get("/auth/casdoor/login?reauth=1&next=/transfer/export")
    assert begun.status_code == 302
    query = parse_qs(urlsplit(begun.headers["Location"]).query)
    assert query["prompt"] == ["login"] and query["max_age"] == ["0"]
    shown = casdoor_browser.get(begun.headers["Location"], allow_redirects=False, timeout=10)
    if shown.status_code == 200:  # the login form
        shown = casdoor_browser.post(
            begun.headers["Location"], data={"username": username, "password": password},
            allow_redirects=False, timeout=10,
        )  # fmt: skip
    assert shown.status_code == 302, shown.text
    back = urlsplit(shown.headers["Location"])
    return client.get(f"{back.path}?{back.query}")


def _casdoor_sign_in_with_browser(client, casdoor_browser: requests.Session):
    begun = client.get("/auth/casdoor/login")
    shown = casdoor_browser.get(begun.headers["Location"], allow_redirects=False, timeout=10)
    if shown.status_code == 200:
        shown = casdoor_browser.post(
            begun.headers["Location"], data={"username": "alice", "password": "alice-pw"},
            allow_redirects=False, timeout=10,
        )  # fmt: skip
    back = urlsplit(shown.headers["Location"])
    return client.get(f"{back.path}?{back.query}")


def test_a_casdoor_reauthentication_counts_only_with_a_fresh_auth_time(casdoor_app, casdoor_client, casdoor) -> None:
    browser = requests.Session()  # the browser's cookies at Casdoor: its Casdoor session
    assert _casdoor_sign_in_with_browser(casdoor_client, browser).status_code == 302
    assert recently_reauthenticated(casdoor_client)  # the password was typed at Casdoor just now
    forget_password_entry(casdoor_app)
    casdoor.age_sessions(HOUR)  # ... an hour ago, in a Casdoor session still open
    casdoor.set_auto_signin(True)  # the application signs open sessions in, whatever `prompt` says

    answer = _reauth_with_casdoor(casdoor_client, browser)

    assert answer.status_code == 401
    assert "Casdoor did not ask for your password just now" in answer.get_data(as_text=True)
    assert not recently_reauthenticated(casdoor_client)
    with casdoor_app.app_context():
        refusal = db.session.scalar(db.select(AuditEvent).where(AuditEvent.event == "signin.failure"))
        assert refusal.details["reason"] == "reauth-stale"

    casdoor.set_auto_signin(False)  # Casdoor shows its form for `prompt=login`: a fresh password entry
    answer = _reauth_with_casdoor(casdoor_client, browser)
    assert answer.status_code == 302 and answer.headers["Location"] == "/transfer/export"
    assert recently_reauthenticated(casdoor_client)


def test_a_casdoor_sign_in_from_an_old_casdoor_session_is_not_a_password_entry(casdoor_app, casdoor) -> None:
    browser = requests.Session()
    first = casdoor_app.test_client()
    assert _casdoor_sign_in_with_browser(first, browser).status_code == 302
    casdoor.age_sessions(HOUR)

    later = casdoor_app.test_client()  # another tab of webauth, an hour later: Casdoor asks nothing
    answer = _casdoor_sign_in_with_browser(later, browser)

    assert answer.status_code == 302 and answer.headers["Location"] == "/"
    assert not recently_reauthenticated(later)


@pytest.mark.parametrize(
    ("age", "counts"),
    [(None, False), (10, True), (299, True), (301, False), (-30, True), (-3600, False)],
    ids=["no-auth-time", "10s", "299s", "301s", "30s-ahead", "an-hour-ahead"],
)
def test_which_auth_time_is_fresh(app, age, counts) -> None:
    """Within the 300 s window, and no more than the leeway (60 s) in the future."""
    from webauth.models import utcnow

    with app.app_context():
        at = None if age is None else datetime.fromtimestamp(utcnow().timestamp() - age, UTC)
        identity = Identity("iss", "sub", "acme", "alice", "Alice", False, authenticated_at=at)
        fresh = identity.fresh_authentication(300)
        assert (fresh is not None) is counts
        if fresh is not None:
            assert fresh <= utcnow() + timedelta(seconds=1)
