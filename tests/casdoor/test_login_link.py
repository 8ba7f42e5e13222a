""" "Connect with a login link": the `casdoor-authenticator://login?serverUrl=...&accessToken=...`
link from Casdoor's account page, pasted or as a picture of its QR code, accepted only for the
configured server and only after Casdoor confirms the token at /api/userinfo.

Signed in, a link connects the user (after a recent password entry and a confirmation) or
renews the tokens of the account already connected. Signing in with a link is off unless the
operator names the accepted audiences (tests/security/test_casdoor_links.py shows the refusals).
"""

from __future__ import annotations

import io

import pytest
import qrcode

from tests.conftest import sign_in
from tests.support.casdoor_connect import OFFER_PATH, confirm, login_link, submit_link
from webauth.extensions import db
from webauth.models import CasdoorLink, User


@pytest.fixture
def link_app(casdoor_app_with, casdoor):
    """The app with sign-in by login link on, for tokens of webauth's own application."""
    return casdoor_app_with(WEBAUTH_CASDOOR_LINK_AUDIENCES=frozenset({casdoor.client_id}))


@pytest.fixture
def link_client(link_app):
    return link_app.test_client()


def test_a_pasted_link_signs_in_after_casdoor_confirms_the_token(link_app, link_client, casdoor) -> None:
    token = casdoor.issue_token("acme", "alice")["access_token"]
    casdoor.reset_counts()

    answer = submit_link(link_client, {"link": login_link(casdoor.url, token)})

    assert answer.status_code == 302
    assert casdoor.request_count("/api/userinfo") == 1
    with link_app.app_context():
        user = db.session.scalar(db.select(User))
        assert user.username == "acme/alice" and user.oidc_subject == casdoor.user("acme", "alice")["id"]
        link = db.session.get(CasdoorLink, user.id)
        assert link.access_token_sealed and link.refresh_token_sealed is None
    assert "GitHub" in link_client.get("/").get_data(as_text=True)


def test_a_link_for_another_server_is_refused_before_any_call(link_app, link_client, casdoor) -> None:
    token = casdoor.issue_token("acme", "alice")["access_token"]
    casdoor.reset_counts()
    answer = submit_link(link_client, {"link": login_link("https://door.evil.example", token)})
    assert answer.status_code == 400
    assert "another Casdoor server (https://door.evil.example)" in answer.get_data(as_text=True)
    assert casdoor.request_counts() == {}
    with link_app.app_context():
        assert db.session.scalar(db.select(User)) is None


def test_a_token_casdoor_does_not_know_is_refused(link_client, casdoor) -> None:
    token = casdoor.issue_token("acme", "alice")["access_token"]
    casdoor.revoke_tokens("acme", "alice")
    answer = submit_link(link_client, {"link": login_link(casdoor.url, token)})
    assert answer.status_code == 400
    assert "Casdoor did not accept this login link" in answer.get_data(as_text=True)


def test_an_expired_link_is_refused(link_client, casdoor) -> None:
    casdoor.set_token_lifetime(0)
    token = casdoor.issue_token("acme", "alice")["access_token"]
    answer = submit_link(link_client, {"link": login_link(casdoor.url, token)})
    assert answer.status_code == 400
    assert "expired" in answer.get_data(as_text=True)


def test_text_that_is_not_a_login_link(link_client) -> None:
    answer = submit_link(link_client, {"link": "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP"})
    assert answer.status_code == 422
    assert "not a Casdoor login link" in answer.get_data(as_text=True)
    answer = submit_link(link_client, {"link": "casdoor-authenticator://login?serverUrl=x"})
    assert answer.status_code == 422
    assert submit_link(link_client, {}).status_code == 422


def test_a_picture_of_the_qr_code(link_client, casdoor) -> None:
    broken = submit_link(
        link_client, {"image": (io.BytesIO(b"not a picture"), "x.png")}, content_type="multipart/form-data"
    )
    assert broken.status_code == 422
    token = casdoor.issue_token("acme", "alice")["access_token"]
    picture = io.BytesIO()
    qrcode.make(login_link(casdoor.url, token)).save(picture, format="PNG")
    picture.seek(0)
    answer = submit_link(link_client, {"image": (picture, "qr.png")}, content_type="multipart/form-data")
    assert answer.status_code == 302


def test_the_sign_in_page_offers_the_link_only_when_links_may_sign_in(casdoor_client, link_client, user) -> None:
    html = link_client.get("/login").get_data(as_text=True)
    assert "Sign in with a login link" in html and "/auth/casdoor/link" in html
    html = casdoor_client.get("/login").get_data(as_text=True)
    assert "login link" not in html and "Sign in with Casdoor" in html


def test_a_signed_in_user_connects_with_the_link_of_the_casdoor_account_page(
    casdoor_app, casdoor_client, casdoor, make_user
) -> None:
    """The account page's token belongs to another application; connecting takes it, after a confirmation."""
    casdoor.add_application("app-built-in", "built-in-client-id")
    carol = make_user("carol")
    casdoor.add_user("acme", "carol", "carol-pw", display_name="Carol C.", signup_application="app-built-in")
    sign_in(casdoor_client, "carol")

    answer = submit_link(casdoor_client, {"link": casdoor.account_page_link("acme", "carol")})

    assert answer.status_code == 302 and OFFER_PATH.match(answer.headers["Location"])
    page = casdoor_client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "acme/carol" in page and "Carol C." in page
    assert confirm(casdoor_client, answer.headers["Location"]).status_code == 302
    with casdoor_app.app_context():
        linked = db.session.get(User, carol.id)
        assert linked.username == "carol" and linked.oidc_subject == casdoor.user("acme", "carol")["id"]


def test_a_linked_user_renews_the_tokens_with_a_link(casdoor_app, casdoor_client, casdoor) -> None:
    from tests.support.fixtures import casdoor_sign_in

    casdoor_sign_in(casdoor_client)
    with casdoor_app.app_context():
        before = db.session.scalar(db.select(CasdoorLink)).access_token_sealed
    token = casdoor.issue_token("acme", "alice")["access_token"]

    answer = submit_link(casdoor_client, {"link": login_link(casdoor.url, token)})

    assert answer.status_code == 302 and answer.headers["Location"] == "/"
    with casdoor_app.app_context():
        assert db.session.scalar(db.select(CasdoorLink)).access_token_sealed != before
    other = casdoor.issue_token("acme", "bob")["access_token"]
    refused = submit_link(casdoor_client, {"link": login_link(casdoor.url, other)})
    assert refused.status_code == 409 and "acme/bob" in refused.get_data(as_text=True)
