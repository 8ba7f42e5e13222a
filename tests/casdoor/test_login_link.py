""" "Connect with a login link": the `casdoor-authenticator://login?serverUrl=...&accessToken=...`
link from Casdoor's account page, pasted or as a picture of its QR code, accepted only for the
configured server and only after Casdoor confirms the token at /api/userinfo."""

from __future__ import annotations

import io
from urllib.parse import urlencode

import qrcode

from tests.conftest import csrf_from
from webauth.extensions import db
from webauth.models import CasdoorLink, User


def login_link(server_url: str, token: str) -> str:
    return "casdoor-authenticator://login?" + urlencode({"serverUrl": server_url, "accessToken": token})


def submit(client, data: dict, **kwargs):
    token = csrf_from(client.get("/auth/casdoor/link").get_data(as_text=True))
    return client.post("/auth/casdoor/link", data={"csrf_token": token, **data}, **kwargs)


def test_a_pasted_link_signs_in_after_casdoor_confirms_the_token(casdoor_app, casdoor_client, casdoor) -> None:
    token = casdoor.issue_token("acme", "alice")["access_token"]
    casdoor.reset_counts()

    answer = submit(casdoor_client, {"link": login_link(casdoor.url, token)})

    assert answer.status_code == 302
    assert casdoor.request_count("/api/userinfo") == 1
    with casdoor_app.app_context():
        user = db.session.scalar(db.select(User))
        assert user.username == "acme/alice" and user.oidc_subject == casdoor.user("acme", "alice")["id"]
        link = db.session.get(CasdoorLink, user.id)
        assert link.access_token_sealed and link.refresh_token_sealed is None
    assert "GitHub" in casdoor_client.get("/").get_data(as_text=True)


def test_a_link_for_another_server_is_refused_before_any_call(casdoor_app, casdoor_client, casdoor) -> None:
    token = casdoor.issue_token("acme", "alice")["access_token"]
    casdoor.reset_counts()
    answer = submit(casdoor_client, {"link": login_link("https://door.evil.example", token)})
    assert answer.status_code == 400
    assert "another Casdoor server (https://door.evil.example)" in answer.get_data(as_text=True)
    assert casdoor.request_counts() == {}
    with casdoor_app.app_context():
        assert db.session.scalar(db.select(User)) is None


def test_a_token_casdoor_does_not_know_is_refused(casdoor_app, casdoor_client, casdoor) -> None:
    token = casdoor.issue_token("acme", "alice")["access_token"]
    casdoor.revoke_tokens("acme", "alice")
    answer = submit(casdoor_client, {"link": login_link(casdoor.url, token)})
    assert answer.status_code == 400
    assert "Casdoor did not accept this login link" in answer.get_data(as_text=True)


def test_an_expired_link_is_refused(casdoor_client, casdoor) -> None:
    casdoor.set_token_lifetime(0)
    token = casdoor.issue_token("acme", "alice")["access_token"]
    answer = submit(casdoor_client, {"link": login_link(casdoor.url, token)})
    assert answer.status_code == 400


def test_text_that_is_not_a_login_link(casdoor_client) -> None:
    answer = submit(casdoor_client, {"link": "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP"})
    assert answer.status_code == 422
    assert "not a Casdoor login link" in answer.get_data(as_text=True)
    answer = submit(casdoor_client, {"link": "casdoor-authenticator://login?serverUrl=x"})
    assert answer.status_code == 422
    assert submit(casdoor_client, {}).status_code == 422


def test_a_picture_of_the_qr_code(casdoor_app, casdoor_client, casdoor) -> None:
    token = casdoor.issue_token("acme", "alice")["access_token"]
    picture = io.BytesIO()
    qrcode.make(login_link(casdoor.url, token)).save(picture, format="PNG")
    picture.seek(0)
    answer = submit(casdoor_client, {"image": (picture, "qr.png")}, content_type="multipart/form-data")
    assert answer.status_code == 302
    broken = submit(
        casdoor_client, {"image": (io.BytesIO(b"not a picture"), "x.png")}, content_type="multipart/form-data"
    )
    assert broken.status_code == 422


def test_the_sign_in_page_offers_the_link(casdoor_client, user) -> None:
    html = casdoor_client.get("/login").get_data(as_text=True)
    assert "Connect with a login link" in html and "/auth/casdoor/link" in html
