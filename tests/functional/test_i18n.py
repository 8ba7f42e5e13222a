"""English and Simplified Chinese: from the browser's Accept-Language or the user's choice."""

from __future__ import annotations

import pytest
from babel.messages.pofile import read_po

from tests.conftest import ROOT, post_form


@pytest.mark.parametrize("header", ["zh-CN,zh;q=0.9,en;q=0.5", "zh", "zh-Hans-CN"])
def test_chinese_from_the_browser(client, user, header):
    html = client.get("/login", headers={"Accept-Language": header}).get_data(as_text=True)
    assert 'lang="zh-Hans"' in html
    assert "登录" in html and "Sign in" not in html


def test_english_otherwise(client, user):
    html = client.get("/login", headers={"Accept-Language": "fr-FR,fr;q=0.9"}).get_data(as_text=True)
    assert 'lang="en"' in html and "Sign in" in html


def test_the_users_choice_wins_over_the_browser(client, user):
    response = post_form(client, "/login", "/language", {"locale": "zh_Hans", "next": "/login"})
    assert response.status_code == 302
    html = client.get("/login", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "登录" in html
    post_form(client, "/login", "/language", {"locale": "xx", "next": "/login"})
    assert "登录" in client.get("/login").get_data(as_text=True)


def test_every_string_has_a_chinese_translation():
    with open(ROOT / "translations" / "zh_Hans" / "LC_MESSAGES" / "messages.po", "rb") as handle:
        catalog = read_po(handle)
    missing = [
        message.id for message in catalog
        if message.id and (not message.string or (isinstance(message.string, tuple) and not all(message.string)))
    ]
    assert missing == [], f"{len(missing)} strings lack a translation, e.g. {missing[:5]}"
