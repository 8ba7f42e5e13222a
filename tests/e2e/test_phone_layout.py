"""The app on a phone's touch screen (390x844), a small phone (320 px) and a desktop (1280x800):
nothing wider than the screen, every place one tap from the list, six codes or more in the
first screen, a tap on a row copies, a grid on wide screens that the arrow keys follow, no
layout shift when codes change, and a countdown that says its seconds and warns at the end."""

from __future__ import annotations

import base64
import re
from collections import deque
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Error, Page, expect
from sqlalchemy import select

from tests.e2e.conftest import ConsoleErrors, browser_sign_in
from webauth.extensions import db
from webauth.keys import keyring
from webauth.models import User
from webauth.otpauth import parse_uri
from webauth.vault import Vault

PASSWORD = "correct horse battery"
LONG_NAME = "ada.lovelace.countess.of.lovelace@analytical-engine.example.org"
SCREENS = {
    "phone": {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True},
    "small-phone": {"viewport": {"width": 320, "height": 640}, "has_touch": True, "is_mobile": True},
    "desktop": {"viewport": {"width": 1280, "height": 800}},
}
# Pages a crawl does not open: downloads, actions behind a password, and the offline shell.
SKIPPED = re.compile(r"/export|/download|/reveal/|/logout|/api/|\.json$|^/offline/?$|/static/|/codes/")
# One page of each kind: an account's page stands for them all, a user's for every user.
ONE_OF_A_KIND = re.compile(r"[0-9a-f]{8}-[0-9a-f-]{27}|(?<=/)\d+(?=/|$)|\?.*$")


def secret(n: int) -> str:
    return base64.b32encode(n.to_bytes(4, "big") + b"sixteen bytes..").decode().rstrip("=")


def add(app, uris: list[str], username: str = "ada") -> list[str]:
    with app.app_context():
        vault = Vault(db.session.scalar(select(User).where(User.username == username)), keyring())
        uuids = [vault.add(parse_uri(uri)).uuid for uri in uris]
        db.session.commit()
        return uuids


def demo_accounts(count: int = 8) -> list[str]:
    """A plausible list: long names, twins (same issuer and name, two keys), and plain ones."""
    uris = [
        f"otpauth://totp/Microsoft:{LONG_NAME}?secret={secret(1)}&issuer=Microsoft",
        f"otpauth://totp/Dropbox:{LONG_NAME}?secret={secret(2)}&issuer=Dropbox",
        f"otpauth://totp/Dropbox:{LONG_NAME}?secret={secret(3)}&issuer=Dropbox",
    ]
    uris += [f"otpauth://totp/Service{n:02d}:ada?secret={secret(10 + n)}&issuer=Service{n:02d}"
             for n in range(count - 3)]
    return uris


@pytest.fixture
def ada(make_user, app):
    user = make_user("ada", PASSWORD, admin=True)
    return user


def new_page(browser: Browser, live_server: str, screen: str, **options) -> Page:
    context = browser.new_context(base_url=live_server, locale="en-US", **SCREENS[screen], **options)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors = ConsoleErrors()
    page.on("console", errors.console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.console_errors = errors  # type: ignore[attr-defined]
    return page


@pytest.fixture
def screen_page(request, browser, live_server):
    pages: list[Page] = []

    def make(screen: str, **options) -> Page:
        page = new_page(browser, live_server, screen, **options)
        pages.append(page)
        return page

    yield make
    for page in pages:
        page.context.close()


def wider_than(page: Page, width: int) -> int | None:
    """The page's width when it is wider than the screen (a phone's browser would zoom out)."""
    scroll = page.evaluate("document.documentElement.scrollWidth")
    return scroll if scroll > width else None


@pytest.mark.parametrize("screen", ["phone", "small-phone", "desktop"])
def test_no_page_an_administrator_reaches_is_wider_than_the_screen(app, ada, screen_page, screen):
    add(app, demo_accounts(5))
    page = screen_page(screen)
    width = SCREENS[screen]["viewport"]["width"]
    browser_sign_in(page, "ada", PASSWORD)
    # Every page reachable by links from the list, two links deep (the admin's pages included).
    seen: set[str] = set()
    kinds: set[str] = set()
    queue = deque([("/", 0)])
    too_wide = {}
    while queue:
        path, depth = queue.popleft()
        kind = ONE_OF_A_KIND.sub("*", path)
        if kind in kinds or SKIPPED.search(path):
            continue
        kinds.add(kind)
        seen.add(path)
        try:
            response = page.goto(path)
        except Error as error:  # a download starts instead of a page
            if "Download is starting" in str(error):
                continue
            raise
        if response is None or "text/html" not in (response.headers.get("content-type") or ""):
            continue
        page.wait_for_load_state("load")
        if (wide := wider_than(page, width)) is not None:
            too_wide[path] = wide
        if depth < 2:
            for href in page.eval_on_selector_all("a[href^='/']", "links => links.map(a => a.getAttribute('href'))"):
                link = urlsplit(href)
                queue.append((link.path + (f"?{link.query}" if link.query else ""), depth + 1))
    reached = {urlsplit(path).path.rstrip("/").split("/")[1] if path != "/" else "/" for path in seen}
    assert {"/", "accounts", "transfer", "offline", "backups", "me", "admin"} <= reached, reached
    assert too_wide == {}, f"wider than {width} px: {too_wide}"
    assert page.console_errors == []


@pytest.mark.parametrize("screen", ["phone", "desktop"])
def test_every_place_is_one_tap_from_the_list_and_the_current_one_is_marked(app, ada, screen_page, screen):
    add(app, demo_accounts(3))
    page = screen_page(screen)
    browser_sign_in(page, "ada", PASSWORD)
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Codes")).to_have_attribute("aria-current", "page")
    places = ["Offline copy", "Backups", "Account", "Admin"]
    for name in ["Codes", "Add account", "Import and export"]:
        expect(nav.get_by_role("link", name=name, exact=True)).to_be_in_viewport()
    if screen == "phone":
        # A tab bar at the bottom of the screen, in thumb's reach, and "More" for the others.
        box = nav.bounding_box()
        assert box and box["y"] + box["height"] == pytest.approx(844, abs=1)
        for name in places:
            expect(nav.get_by_role("link", name=name, exact=True)).to_have_count(0)
        nav.get_by_text("More").tap()
    for name in places:
        expect(nav.get_by_role("link", name=name, exact=True)).to_be_in_viewport()
    expect(nav.get_by_role("button", name="Sign out")).to_be_in_viewport()
    nav.get_by_role("link", name="Admin", exact=True).click()
    expect(page).to_have_url(re.compile(r"/admin/users$"))
    admin = page.get_by_role("navigation", name="Main").get_by_role("link", name="Admin", exact=True)
    if screen == "phone":
        # The place is marked on "More", and on its own link inside.
        expect(page.locator("summary.nav-here")).to_have_text("More")
        page.get_by_text("More").tap()
    expect(admin).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Codes")).not_to_have_attribute(
        "aria-current", re.compile(".")
    )
    assert page.console_errors == []


def test_the_menu_works_without_javascript(app, ada, screen_page):
    page = screen_page("phone", java_script_enabled=False)
    page.goto("/login")  # as browser_sign_in does, without waiting for scripts that never run
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url("**/")
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_text("More").tap()
    nav.get_by_role("link", name="Account", exact=True).tap()
    expect(page).to_have_url(re.compile(r"/me/$"))
    nav.get_by_text("More").tap()
    expect(nav.get_by_role("link", name="Account", exact=True)).to_have_attribute("aria-current", "page")


def fully_shown_rows(page: Page) -> int:
    """Rows of the list wholly inside the first screen, above the tab bar if there is one."""
    return page.evaluate(
        """() => {
            const nav = document.querySelector('.topnav').getBoundingClientRect();
            const bottom = nav.top > innerHeight / 2 ? nav.top : innerHeight;
            return [...document.querySelectorAll('#codes .account')].filter((row) => {
                const box = row.getBoundingClientRect();
                return box.top >= 0 && box.bottom <= bottom;
            }).length;
        }"""
    )


def test_a_phone_shows_six_codes_and_a_tap_on_a_row_copies(app, ada, screen_page):
    uuids = add(app, demo_accounts(14))
    page = screen_page("phone")
    browser_sign_in(page, "ada", PASSWORD)
    assert fully_shown_rows(page) >= 6
    # No keyboard hint on a touch screen; search and order in one line.
    expect(page.locator("#list-keys")).to_be_hidden()
    search, order = page.locator("#account-search").bounding_box(), page.locator("#list-sort").bounding_box()
    assert search and order and abs(search["y"] - order["y"]) < 4
    # The key hint that tells twins apart stays whole beside a long name.
    for hint in page.locator("#codes .twin-hint").all():
        assert hint.evaluate("(hint) => hint.scrollWidth <= hint.clientWidth + 1")
        box, row = hint.bounding_box(), hint.locator("xpath=ancestor::li").bounding_box()
        assert box and row and box["x"] + box["width"] <= row["x"] + row["width"]

    # A tap on the row's name copies its code, as its copy button does.
    row = page.locator(f"#account-{uuids[0]}")
    code = row.locator(".code span[id]")  # its digits
    page.evaluate("navigator.clipboard.writeText('nothing yet')")
    before = code.inner_text().replace(" ", "")
    row.locator(".name").tap()
    expect(page.get_by_text("Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") in {before, code.inner_text().replace(" ", "")}
    # The row's other controls do their own thing and copy nothing.
    page.evaluate("navigator.clipboard.writeText('nothing yet')")
    row.get_by_role("button", name="Favorite: Microsoft").tap()
    expect(page.locator(f"#account-{uuids[0]} .star")).to_have_attribute("aria-pressed", "true")
    assert page.evaluate("navigator.clipboard.readText()") == "nothing yet"
    page.locator(f"#account-{uuids[0]}").get_by_role("link", name="Details of Microsoft").tap()
    expect(page).to_have_url(re.compile(rf"/accounts/{uuids[0]}$"))
    assert page.evaluate("navigator.clipboard.readText()") == "nothing yet"

    # The account's page: the current code, no overflow with a long name, "Key hint" explained.
    expect(page.locator("#detail-code .code")).to_have_text(re.compile(r"^\d{3} \d{3}$"))
    expect(page.get_by_text("Derived from the secret key without revealing it")).to_be_visible()
    assert wider_than(page, 390) is None

    # Compact rows, chosen on this device, show more.
    page.goto("/")
    page.get_by_role("button", name="Compact rows").click()
    expect(page.locator("#codes.compact")).to_be_visible()
    assert fully_shown_rows(page) >= 10
    page.reload()
    expect(page.locator("#codes.compact")).to_be_visible()
    assert page.console_errors == []


def test_a_wide_screen_shows_a_grid_that_the_arrow_keys_follow(app, ada, screen_page):
    add(app, demo_accounts(8))
    page = screen_page("desktop")
    browser_sign_in(page, "ada", PASSWORD)
    expect(page.locator("#list-keys")).to_be_visible()
    rows = page.locator("#codes .account-list > .account")
    tops = [box["y"] for box in (rows.nth(n).bounding_box() for n in range(8)) if box]
    columns = tops.count(tops[0])
    assert columns >= 2
    first = rows.nth(0).locator(".code")
    first.focus()
    page.keyboard.press("ArrowRight")
    expect(rows.nth(1).locator(".code")).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(rows.nth(1 + columns).locator(".code")).to_be_focused()
    page.keyboard.press("ArrowLeft")
    expect(rows.nth(columns).locator(".code")).to_be_focused()
    page.keyboard.press("ArrowUp")
    expect(first).to_be_focused()
    assert page.console_errors == []


# For each row's code and next code: the parts of it ("Next", then the digits) that show a piece
# of themselves without all of it (cut by the box that clips them), and any digits cut inside
# their own box (an ellipsis, or text wider than its button).
CUT_CODES = """() => [...document.querySelectorAll('#codes .account')].flatMap((row) => {
  const cut = [];
  const code = row.querySelector('.code');
  if (code.scrollWidth > code.clientWidth + 1) cut.push(`${row.id}: code ${code.textContent.trim()}`);
  const next = row.querySelector('.next-code');
  if (!next || !next.textContent.trim()) return cut;
  const box = next.getBoundingClientRect();
  for (const part of next.childNodes) {
    if (!part.textContent.trim()) continue;
    const range = document.createRange();
    range.selectNodeContents(part);
    const r = range.getBoundingClientRect();
    const inside = r.left >= box.left - 0.5 && r.right <= box.right + 0.5
      && r.top >= box.top - 0.5 && r.bottom <= box.bottom + 0.5;
    const outside = r.top >= box.bottom - 0.5 || r.bottom <= box.top + 0.5
      || r.right <= box.left + 0.5 || r.left >= box.right - 0.5;
    if (!inside && !outside) cut.push(`${row.id}: next "${part.textContent.trim()}"`);
  }
  const ellipsis = getComputedStyle(next).textOverflow === 'ellipsis';
  if (ellipsis && next.scrollWidth > next.clientWidth) cut.push(`${row.id}: ellipsis`);
  return cut;
})"""
# Each row's next code in full when it shows at all: the digits, and whether they are in view.
NEXT_SHOWN = """() => [...document.querySelectorAll('#codes .account .next-code b')].map((digits) => {
  const box = digits.parentElement.getBoundingClientRect(), r = digits.getBoundingClientRect();
  return [digits.textContent, r.top < box.bottom - 0.5 && r.bottom > box.top + 0.5];
})"""


@pytest.mark.parametrize("screen", ["phone", "small-phone"])
def test_no_code_is_cut_on_a_phone(app, ada, screen_page, screen):
    """The next code shows whole or not at all: a narrow row gives up the word "Next", then the
    digits as a whole, never part of them ("Next 648 4…")."""
    # A 10 s period shows the next code all the time (it shows in a period's last 10 seconds).
    add(app, [f"otpauth://totp/Microsoft:{LONG_NAME}?secret={secret(1)}&issuer=Microsoft&period=10",
              f"otpauth://totp/Dropbox:ada?secret={secret(2)}&issuer=Dropbox&period=10&digits=8",
              f"otpauth://totp/GitHub:ada?secret={secret(3)}&issuer=GitHub&period=10"])
    page = screen_page(screen)
    browser_sign_in(page, "ada", PASSWORD)
    expect(page.locator("#codes .next-code b").first).to_have_text(re.compile(r"\d"))
    for compact in (False, True):
        if compact:
            page.get_by_role("button", name="Compact rows").click()
            expect(page.locator("#codes.compact")).to_be_visible()
        assert page.evaluate(CUT_CODES) == []
        shown = page.evaluate(NEXT_SHOWN)
        assert len(shown) == 3 and all(re.fullmatch(r"\d{3,4} \d{3,4}", digits) for digits, _ in shown)
        if screen == "phone":  # at 390 px there is room for a six-digit next code
            assert [visible for digits, visible in shown if len(digits) == 7] == [True, True]
    assert page.console_errors == []


def boxes(page: Page) -> list[dict]:
    return page.eval_on_selector_all(
        "#codes .account .issuer, #codes .account .name, #codes .account .twin-hint, #codes .account",
        "els => els.map(e => { const b = e.getBoundingClientRect(); return [b.x, b.y, b.width, b.height]; })",
    )


def test_names_keep_their_place_when_the_next_code_shows_and_the_code_changes(app, ada, screen_page):
    # A 12 s period: the next code shows 10 s before its end, so both moments come within 12 s.
    # A phone and a desktop watch the same moments.
    [short, *_] = add(app, [f"otpauth://totp/Microsoft:{LONG_NAME}?secret={secret(1)}&issuer=Microsoft&period=12",
                            f"otpauth://totp/Microsoft:{LONG_NAME}?secret={secret(2)}&issuer=Microsoft&period=12"])
    pages = [screen_page("phone"), screen_page("desktop")]
    for page in pages:
        browser_sign_in(page, "ada", PASSWORD)
    phone = pages[0].locator(f"#account-{short}")
    nxt, code = phone.locator(".next-code"), phone.locator(".code span[id]")
    expect(nxt).to_have_text("", timeout=14_000)  # a period's start: no next code yet
    before = [boxes(page) for page in pages]
    expect(nxt).not_to_have_text("", timeout=14_000)
    for page in pages:
        expect(page.locator(f"#account-{short} .next-code")).not_to_have_text("")
    assert [boxes(page) for page in pages] == before
    shown = code.inner_text()
    expect(code).not_to_have_text(shown, timeout=14_000)
    expect(nxt).to_have_text("")
    assert [boxes(page) for page in pages] == before
    assert [page.console_errors for page in pages] == [[], []]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_countdown_says_its_seconds_and_warns_in_the_last_five(app, ada, screen_page, scheme):
    add(app, demo_accounts(3))
    page = screen_page("phone", color_scheme=scheme)
    page.clock.install()
    # The list's clock asks the server at the period's end, whose answer would set the time
    # again from the server's: held back, the countdown follows the page's clock alone.
    page.route("**/codes/tick**", lambda route: None)
    browser_sign_in(page, "ada", PASSWORD)
    countdown = page.locator("#codes-countdown .countdown")
    seconds = countdown.locator(".countdown-seconds")
    expect(seconds).to_have_text(re.compile(r"^\d{1,2}$"))
    page.clock.pause_at(page.evaluate("Date.now()") + 100)
    left = int(seconds.inner_text())
    if left <= 7:  # too near the end to see it coming: go on to the next period
        page.clock.run_for(left * 1000)
        expect(seconds).to_have_text("30")
        left = 30
    expect(countdown).not_to_have_class(re.compile("countdown-ending"))
    page.clock.run_for((left - 6) * 1000)
    expect(seconds).to_have_text("6")
    expect(countdown).not_to_have_class(re.compile("countdown-ending"))
    page.clock.run_for(1000)
    expect(seconds).to_have_text("5")
    expect(countdown).to_have_class(re.compile("countdown-ending"))
    page.clock.run_for(5000)
    expect(seconds).to_have_text("30")
    expect(countdown).not_to_have_class(re.compile("countdown-ending"))
    # The ring shows on the theme's background: its colour stands apart from the page's.
    ring, background = page.evaluate(
        """() => [getComputedStyle(document.querySelector('.countdown-ring')).color,
                  getComputedStyle(document.body).backgroundColor]"""
    )
    assert ring != background
