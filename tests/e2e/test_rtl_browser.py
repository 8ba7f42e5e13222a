"""Arabic in Chromium on a phone's screen (390x844): right to left, mirrored, nothing sideways.

The page says dir="rtl", and the layout follows it: the brand and each row's avatar sit on the
right, the code on the left, and no page of the four people use most scrolls sideways. English
on the same screen is the control: the same rows, laid out left to right.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.e2e.conftest import wait_for_scripts
from webauth.extensions import db
from webauth.keys import keyring
from webauth.models import User
from webauth.otpauth import parse_uri
from webauth.vault import Vault

PASSWORD = "correct horse battery"
PHONE = {"width": 390, "height": 844}
PAGES = ("/", "/accounts/new", "/transfer/", "/me/")
PARTS = (".avatar", ".account-text", ".code", ".star")


@pytest.fixture
def alice(app, make_user):
    make_user("alice", PASSWORD)
    with app.app_context():
        vault = Vault(db.session.scalar(select(User).where(User.username == "alice")), keyring())
        for issuer in ("GitHub", "Amazon Web Services", "Proton"):
            vault.add(parse_uri(f"otpauth://totp/{issuer}:alice.with.a.long.name@example.com?secret=JBSWY3DPEHPK3PXP"))
        db.session.commit()


def signed_in_page(browser, live_server, locale: str) -> Page:
    context = browser.new_context(base_url=live_server, locale=locale, viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto("/login")
    page.locator("input[name=username]").fill("alice")
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form button[type=submit]").first.click()
    page.wait_for_url("**/")
    wait_for_scripts(page)
    return page


def box(page: Page, selector: str) -> dict:
    found = page.locator(selector).first.bounding_box()
    assert found is not None, selector
    return found


def sideways_overflow(page: Page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


def test_arabic_is_right_to_left_and_mirrored_on_a_phone(browser, live_server, alice):
    page = signed_in_page(browser, live_server, "ar")
    try:
        html = page.locator("html")
        expect(html).to_have_attribute("dir", "rtl")
        expect(html).to_have_attribute("lang", "ar")
        assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
        # Arabic letters from the system's Noto Sans Arabic (fonts-noto-core), no web font.
        assert page.evaluate("getComputedStyle(document.body).fontFamily").startswith('"Noto Sans Arabic"')
        assert page.evaluate("document.fonts.check('16px \"Noto Sans Arabic\"', 'العربية')")

        # The top bar: the brand on the right. Each row: the avatar on the right, its text (and code)
        # to its left, the star and the delete button at the left end.
        brand = box(page, ".brand")
        assert brand["x"] + brand["width"] > PHONE["width"] - 40
        row = page.locator("#codes .account").first
        avatar, text, code, star = (row.locator(part).bounding_box() for part in PARTS)
        assert avatar["x"] > text["x"] > star["x"] and star["x"] < PHONE["width"] / 4
        assert avatar["x"] + avatar["width"] > PHONE["width"] - 40
        assert code["x"] + code["width"] == pytest.approx(text["x"] + text["width"], abs=1)  # it starts on the right

        # The code reads left to right: its first three digits left of the last three.
        first, last = page.evaluate("""() => {
            const text = document.querySelector('#codes .code > span:last-child').firstChild;  // the digits
            const at = (start, end) => { const range = document.createRange(); range.setStart(text, start);
                range.setEnd(text, end); return range.getBoundingClientRect().x; };
            return [at(0, 3), at(text.length - 3, text.length)];
        }""")
        assert first < last

        for path in PAGES:
            page.goto(path)
            expect(page.locator("html")).to_have_attribute("dir", "rtl")
            assert sideways_overflow(page) <= 0, f"{path} scrolls sideways in Arabic"
    finally:
        page.context.close()


def test_english_on_the_same_phone_reads_left_to_right(browser, live_server, alice):
    page = signed_in_page(browser, live_server, "en-US")
    try:
        expect(page.locator("html")).to_have_attribute("dir", "ltr")
        row = page.locator("#codes .account").first
        avatar, text, code, star = (row.locator(part).bounding_box() for part in PARTS)
        assert avatar["x"] < text["x"] < star["x"] and avatar["x"] < 40
        assert code["x"] == pytest.approx(text["x"], abs=1)
        brand = box(page, ".brand")
        assert brand["x"] < 40 and brand["x"] + brand["width"] / 2 < PHONE["width"] / 2
        assert sideways_overflow(page) <= 0
    finally:
        page.context.close()
