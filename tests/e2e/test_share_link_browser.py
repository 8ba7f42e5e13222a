"""A share link on a phone (390x844, touch): the owner makes it on the account page, someone who
never signed in opens it in a fresh browser and sees the owner's live code, refreshed at the
period's end; the token is in no request's URL or Referer; once revoked, the page says so."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pyotp
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from tests.conftest import TEST_PASSWORD
from tests.e2e.conftest import ConsoleErrors, browser_sign_in
from tests.support.code_moments import step_showing
from webauth.extensions import db
from webauth.keys import keyring
from webauth.models import User
from webauth.otpauth import parse_uri
from webauth.vault import Vault

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
PERIOD = 4  # short, so the page's refresh at the period's end is seen within the test


def phone_page(browser: Browser, base_url: str) -> tuple[Page, list, ConsoleErrors]:
    context = browser.new_context(
        base_url=base_url, locale="en-US", viewport={"width": 390, "height": 844},
        device_scale_factor=3, is_mobile=True, has_touch=True,
    )
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors = ConsoleErrors()
    page.on("console", errors.console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    requests: list = []
    page.on("request", lambda request: requests.append(request))
    return page, requests, errors


@pytest.fixture
def phones(browser, live_server) -> Iterator[tuple]:
    made = [phone_page(browser, live_server), phone_page(browser, live_server)]
    yield made
    for page, _requests, _errors in made:
        page.context.close()


def test_a_share_link_shows_the_owners_code_on_a_phone_without_signing_in(app, make_user, phones):
    make_user("alice", TEST_PASSWORD)
    with app.app_context():
        vault = Vault(db.session.scalar(select(User).where(User.username == "alice")), keyring())
        uri = f"otpauth://totp/Fast:alice@example.com?secret={SECRET}&issuer=Fast&period={PERIOD}"
        uuid = vault.add(parse_uri(uri)).uuid
        db.session.commit()
    (owner, _owner_requests, owner_errors), (viewer, requests, viewer_errors) = phones

    browser_sign_in(owner, "alice", TEST_PASSWORD)
    owner.goto(f"/accounts/{uuid}")
    owner.get_by_label("2 minutes").tap()
    owner.get_by_role("button", name="Make a share link").tap()
    field = owner.get_by_test_id("share-link")
    expect(field).to_be_visible()
    url = field.input_value()
    path, _hash, token = url.partition("#")
    assert path.endswith("/s") and len(token) == 43
    expect(owner.get_by_text("ends in 2 minutes")).to_be_visible()

    # Someone who never signed in, in another browser.
    viewer.goto(url)
    code = viewer.get_by_test_id("share-code")
    expect(code).to_be_visible()
    expect(viewer.get_by_test_id("share-issuer")).to_have_text("Fast")
    expect(viewer.get_by_test_id("share-name")).to_be_hidden()  # the owner did not choose to show it
    expect(viewer.get_by_test_id("share-link-left")).to_contain_text("This link ends in 1:")  # 2:00 less a moment
    totp = pyotp.TOTP(SECRET, interval=PERIOD)
    first = code.inner_text()
    first_step = step_showing(first.replace(" ", ""), totp.at, PERIOD, time.time())
    # At the period's end the page asks again, and shows the next code (the owner's, computed by pyotp here).
    expect(code).not_to_have_text(first, timeout=8_000)
    next_step = step_showing(code.inner_text().replace(" ", ""), totp.at, PERIOD, time.time())
    assert next_step in {first_step + 1, first_step + 2}
    # Tapping the code copies it.
    shown = code.inner_text().replace(" ", "")
    code.tap()
    expect(viewer.get_by_text("Copied")).to_be_visible()
    assert viewer.evaluate("navigator.clipboard.readText()") in {shown, code.inner_text().replace(" ", "")}
    # The page fits the phone's width: nothing scrolls sideways.
    assert viewer.evaluate("document.documentElement.scrollWidth") <= 390

    # The token never left the browser in a URL or a Referer; the code requests carried it in their body.
    assert requests and all(token not in request.url for request in requests)
    assert all(token not in (request.headers.get("referer") or "") for request in requests)
    posts = [request for request in requests if request.url.endswith("/s/code")]
    assert len(posts) >= 2 and all(token in (request.post_data or "") for request in posts)
    assert "cookie" not in posts[0].headers  # no session: this browser never signed in

    # The owner revokes it: the page, opened again, says the link has ended.
    owner.get_by_role("button", name="Revoke").tap()
    expect(owner.get_by_text("No share link is running.")).to_be_visible()
    viewer.reload()
    expect(viewer.get_by_test_id("share-issuer")).to_have_text("This link has expired or was revoked.")
    expect(code).to_be_hidden()
    # A link cut short or mangled says so, without asking the server anything it need not.
    for broken in ("/s", "/s#%E0", f"/s#{token[:20]}"):
        viewer.goto(broken)
        expect(viewer.get_by_test_id("share-issuer")).to_have_text(
            "This is not a share link: check that you copied all of it."
        )
    # Chromium logs the 410 (and 400) answers those links got; nothing else went wrong on either phone.
    unexpected = [error for error in viewer_errors if not re.search(r"status of 4(00|10) ", error)]
    assert owner_errors == [] and unexpected == []
