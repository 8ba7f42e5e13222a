"""A person's first minutes: set up, sign in, add an account, watch its code roll over."""

from __future__ import annotations

import re
import time

import pyotp
from playwright.sync_api import expect
from sqlalchemy import select

from tests.e2e.conftest import browser_sign_in
from tests.support.code_moments import step_showing
from webauth.extensions import db
from webauth.models import User

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def test_first_run_set_up_then_sign_in(app, page):
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/setup$"))
    expect(page.get_by_role("heading", name="Set up webauth")).to_be_visible()
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password", exact=True).fill("a long enough password")
    page.get_by_label("Repeat the password").fill("a long enough password")
    page.get_by_role("button", name="Create administrator").click()
    expect(page.get_by_role("heading", name="Add account")).to_be_visible()
    with app.app_context():
        stored = db.session.scalar(select(User.password_hash).where(User.username == "admin"))
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")  # the server hashes at production cost

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_text("Wrong username or password.")).to_be_visible()
    page.console_errors.clear()  # the refused sign-in is a 401 document, which Chromium logs

    browser_sign_in(page, "admin", "a long enough password")
    expect(page.get_by_role("heading", name="No accounts yet")).to_be_visible()
    assert page.console_errors == []


def test_add_by_link_shows_pyotp_code_and_it_rolls_over_without_reload(page, make_user):
    make_user("alice", "correct horse battery")
    browser_sign_in(page, "alice", "correct horse battery")
    page.get_by_role("navigation").get_by_role("link", name="Add account").click()
    page.get_by_label("otpauth:// link").fill(f"otpauth://totp/Example:alice@example.com?secret={SECRET}&issuer=Example&period=4")
    page.get_by_role("button", name="Add").first.click()
    expect(page.get_by_text("Added Example: alice@example.com.")).to_be_visible()

    totp = pyotp.TOTP(SECRET, interval=4)
    code = page.locator("#codes .code span[id]").first  # its digits
    # pyotp's code of a moment just before the page was read (tests/support/code_moments.py says why not "now").
    step = step_showing(code.inner_text().replace(" ", ""), totp.at, 4, time.time())

    page.evaluate("window.__marker = 'no reload'")
    expect(code).not_to_have_text(code.inner_text(), timeout=6_000)
    assert step_showing(code.inner_text().replace(" ", ""), totp.at, 4, time.time()) > step
    assert page.evaluate("window.__marker") == "no reload"
    assert page.console_errors == []
