"""Adding and organising accounts in Chromium: paste and drop of QR images, the camera scanner
(Chromium's fake camera playing a QR code), search, keyboard, drag ordering and undo."""

from __future__ import annotations

import base64
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, browser_sign_in, copy_and_read_clipboard, wait_for_scripts
from tests.support.qr_images import qr_image, qr_png, qr_sheet, write_y4m
from webauth.extensions import db
from webauth.keys import keyring
from webauth.models import Account, User
from webauth.otpauth import parse_uri
from webauth.vault import Vault

PASSWORD = "correct horse battery"
SECRETS = ("JBSWY3DPEHPK3PXP", "GEZDGNBVGY3TQOJQ", "KRSXG5CTMVRXEZLU", "MFRGGZDFMZTWQ2LK")


def link(issuer: str, name: str = "alice", secret: str = SECRETS[0]) -> str:
    return f"otpauth://totp/{issuer}:{name}?secret={secret}&issuer={issuer}"


def add_accounts(app, issuers: list[str]) -> dict[str, str]:
    with app.app_context():
        vault = Vault(db.session.scalar(select(User).where(User.username == "alice")), keyring())
        uuids = {issuer: vault.add(parse_uri(link(issuer, secret=SECRETS[n]))).uuid for n, issuer in enumerate(issuers)}
        db.session.commit()
        return uuids


def issuers_in_db(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(Account.issuer).where(Account.deleted_at.is_(None))))


def listed(page) -> list[str]:
    return page.locator("#codes .account .issuer").all_inner_texts()


@pytest.fixture
def alice(make_user):
    return make_user("alice", PASSWORD)


def test_an_image_pasted_with_ctrl_v_adds_its_account(app, alice, page):
    browser_sign_in(page, "alice", PASSWORD)
    expect(page.get_by_role("heading", name="No accounts yet")).to_be_visible()
    image = base64.b64encode(qr_png(link("GitHub"))).decode()
    page.evaluate(
        """async (data) => {
            const blob = new Blob([Uint8Array.from(atob(data), (ch) => ch.charCodeAt(0))], { type: 'image/png' });
            await navigator.clipboard.write([new ClipboardItem({ 'image/png': blob })]);
        }""",
        image,
    )
    page.locator("body").click(position={"x": 5, "y": 200})
    page.keyboard.press("Control+V")
    expect(page.get_by_text("Added GitHub: alice.")).to_be_visible()
    expect(page.locator("#codes .account .issuer")).to_have_text(["GitHub"])
    assert issuers_in_db(app) == ["GitHub"]
    assert page.console_errors == []


def test_an_image_dropped_on_the_add_page_adds_every_account_in_it(app, alice, page):
    browser_sign_in(page, "alice", PASSWORD)
    page.get_by_role("link", name="Add account").first.click()
    page.wait_for_load_state("load")  # the page's modules listen for drops only once they have run
    sheet = base64.b64encode(qr_sheet([link("GitHub"), link("GitLab", secret=SECRETS[1])])).decode()
    transfer = page.evaluate_handle(
        """(data) => {
            const bytes = Uint8Array.from(atob(data), (ch) => ch.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], 'screenshot.png', { type: 'image/png' }));
            return transfer;
        }""",
        sheet,
    )
    page.dispatch_event("body", "dragover", {"dataTransfer": transfer})
    expect(page.get_by_text("Drop the image to add its accounts")).to_be_visible()
    page.dispatch_event("body", "drop", {"dataTransfer": transfer})
    expect(page.get_by_role("heading", name="Accounts found")).to_be_visible()
    expect(page.get_by_text("2 new accounts can be added.")).to_be_visible()
    page.get_by_role("button", name="Add all 2 accounts").click()
    expect(page.get_by_text("Added 2 accounts.")).to_be_visible()
    expect(page.locator("#codes .account .issuer")).to_have_text(["GitHub", "GitLab"])
    page.wait_for_load_state("load")
    assert page.console_errors == []

    # Something that is not an image, dropped on the list, gets a clear message (and a 415).
    transfer = page.evaluate_handle(
        """() => {
            const transfer = new DataTransfer();
            transfer.items.add(new File(['%PDF-1.7'], 'scan.pdf', { type: 'application/pdf' }));
            return transfer;
        }"""
    )
    page.dispatch_event("body", "drop", {"dataTransfer": transfer})
    expect(page.get_by_text("This file is not an image.")).to_be_visible()
    assert sorted(issuers_in_db(app)) == ["GitHub", "GitLab"]


def test_the_camera_scans_a_qr_code_and_stops(app, alice, browser, live_server, tmp_path):
    """Chromium's fake camera plays a video of a QR code; jsQR reads it (Linux has no BarcodeDetector)."""
    video = write_y4m(tmp_path / "qr.y4m", qr_image(link("Camera", secret=SECRETS[2]), box=8))
    args = [*CHROMIUM_ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={video}"]
    camera_browser = browser.browser_type.launch(executable_path=CHROMIUM, headless=True, args=args)
    try:
        context = camera_browser.new_context(base_url=live_server, locale="en-US")
        context.grant_permissions(["camera"], origin=live_server)
        # Count the camera tracks stopped, across the navigation that follows the scan.
        context.add_init_script(
            """const stop = MediaStreamTrack.prototype.stop;
            MediaStreamTrack.prototype.stop = function () {
                sessionStorage.setItem('stopped', String(Number(sessionStorage.getItem('stopped') || 0) + 1));
                return stop.call(this);
            };"""
        )
        page = context.new_page()
        page.set_default_timeout(15_000)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        browser_sign_in(page, "alice", PASSWORD)
        page.goto("/accounts/new")
        page.get_by_role("button", name="Scan with the camera").click()
        expect(page.get_by_role("dialog", name="Scan a QR code")).to_be_visible()
        expect(page.get_by_text("Added Camera: alice.")).to_be_visible()
        assert page.evaluate("sessionStorage.getItem('stopped')") == "1"
        assert issuers_in_db(app) == ["Camera"]
        assert errors == []
    finally:
        camera_browser.close()


def test_search_as_you_type_and_the_keyboard(app, alice, page):
    add_accounts(app, ["GitHub", "GitLab", "Dropbox", "AWS"])
    # One column, where ↓ goes to the next account (the grid's arrows: test_phone_layout.py).
    page.set_viewport_size({"width": 700, "height": 900})
    browser_sign_in(page, "alice", PASSWORD)
    expect(page.locator("#codes .account")).to_have_count(4)
    page.evaluate("window.__marker = 'no reload'")
    page.keyboard.press("/")
    search = page.get_by_label("Search accounts")
    expect(search).to_be_focused()
    page.keyboard.type("git")
    expect(page.locator("#codes .account .issuer")).to_have_text(["GitHub", "GitLab"])
    expect(page).to_have_url(re.compile(r"/\?q=git"))
    assert page.evaluate("window.__marker") == "no reload"
    expect(page.locator("#list-status")).to_have_text("2 accounts")

    page.keyboard.press("ArrowDown")
    expect(page.get_by_role("button", name="Copy the code for GitHub")).to_be_focused()
    page.keyboard.press("ArrowDown")
    lab = page.get_by_role("button", name="Copy the code for GitLab")
    expect(lab).to_be_focused()
    digits = lab.locator("span[id]")  # the words naming the button are hidden
    copy_and_read_clipboard(page, lambda: digits.inner_text().replace(" ", ""), lambda: page.keyboard.press("Enter"))
    # The list's own refresh keeps the search and the focus.
    page.evaluate("htmx.trigger('#codes', 'refresh')")
    expect(page.locator("#codes .account")).to_have_count(2)
    expect(lab).to_be_focused()

    search.fill("")
    expect(page.locator("#codes .account")).to_have_count(4)
    assert page.console_errors == []


def test_drag_to_reorder_then_delete_and_undo(app, alice, page):
    uuids = add_accounts(app, ["Alpha", "Bravo", "Charlie", "Delta"])
    browser_sign_in(page, "alice", PASSWORD)
    expect(page.locator("#codes .account")).to_have_count(4)

    # Drag Delta by its icon onto the start of Bravo: before it, in a list or in a grid
    # (where Bravo stands beside Alpha, on the line above Delta).
    handle = page.locator(f"#account-{uuids['Delta']} .avatar")
    target = page.locator(f"#account-{uuids['Bravo']}").bounding_box()
    start = handle.bounding_box()
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    for fraction in (0.3, 0.6, 1.0):
        x = start["x"] + start["width"] / 2 + (target["x"] + 5 - start["x"] - start["width"] / 2) * fraction
        y = start["y"] + (target["y"] + 5 - start["y"]) * fraction
        page.mouse.move(x, y, steps=4)
    with page.expect_response(re.compile(r"/move$")) as moved:
        page.mouse.up()
    assert moved.value.ok
    expected = ["Alpha", "Delta", "Bravo", "Charlie"]
    expect(page.locator("#codes .account .issuer")).to_have_text(expected)
    page.reload()
    expect(page.locator("#codes .account .issuer")).to_have_text(expected)
    wait_for_scripts(page)

    # The keyboard does the same: Alt+↑ moves the focused account up.
    page.get_by_role("button", name="Copy the code for Charlie").focus()
    page.keyboard.press("Alt+ArrowUp")
    expect(page.locator("#codes .account .issuer")).to_have_text(["Alpha", "Delta", "Charlie", "Bravo"])
    expect(page.get_by_role("button", name="Copy the code for Charlie")).to_be_focused()
    # Alt+↓ onto the last place: after the last row, which is the end here.
    page.get_by_role("button", name="Copy the code for Charlie").focus()
    page.keyboard.press("Alt+ArrowDown")
    expect(page.locator("#codes .account .issuer")).to_have_text(["Alpha", "Delta", "Bravo", "Charlie"])
    page.get_by_role("button", name="Copy the code for Charlie").focus()
    page.keyboard.press("Alt+ArrowUp")
    expect(page.locator("#codes .account .issuer")).to_have_text(["Alpha", "Delta", "Charlie", "Bravo"])

    # Delete, then undo right away.
    page.get_by_role("link", name="Delete Delta").click()  # asks first
    page.get_by_role("dialog").get_by_role("button", name="Move to the trash").click()
    expect(page.get_by_text("Moved Delta to the trash.")).to_be_visible()
    expect(page.locator("#codes .account .issuer")).to_have_text(["Alpha", "Charlie", "Bravo"])
    page.get_by_role("button", name="Undo").click()
    expect(page.locator("#codes .account .issuer")).to_have_text(["Alpha", "Delta", "Charlie", "Bravo"])
    assert sorted(issuers_in_db(app)) == ["Alpha", "Bravo", "Charlie", "Delta"]
    assert page.console_errors == []
