"""`next` never sends anyone off this site, and never breaks a redirect (issue 12, item 3).

One `safe_next` (webauth/views/common.py) judges every `next`: the local sign-in, the password
re-entry, the language choice, the idle lock, and the Casdoor sign-in and login link. Browsers
drop tabs and newlines inside a URL and read a backslash as a slash, so `/<TAB>/evil.example`
and `/\\evil.example` are other sites to them; a CR or LF cannot go into a header at all.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from tests.conftest import TEST_PASSWORD, csrf_from, post_form
from tests.support.fixtures import casdoor_authorize
from webauth.views.common import safe_next

# `next` as the app receives it (decoded), each one a way off the site in some browser.
HOSTILE = {
    "tab": "/\t/evil.example",
    "newline": "/\n/evil.example",
    "cr-lf": "/\r\n/evil.example",
    "backslash": "\\\\evil.example",
    "slash-backslash": "/\\evil.example",
    "encoded-backslash": "/%5Cevil.example",
    "encoded-slashes": "/%2F%2Fevil.example",
    "encoded-slash-after-slash": "/%2Fevil.example",
    "encoded-slashes-only": "%2F%2Fevil.example",
    "absolute": "https://evil.example/",
    "scheme-relative": "//evil.example/",
    "javascript": "javascript:alert(1)",
    "no-leading-slash": "evil.example",
    "space-slashes": " //evil.example",
}
# Local paths that a CR, LF or other control character cannot be allowed to break.
LOCAL = {
    "plain": ("/accounts/new", "/accounts/new"),
    "with-query": ("/me/?page=2", "/me/?page=2"),
    "crlf-inside": ("/accounts\r\n/new", "/accounts/new"),
    "header-injection": ("/\r\nSet-Cookie: x=1", "/Set-Cookie:%20x=1"),
    "non-ascii": ("/accounts/中文", "/accounts/%E4%B8%AD%E6%96%87"),
}


@pytest.mark.parametrize("target", HOSTILE.values(), ids=HOSTILE.keys())
def test_safe_next_refuses_every_way_off_the_site(app, target) -> None:
    with app.test_request_context():
        assert safe_next(target) == "/"


@pytest.mark.parametrize(("target", "expected"), LOCAL.values(), ids=LOCAL.keys())
def test_safe_next_keeps_local_paths_and_makes_them_fit_a_header(app, target, expected) -> None:
    with app.test_request_context():
        assert safe_next(target) == expected


def test_safe_next_without_a_target_goes_to_the_list(app) -> None:
    with app.test_request_context():
        assert safe_next(None) == safe_next("") == "/"


def _sign_in_with_next(client, target: str):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    data = {"csrf_token": token, "username": "alice", "password": TEST_PASSWORD}
    return client.post("/login?" + urlencode({"next": target}), data=data)


@pytest.mark.parametrize("target", HOSTILE.values(), ids=HOSTILE.keys())
def test_the_sign_in_goes_to_the_list_instead_of_another_site(client, user, target) -> None:
    answer = _sign_in_with_next(client, target)
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/"


@pytest.mark.parametrize(("target", "expected"), LOCAL.values(), ids=LOCAL.keys())
def test_the_sign_in_follows_a_local_next_whatever_it_holds(client, user, target, expected) -> None:
    answer = _sign_in_with_next(client, target)
    assert answer.status_code == 302
    assert answer.headers["Location"] == expected
    assert client.get("/me/").status_code == 200  # signed in, not a 500 half-way


@pytest.mark.parametrize("target", ["/\t/evil.example", "/\r\n/evil.example", "/%2F%2Fevil.example"])
def test_the_password_re_entry_stays_on_the_site(signed_in, target) -> None:
    page = "/reauth?" + urlencode({"next": target})
    answer = post_form(signed_in, page, page, {"password": TEST_PASSWORD})
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/"


@pytest.mark.parametrize("target", ["/\\evil.example", "/\r\n/evil.example"])
def test_the_language_choice_stays_on_the_site(client, user, target) -> None:
    answer = post_form(client, "/login", "/language", {"locale": "en", "next": target})
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/"


def test_the_idle_lock_passes_on_only_a_safe_next(signed_in) -> None:
    answer = post_form(signed_in, "/", "/me/lock", {"next": "/\t/evil.example"})
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/login?next=/"


def _casdoor_sign_in_with_next(client, target: str):
    begun = client.get("/auth/casdoor/login?" + urlencode({"next": target}))
    assert begun.status_code == 302
    return client.get(casdoor_authorize(begun.headers["Location"], "alice", "alice-pw"))


@pytest.mark.parametrize("target", ["/\t/evil.example", "/\\evil.example", "/%2F%2Fevil.example", "//evil.example"])
def test_a_casdoor_sign_in_goes_to_the_list_instead_of_another_site(casdoor_client, target) -> None:
    answer = _casdoor_sign_in_with_next(casdoor_client, target)
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/"


def test_a_casdoor_sign_in_with_a_newline_in_next_signs_in(casdoor_client) -> None:
    answer = _casdoor_sign_in_with_next(casdoor_client, "/me/\r\n")
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/me/"
    assert casdoor_client.get("/me/").status_code == 200


@pytest.mark.parametrize("target", ["/\t/evil.example", "/\r\n/evil.example"])
def test_a_casdoor_login_link_goes_to_the_list_instead_of_another_site(casdoor_app_with, casdoor, target) -> None:
    # Signing in with a link is off unless the operator names the accepted audiences (issue 12, item 1).
    casdoor_client = casdoor_app_with(WEBAUTH_CASDOOR_LINK_AUDIENCES=frozenset({casdoor.client_id})).test_client()
    access_token = casdoor.issue_token("acme", "alice")["access_token"]
    link = "casdoor-authenticator://login?" + urlencode({"serverUrl": casdoor.url, "accessToken": access_token})
    token = csrf_from(casdoor_client.get("/auth/casdoor/link").get_data(as_text=True))
    answer = casdoor_client.post(
        "/auth/casdoor/link?" + urlencode({"next": target}), data={"csrf_token": token, "link": link}
    )
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/"
