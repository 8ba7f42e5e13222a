"""Phone first, and safe (issue 15): on a phone (390x844, touch) deleting asks first and its
"Undo" shows where the thumb is, a revealed secret shows without scrolling and Back skips
"Confirm it is you", a bad link's reason comes back in view, review tables keep the reason a
row fails in view, and the app offers to install itself (a button where the browser can, the
steps on an iPhone)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import update

from tests.conftest import TEST_PASSWORD
from tests.e2e.conftest import ConsoleErrors, browser_sign_in
from tests.support.accounts import OTHER, add, link, stored
from webauth.extensions import db
from webauth.models import SessionRecord, utcnow

WIDTH, HEIGHT = 390, 844
IPHONE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Mobile/15E148 Safari/604.1"
)
# Where an element is, as the viewport sees it.
BOX = "(element) => { const r = element.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; }"


def open_phone(browser: Browser, base_url: str, **options) -> Page:
    context = browser.new_context(
        base_url=base_url, locale="en-US", viewport={"width": WIDTH, "height": HEIGHT}, device_scale_factor=3,
        is_mobile=True, has_touch=True, **options,
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors = ConsoleErrors()
    page.on("console", errors.console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.console_errors = errors  # type: ignore[attr-defined]
    return page


@pytest.fixture
def phone(browser, live_server, make_user) -> Iterator[Page]:
    make_user("alice", TEST_PASSWORD)
    page = open_phone(browser, live_server)
    browser_sign_in(page, "alice", TEST_PASSWORD)
    yield page
    page.context.close()


def in_viewport(page: Page, selector: str) -> bool:
    left, top, right, bottom = page.locator(selector).evaluate(BOX)
    return left >= 0 and top >= 0 and right <= WIDTH and bottom <= HEIGHT


def test_delete_asks_first_and_undo_shows_at_the_thumb(app, phone):
    uuids = [add(app, link(f"Service {n:02d}", "alice")) for n in range(12)]
    last = uuids[-1]
    phone.goto("/")
    row = phone.locator(f"#account-{last}")
    row.scroll_into_view_if_needed()
    assert phone.evaluate("window.scrollY") > 300  # far down the list

    row.get_by_role("link", name="Delete Service 11").tap()
    dialog = phone.get_by_role("dialog", name="Move Service 11 to the trash?")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Cancel").tap()
    expect(dialog).to_be_hidden()
    expect(row).to_be_visible()
    assert len(stored(app)) == 12  # Cancel keeps it

    row.get_by_role("link", name="Delete Service 11").tap()
    dialog.get_by_role("button", name="Move to the trash").tap()
    expect(row).to_have_count(0)
    assert len(stored(app)) == 11
    snackbar = phone.get_by_role("status").filter(has_text="Moved Service 11 to the trash.")
    expect(snackbar).to_be_visible()
    undo = snackbar.get_by_role("button", name="Undo")
    expect(undo).to_be_focused()
    assert phone.evaluate("window.scrollY") > 300  # still down there, and the snackbar with it
    assert in_viewport(phone, "#snackbar")

    undo.tap()
    expect(row).to_be_visible()
    expect(phone.locator(f"#account-{last} .code")).to_be_focused()
    assert len(stored(app)) == 12
    assert phone.console_errors == []


def test_a_revealed_secret_shows_at_once_and_back_skips_the_password(app, phone):
    uuid = add(app, link("Bank", "carol", OTHER))
    with app.app_context():  # the sign-in's password entry long past
        db.session.execute(update(SessionRecord).values(reauth_at=utcnow() - timedelta(hours=1)))
        db.session.commit()
    phone.goto(f"/accounts/{uuid}")
    phone.get_by_role("link", name="Show the secret key").tap()
    expect(phone.get_by_role("heading", name="Confirm it is you")).to_be_visible()
    phone.get_by_label("Password").fill(TEST_PASSWORD)
    phone.get_by_role("button", name="Continue").tap()

    secret = phone.get_by_test_id("secret")
    expect(secret).to_have_text("GEZD GNBV GY3T QOJQ")
    assert in_viewport(phone, "[data-testid=secret]")
    assert phone.evaluate("window.scrollY") == 0  # seen without scrolling
    expect(phone.locator("#revealed")).to_be_focused()

    phone.go_back()
    expect(phone.get_by_role("heading", name="Bank")).to_be_visible()
    assert phone.url.endswith(f"/accounts/{uuid}")
    expect(phone.get_by_role("heading", name="Confirm it is you")).to_have_count(0)
    assert phone.console_errors == []


def test_without_javascript_back_from_a_revealed_secret_skips_the_password(app, browser, live_server, make_user):
    """The same walk with scripts off: the form's page stays in the history, and Back to it,
    once the password is confirmed, lands on the account's page (views/auth.py)."""
    make_user("alice", TEST_PASSWORD)
    uuid = add(app, link("Bank", "carol", OTHER))
    page = open_phone(browser, live_server, java_script_enabled=False)
    page.goto("/login")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).tap()
    page.wait_for_url("**/")
    with app.app_context():
        db.session.execute(update(SessionRecord).values(reauth_at=utcnow() - timedelta(hours=1)))
        db.session.commit()
    page.goto(f"/accounts/{uuid}")
    page.get_by_role("link", name="Show the secret key").tap()
    expect(page.get_by_role("heading", name="Confirm it is you")).to_be_visible()
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Continue").tap()
    expect(page.get_by_test_id("secret")).to_have_text("GEZD GNBV GY3T QOJQ")

    page.go_back()
    expect(page.get_by_role("heading", name="Bank")).to_be_visible()
    assert page.url.endswith(f"/accounts/{uuid}")
    expect(page.get_by_role("heading", name="Confirm it is you")).to_have_count(0)
    page.context.close()


def test_the_paste_preview_keeps_every_status_whole(app, phone):
    long_name = "root-account-of-the-production-organisation@example.com"
    text = "\n".join([
        link("Amazon Web Services", long_name),
        link("微信支付商户平台", "张伟的工作账号", OTHER),
        "otpauth://totp/Broken?secret=not-base32!",
    ])
    # A bad link first: the page comes back with the reason in view and focused, not below the fold.
    phone.goto("/accounts/new")
    phone.locator("#uri-uri").fill("otpauth://totp/Broken?secret=not-base32!")
    phone.locator("#uri-uri").evaluate("(field) => field.form.requestSubmit()")
    reason = phone.locator("#uri-uri-errors")
    expect(reason).to_contain_text("The secret key holds")
    expect(reason).to_be_focused()
    assert in_viewport(phone, "#uri-uri-errors")

    phone.locator("#uri-uri").fill(text)
    phone.locator("#uri-uri").evaluate("(field) => field.form.requestSubmit()")
    expect(phone.get_by_role("heading", name="Accounts found")).to_be_visible()

    assert phone.evaluate("document.documentElement.scrollWidth") <= WIDTH  # nothing to scroll sideways
    statuses = phone.locator("td[data-label=Status]")
    expect(statuses).to_have_count(3)
    for index in range(3):
        status = statuses.nth(index)
        left, _, right, _ = status.evaluate(BOX)
        assert left >= 0 and right <= WIDTH
        assert status.evaluate("(cell) => cell.scrollWidth <= cell.clientWidth")  # nothing clipped
    expect(statuses.nth(2)).to_contain_text("Cannot be added")
    # A Chinese name runs along the line, not one character under the other.
    chinese = phone.get_by_text("微信支付商户平台")
    _, top, _, bottom = chinese.evaluate(BOX)
    assert bottom - top < 40
    # Only the bad link's answer (422) was an error.
    assert [error for error in phone.console_errors if "status of 422" not in error] == []


def test_the_install_button_and_the_iphone_steps(browser, live_server, make_user):
    make_user("alice", TEST_PASSWORD)
    page = open_phone(browser, live_server)
    try:
        page.goto("/login")
        install = page.get_by_role("button", name="Install", exact=True)
        expect(install).to_be_hidden()  # until the browser offers to install
        page.evaluate("""() => {
            const offer = new Event('beforeinstallprompt', { cancelable: true });
            offer.prompt = () => { window.prompted = (window.prompted || 0) + 1; return Promise.resolve(); };
            window.dispatchEvent(offer);
            window.offerDefaultPrevented = offer.defaultPrevented;
        }""")
        assert page.evaluate("window.offerDefaultPrevented") is True  # our button, not the mini-infobar
        # Not over the first look at the page (it would be its largest paint, late): it comes
        # at the person's first click, tap or key.
        page.wait_for_timeout(300)
        expect(install).to_be_hidden()
        page.get_by_role("heading", name="Sign in").tap()
        expect(install).to_be_visible()
        # It comes after the page has loaded, floating in view: nothing on the page moves down.
        assert page.locator("#install-prompt").evaluate("(box) => getComputedStyle(box).position") == "fixed"
        assert in_viewport(page, "#install-prompt")
        install.tap()
        expect(install).to_be_hidden()
        assert page.evaluate("window.prompted") == 1
        expect(page.get_by_text("tap Share, then “Add to Home Screen”")).to_be_hidden()  # not Safari
    finally:
        page.context.close()

    iphone = open_phone(browser, live_server, user_agent=IPHONE_SAFARI)
    try:
        iphone.goto("/login")
        steps = iphone.get_by_text("To install webauth on this iPhone or iPad, tap Share, then “Add to Home Screen”.")
        expect(steps).to_be_hidden()
        iphone.get_by_role("heading", name="Sign in").tap()
        expect(steps).to_be_visible()
        iphone.locator("#install-ios").get_by_role("button", name="OK").tap()
        expect(steps).to_be_hidden()
        iphone.reload()
        iphone.get_by_role("heading", name="Sign in").tap()
        iphone.wait_for_timeout(300)
        expect(steps).to_be_hidden()  # dismissed for good on this device
        assert iphone.console_errors == []
    finally:
        iphone.context.close()
