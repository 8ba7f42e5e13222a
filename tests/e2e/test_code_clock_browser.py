"""The code list over time in Chromium: at each boundary only the codes change, a change made
elsewhere redraws the list, and a long list grows as it scrolls."""

from __future__ import annotations

import base64
import re
import time

import pyotp
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.e2e.conftest import browser_sign_in
from tests.support.code_moments import step_showing
from webauth.extensions import db
from webauth.keys import keyring
from webauth.listing import PAGE_SIZE
from webauth.models import User
from webauth.otpauth import parse_uri
from webauth.vault import Vault

PASSWORD = "correct horse battery"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.fixture
def alice(make_user):
    return make_user("alice", PASSWORD)


def add(app, uris: list[str]) -> list[str]:
    with app.app_context():
        vault = Vault(db.session.scalar(select(User).where(User.username == "alice")), keyring())
        uuids = [vault.add(parse_uri(uri)).uuid for uri in uris]
        db.session.commit()
        return uuids


def test_at_each_boundary_only_the_codes_change_and_a_change_elsewhere_redraws(app, alice, page):
    [fast] = add(app, [f"otpauth://totp/Fast:alice?secret={SECRET}&issuer=Fast&period=4"])
    browser_sign_in(page, "alice", PASSWORD)
    ticks = []
    page.on("request", lambda request: ticks.append(request.url) if "/codes/tick" in request.url else None)
    row = page.locator(f"#account-{fast}")
    code = row.locator(".code span[id]")  # its digits (the words naming it are hidden)
    totp = pyotp.TOTP(SECRET, interval=4)
    # A mark on the row (not on the code cell) tells whether the row was drawn again.
    page.evaluate("(id) => { document.getElementById(id).dataset.probe = 'kept'; window.__marker = 'no reload'; }",
                  f"account-{fast}")
    copy = row.get_by_role("button", name="Copy the code for Fast")
    copy.focus()  # a keyboard user on the code keeps the focus when the cell is swapped
    first = code.inner_text()
    first_step = step_showing(first.replace(" ", ""), totp.at, 4, time.time())
    expect(code).not_to_have_text(first, timeout=8_000)
    # The next period's code (or the one after, if the machine is slow enough to miss a period).
    assert step_showing(code.inner_text().replace(" ", ""), totp.at, 4, time.time()) in {first_step + 1, first_step + 2}
    assert row.get_attribute("data-probe") == "kept"
    expect(copy).to_be_focused()
    assert ticks, "the clock asked nothing"
    # The copy button copies what it shows: its digits, read when it is pressed.
    copy.click()
    expect(page.get_by_text("Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") in {
        totp.at(time.time()), totp.at(time.time() - 1), code.inner_text().replace(" ", "")}

    # An account added elsewhere (another device, a sync) shows at the next boundary.
    add(app, ["otpauth://totp/Newcomer:alice?secret=GEZDGNBVGY3TQOJQ&issuer=Newcomer"])
    expect(page.locator("#codes .account .issuer")).to_have_text(["Fast", "Newcomer"], timeout=8_000)
    assert row.get_attribute("data-probe") is None  # the whole list, this time
    # And codes alone again after that.
    redrawn = page.locator(f"#account-{fast}")
    page.evaluate("(id) => { document.getElementById(id).dataset.probe = 'kept'; }", f"account-{fast}")
    now = redrawn.locator(".code span[id]").inner_text()
    expect(redrawn.locator(".code span[id]")).not_to_have_text(now, timeout=8_000)
    assert redrawn.get_attribute("data-probe") == "kept"
    assert page.evaluate("window.__marker") == "no reload"
    assert page.console_errors == []


def test_a_long_list_grows_as_it_scrolls_and_keeps_its_length(app, alice, page):
    count = PAGE_SIZE + 12
    secret = lambda n: base64.b32encode(n.to_bytes(4, "big") + b"sixteen bytes..").decode().rstrip("=")  # noqa: E731
    uuids = add(app, [f"otpauth://totp/Service{n:03d}:alice?secret={secret(n)}&issuer=Service{n:03d}"
                      for n in range(count)])
    browser_sign_in(page, "alice", PASSWORD)
    rows = page.locator("#codes .account-list > .account")
    expect(rows).to_have_count(PAGE_SIZE)
    page.evaluate("window.__marker = 'no reload'")
    more = page.get_by_role("link", name="Show more accounts")
    more.scroll_into_view_if_needed()
    expect(rows).to_have_count(count)
    expect(more).to_have_count(0)
    expect(page).to_have_url(re.compile(rf"show={PAGE_SIZE * 2}"))
    assert page.evaluate("window.__marker") == "no reload"

    # An action down there keeps every row shown, and the codes of the new rows tick too.
    page.get_by_role("link", name=f"Delete Service{count - 2:03d}").click()  # asks first
    page.get_by_role("dialog").get_by_role("button", name="Move to the trash").click()
    expect(page.get_by_text(f"Moved Service{count - 2:03d} to the trash.")).to_be_visible()
    expect(rows).to_have_count(count - 1)
    clock = page.locator("#codes-clock")
    expect(clock).to_have_attribute("hx-get", re.compile(rf"show={PAGE_SIZE * 2}"))
    last = page.locator(f"#account-{uuids[-1]}").locator(".code span[id]")
    expect(last).to_have_text(re.compile(r"^\d{3} \d{3}$"))
    page.reload()
    expect(rows).to_have_count(count - 1)
    assert page.console_errors == []
