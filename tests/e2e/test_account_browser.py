"""The account page on a phone (390x844, touch): times in the phone's own zone, and a password change."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date, format_time
from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.conftest import TEST_PASSWORD
from tests.e2e.conftest import ConsoleErrors, browser_sign_in
from webauth import users
from webauth.extensions import db
from webauth.models import SessionRecord

ZONE = "Asia/Shanghai"  # UTC+8 all year: the local time differs from UTC, and by a known amount
NEW_PASSWORD = "a phone-typed passphrase"


@pytest.fixture
def phone(browser, live_server) -> Iterator[Page]:
    context = browser.new_context(
        base_url=live_server,
        locale="en-US",
        timezone_id=ZONE,
        viewport={"width": 390, "height": 844},
        device_scale_factor=3,
        is_mobile=True,
        has_touch=True,
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors = ConsoleErrors()
    page.on("console", errors.console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.console_errors = errors  # type: ignore[attr-defined]
    yield page
    context.close()


def test_times_are_local_and_the_password_changes_on_a_phone(app, phone, make_user):
    make_user("alice", TEST_PASSWORD)
    browser_sign_in(phone, "alice", TEST_PASSWORD)
    with app.app_context():
        started = db.session.scalar(select(SessionRecord.created_at).order_by(SessionRecord.id.desc()))
    local = started.astimezone(ZoneInfo(ZONE))

    phone.goto("/me/")
    first = phone.locator("time").first
    # The session's start, which the server wrote in UTC, reads in the phone's zone, named.
    expect(first).to_contain_text(local.strftime("%m/%d/%Y"))
    expect(first).to_contain_text(local.strftime("%I:%M"))
    expect(first).to_contain_text("GMT+8")
    # The title keeps the server's text: the moment in UTC, in the page's language (Babel's formats).
    in_utc = started.replace(tzinfo=started.tzinfo or UTC)
    server_text = f"{format_date(in_utc, 'medium', locale='en')} {format_time(in_utc, 'short', locale='en')} UTC"
    expect(first).to_have_attribute("title", server_text)

    phone.get_by_role("link", name="change your password").tap()
    expect(phone.get_by_role("heading", name="Change your password")).to_be_visible()
    phone.get_by_label("Current password").fill("not my password")
    phone.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    phone.get_by_label("Repeat the new password").fill(NEW_PASSWORD)
    phone.get_by_role("button", name="Change password").tap()
    expect(phone.get_by_text("This is not your current password.")).to_be_visible()
    phone.console_errors.clear()  # the refusal is a 401 document, which Chromium logs

    phone.get_by_label("Current password").fill(TEST_PASSWORD)
    phone.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    phone.get_by_label("Repeat the new password").fill(NEW_PASSWORD)
    expect(phone.get_by_label("Sign out my other sessions")).to_be_checked()
    phone.get_by_role("button", name="Change password").tap()
    expect(phone.get_by_text("Your password is changed.")).to_be_visible()
    # The whole page fits the phone's width.
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    with app.app_context():
        assert users.authenticate("alice", NEW_PASSWORD) is not None
        assert users.authenticate("alice", TEST_PASSWORD) is None
    assert phone.console_errors == []
