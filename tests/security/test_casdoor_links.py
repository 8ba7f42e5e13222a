"""Login links are no way around the password (issue 12, item 1).

A `casdoor-authenticator://login?serverUrl=...&accessToken=...` link carries a bearer token
that passes every check of signature, issuer and expiry whichever application on the same
Casdoor it was issued to: Casdoor's account page puts a token of the user's own signup
application in it, and every other application using that Casdoor holds tokens just like it.
So, against the test Casdoor with a second application:

- by default a link signs nobody in; it only connects a session that is signed in here and
  entered its password just now, and only after the user confirms the Casdoor account;
- an operator who wants sign-in by link names the accepted client ids
  (WEBAUTH_CASDOOR_LINK_AUDIENCES); a token of any other application is refused, with a
  message that says so, before the token is sent anywhere;
- a session that a link started, or connected, has not entered a password: showing or
  exporting secrets asks for it.
"""

from __future__ import annotations

import pytest

from tests.conftest import sign_in
from tests.support.casdoor_connect import (
    OFFER_PATH,
    confirm,
    forget_password_entry,
    login_link,
    reauthenticate,
    recently_reauthenticated,
    submit_link,
)
from webauth.extensions import db
from webauth.models import AuditEvent, CasdoorLink, SessionRecord, User

OTHER_CLIENT = "other-app-client-id"


@pytest.fixture
def other_app(casdoor) -> str:
    """A second application on the same Casdoor, as any other site signing in with it would be."""
    casdoor.add_application("other-app", OTHER_CLIENT, "other-secret")
    return OTHER_CLIENT


@pytest.fixture
def audiences_app(casdoor_app_with, casdoor):
    """Sign-in by link is on for webauth's own client id only."""
    return casdoor_app_with(WEBAUTH_CASDOOR_LINK_AUDIENCES=frozenset({casdoor.client_id}))


def _users(app) -> list[User]:
    with app.app_context():
        return list(db.session.scalars(db.select(User)))


def test_by_default_a_login_link_signs_nobody_in(casdoor_app, casdoor_client, casdoor, other_app) -> None:
    """The token of another application, pasted as a link, opened a session that counted as a password entry."""
    token = casdoor.issue_token("acme", "alice", client_id=other_app)["access_token"]
    casdoor.reset_counts()

    answer = submit_link(casdoor_client, {"link": login_link(casdoor.url, token)})

    assert answer.status_code == 403
    assert "A login link cannot sign you in here. Sign in first" in answer.get_data(as_text=True)
    assert _users(casdoor_app) == [] and casdoor_client.get("/").status_code == 302
    assert casdoor.request_counts() == {}, "the token was sent to Casdoor before being refused"
    with casdoor_app.app_context():
        refusal = db.session.scalar(db.select(AuditEvent).where(AuditEvent.event == "signin.failure"))
        assert refusal.details == {"method": "casdoor-link", "reason": "link-sign-in-off"}


def test_the_link_of_the_casdoor_account_page_signs_nobody_in(casdoor_app, casdoor_client, casdoor) -> None:
    answer = submit_link(casdoor_client, {"link": casdoor.account_page_link("acme", "alice")})
    assert answer.status_code == 403
    assert _users(casdoor_app) == []


def test_a_token_minted_for_another_client_id_is_refused(audiences_app, casdoor, other_app) -> None:
    client = audiences_app.test_client()
    token = casdoor.issue_token("acme", "alice", client_id=other_app)["access_token"]
    casdoor.reset_counts()

    answer = submit_link(client, {"link": login_link(casdoor.url, token)})

    html = answer.get_data(as_text=True)
    assert answer.status_code == 403
    assert f"This login link was issued to another application ({OTHER_CLIENT})" in html
    assert "cannot sign in here" in html
    assert _users(audiences_app) == [] and client.get("/").status_code == 302
    sent = {path for path in casdoor.request_counts() if path.startswith("/api/")}
    assert sent == set(), "the token was sent to Casdoor before being refused"
    with audiences_app.app_context():
        refusal = db.session.scalar(db.select(AuditEvent).where(AuditEvent.event == "signin.failure"))
        assert refusal.details == {"method": "casdoor-link", "reason": "link-audience"}


def test_an_accepted_audience_signs_in_without_counting_as_a_password_entry(
    casdoor_app_with, casdoor, other_app
) -> None:
    """The operator accepts the other application's tokens: the session starts, but must enter a password."""
    app = casdoor_app_with(WEBAUTH_CASDOOR_LINK_AUDIENCES=frozenset({other_app}))
    client = app.test_client()
    token = casdoor.issue_token("acme", "alice", client_id=other_app)["access_token"]

    answer = submit_link(client, {"link": login_link(casdoor.url, token)})

    assert answer.status_code == 302
    assert "GitHub" in client.get("/").get_data(as_text=True)
    assert not recently_reauthenticated(client)
    with app.app_context():
        [record] = db.session.scalars(db.select(SessionRecord))
        assert record.method == "casdoor-link" and record.reauth_at is None
    # webauth's own client id is not accepted here, only the one named.
    fresh = app.test_client()
    own = casdoor.issue_token("acme", "alice")["access_token"]
    assert submit_link(fresh, {"link": login_link(casdoor.url, own)}).status_code == 403


def test_a_link_connects_only_a_session_that_just_entered_its_password(
    casdoor_app, casdoor_client, casdoor, make_user
) -> None:
    carol = make_user("carol")
    sign_in(casdoor_client, "carol")
    forget_password_entry(casdoor_app)

    asked = casdoor_client.get("/auth/casdoor/link")
    assert asked.status_code == 302 and asked.headers["Location"].startswith("/reauth")
    posted = submit_link(casdoor_client, {"link": casdoor.account_page_link("acme", "alice")})
    assert posted.status_code == 302 and posted.headers["Location"].startswith("/reauth")
    with casdoor_app.app_context():
        assert db.session.get(User, carol.id).oidc_subject is None

    reauthenticate(casdoor_client)
    offered = submit_link(casdoor_client, {"link": casdoor.account_page_link("acme", "alice")})
    assert offered.status_code == 302 and OFFER_PATH.match(offered.headers["Location"])
    with casdoor_app.app_context():
        assert db.session.get(User, carol.id).oidc_subject is None, "linked before the user confirmed"
        assert db.session.scalar(db.select(CasdoorLink)) is None

    assert confirm(casdoor_client, offered.headers["Location"]).status_code == 302
    with casdoor_app.app_context():
        assert db.session.get(User, carol.id).oidc_subject == casdoor.user("acme", "alice")["id"]
    assert not recently_reauthenticated(casdoor_client), "connecting by link counted as a password entry"
