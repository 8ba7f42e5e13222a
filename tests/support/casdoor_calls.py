"""Calls to the fake Casdoor as a browser and webauth make them: the code flow with PKCE through
its login form, the token exchange, and the REST API with a bearer token (for tests/casdoor/)."""


import base64
import hashlib
import secrets
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from tests.support.casdoor_server import CasdoorServer

REDIRECT_URI = "http://127.0.0.1:5999/auth/casdoor/callback"  # the one the `casdoor` fixture allows


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize_params(server: CasdoorServer, challenge: str, **overrides: str) -> dict[str, str]:
    params = {
        "client_id": server.client_id,
        "response_type": "code",
        "redirect_uri": REDIRECT_URI,
        "scope": "openid profile email",
        "state": "state-123",
        "nonce": "nonce-456",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return params


class FormReader(HTMLParser):
    """The inputs and buttons of the login page, as a browser test would find them."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: dict[str, str] = {}
        self.buttons: list[str] = []
        self.form_method = ""
        self._in_button = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "form":
            self.form_method = (attributes.get("method") or "").lower()
        elif tag == "input":
            self.inputs[attributes.get("name") or ""] = attributes.get("type") or "text"
        elif tag == "button":
            self._in_button = True
            self.buttons.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "button":
            self._in_button = False

    def handle_data(self, data: str) -> None:
        if self._in_button:
            self.buttons[-1] += data.strip()


def get_code(
    server: CasdoorServer, username: str, password: str, browser: requests.Session | None = None, **overrides: str
) -> tuple[str, str]:
    """Open the authorize page, post the login form; return (code, verifier)."""
    browser = browser or requests.Session()
    verifier, challenge = pkce_pair()
    page = browser.get(f"{server.url}/login/oauth/authorize", params=authorize_params(server, challenge, **overrides))
    assert page.status_code == 200, page.text
    answer = browser.post(page.url, data={"username": username, "password": password}, allow_redirects=False)
    assert answer.status_code == 302, answer.text
    location = urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    query = parse_qs(location.query)
    assert query["state"] == ["state-123"]
    return query["code"][0], verifier


def exchange(server: CasdoorServer, code: str, verifier: str, **extra: str) -> requests.Response:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
        "client_id": server.client_id,
    }
    data.update(extra)
    return requests.post(f"{server.url}/api/login/oauth/access_token", data=data, timeout=5)


def sign_in(server: CasdoorServer, username: str, password: str, **overrides: str) -> dict[str, Any]:
    code, verifier = get_code(server, username, password, **overrides)
    answer = exchange(server, code, verifier)
    assert answer.status_code == 200, answer.text
    return answer.json()


def rest(server: CasdoorServer, method: str, path: str, token: str | None, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return requests.request(method, f"{server.url}{path}", headers=headers, timeout=5, **kwargs)


def account(server: CasdoorServer, token: str) -> dict[str, Any]:
    answer = rest(server, "GET", "/api/get-account", token)
    assert answer.status_code == 200
    return answer.json()
