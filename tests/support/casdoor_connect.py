"""Steps of connecting to Casdoor and of login links, as a browser takes them (views/casdoor_connect.py)."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import TEST_PASSWORD, csrf_from, post_form
from tests.support.fixtures import casdoor_authorize
from webauth.extensions import db
from webauth.models import SessionRecord, utcnow

OFFER_PATH = re.compile(r"^/auth/casdoor/connect/([0-9a-f-]{36})$")


def login_link(server_url: str, token: str) -> str:
    return "casdoor-authenticator://login?" + urlencode({"serverUrl": server_url, "accessToken": token})


def submit_link(client: FlaskClient, data: dict, **kwargs):
    """Post the login-link form with the CSRF token of the page (or of the code list, when the page is not shown)."""
    page = client.get("/auth/casdoor/link")
    html = page.get_data(as_text=True) if page.status_code == 200 else client.get("/").get_data(as_text=True)
    return client.post("/auth/casdoor/link", data={"csrf_token": csrf_from(html), **data}, **kwargs)


def recently_reauthenticated(client: FlaskClient) -> bool:
    """Whether the session may export right now (no detour through the password page)."""
    answer = client.get("/transfer/export")
    assert answer.status_code in (200, 302), answer.status_code
    return answer.status_code == 200


def forget_password_entry(app: Flask) -> None:
    """Every session's last password entry is an hour old, as if the user came back later."""
    with app.app_context():
        for record in db.session.scalars(db.select(SessionRecord)):
            record.reauth_at = utcnow() - timedelta(hours=1)
        db.session.commit()


def reauthenticate(client: FlaskClient, password: str = TEST_PASSWORD) -> None:
    answer = post_form(client, "/reauth", "/reauth", {"password": password})
    assert answer.status_code == 303, answer.get_data(as_text=True)


def start_connect(client: FlaskClient):
    """"Connect to Casdoor" on its page: a POST with the page's CSRF token."""
    return post_form(client, "/auth/casdoor/connect", "/auth/casdoor/connect", {})


def connect_through_casdoor(client: FlaskClient, username: str = "alice", password: str = "alice-pw") -> str:
    """Start connecting, sign in at the fake Casdoor; the path of the confirmation page it leads to."""
    begun = start_connect(client)
    assert begun.status_code == 302 and "/login/oauth/authorize" in begun.headers["Location"], begun.headers
    back = client.get(casdoor_authorize(begun.headers["Location"], username, password))
    assert back.status_code == 302, back.get_data(as_text=True)
    path = urlsplit(back.headers["Location"]).path
    assert OFFER_PATH.match(path), path
    return path


def confirm(client: FlaskClient, offer_path: str, action: str = "connect"):
    page = client.get(offer_path)
    assert page.status_code == 200, page.get_data(as_text=True)
    return client.post(offer_path, data={"csrf_token": csrf_from(page.get_data(as_text=True)), "action": action})
