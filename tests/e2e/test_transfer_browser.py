"""Import and backup in Chromium: upload → preview → import, and an encrypted backup exported then restored."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.conftest import INTEROP, TEST_PASSWORD
from tests.e2e.conftest import browser_sign_in
from webauth.extensions import db
from webauth.keys import keyring
from webauth.models import User
from webauth.otpauth import encode_secret, parse_uri
from webauth.vault import Vault

BACKUP_PASSWORD = "a long backup password"


def vault_rows(app, username: str) -> list[tuple]:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        vault = Vault(user, keyring())
        rows = []
        for account in vault.accounts():
            spec = vault.spec(account)
            p = spec.params
            rows.append((p.type.value, encode_secret(p.secret), spec.issuer, spec.name, p.algorithm.value, p.digits,
                         p.period, p.counter, spec.note, spec.groups, spec.favorite))
        return sorted(rows)


def open_import(page: Page) -> None:
    page.get_by_role("link", name="Import and export").click()
    expect(page.get_by_role("heading", name="Import accounts")).to_be_visible()


def test_upload_preview_and_import_the_chosen_accounts(app, page, make_user):
    make_user("alice", TEST_PASSWORD)
    browser_sign_in(page, "alice", TEST_PASSWORD)
    open_import(page)
    page.get_by_label("A file exported from another app").set_input_files(str(INTEROP / "plain.txt"))
    page.get_by_role("button", name="Read the file").click()

    expect(page.get_by_role("heading", name="Check the import")).to_be_visible()
    rows = page.locator("tr.import-row")
    expect(rows).to_have_count(7)
    boxes = page.locator('input[name="pick"]')
    for index in range(7):
        expect(boxes.nth(index)).to_be_checked()
    # The script's buttons: untick everything, then tick two accounts by their labels.
    page.get_by_role("button", name="Tick none").click()
    for index in range(7):
        expect(boxes.nth(index)).not_to_be_checked()
    page.get_by_label("Deno Mason").check()
    page.get_by_label("WWE Mason").check()
    page.get_by_role("button", name="Import", exact=True).click()

    expect(page.get_by_role("heading", name="Import finished")).to_be_visible()
    expect(page.locator('[data-count="added"]')).to_have_text("2")
    assert sorted(row[2] for row in vault_rows(app, "alice")) == ["Deno", "WWE"]
    page.get_by_role("link", name="Go to your codes").click()
    expect(page.get_by_text("Deno", exact=True)).to_be_visible()
    expect(page.get_by_text("WWE", exact=True)).to_be_visible()
    assert page.console_errors == []


def test_encrypted_backup_then_restore_into_another_vault(app, page, browser, live_server, make_user, tmp_path):
    make_user("alice", TEST_PASSWORD)
    make_user("bob", TEST_PASSWORD)
    with app.app_context():
        alice = db.session.scalar(select(User).where(User.username == "alice"))
        vault = Vault(alice, keyring())
        vault.add_many(
            [
                parse_uri("otpauth://totp/Acme:alice@example.com?secret=JBSWY3DPEHPK3PXP&issuer=Acme"),
                parse_uri("otpauth://hotp/Initech:carol?secret=GEZDGNBVGY3TQOJQ&issuer=Initech&counter=42"),
                parse_uri("otpauth://totp/Globex:bob?secret=KRSXG5CTMVRXEZLU&issuer=Globex&digits=8&period=60"),
            ],
            source="test",
        )
        first = vault.accounts()[0]
        vault.update(first.uuid, vault.spec(first), groups=["Work"])
        vault.set_favorite(first.uuid, True)
        db.session.commit()

    browser_sign_in(page, "alice", TEST_PASSWORD)
    open_import(page)
    page.get_by_role("link", name="Export or back up").click()
    expect(page.get_by_role("heading", name="Export and back up", exact=True)).to_be_visible()
    page.get_by_label("Backup password").fill(BACKUP_PASSWORD)
    page.get_by_label("Repeat the password").fill("not the same password")
    page.get_by_role("button", name="Download the encrypted backup").click()
    expect(page.get_by_text("The passwords differ.")).to_be_visible()
    page.console_errors.clear()  # the refusal is a 422 document, which Chromium logs
    page.get_by_label("Backup password").fill(BACKUP_PASSWORD)
    page.get_by_label("Repeat the password").fill(BACKUP_PASSWORD)
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download the encrypted backup").click()
    download = download_info.value
    # The download leaves the page in place: no stale refusal, no password left in the fields.
    expect(page.get_by_text("The passwords differ.")).to_have_count(0)
    expect(page.get_by_label("Backup password")).to_have_value("")
    expect(page.get_by_label("Repeat the password")).to_have_value("")
    expect(page.get_by_text("The encrypted backup is downloading.")).to_be_visible()
    assert re.fullmatch(r"webauth-backup-\d{8}-encrypted\.json", download.suggested_filename)
    backup = tmp_path / download.suggested_filename
    download.save_as(backup)
    assert b"JBSWY3DPEHPK3PXP" not in backup.read_bytes()
    assert page.console_errors == []

    context = browser.new_context(base_url=live_server, locale="en-US")
    try:
        restore = context.new_page()
        restore.set_default_timeout(10_000)
        browser_sign_in(restore, "bob", TEST_PASSWORD)
        open_import(restore)
        restore.get_by_label("A file exported from another app").set_input_files(str(backup))
        restore.get_by_role("button", name="Read the file").click()
        expect(restore.get_by_role("heading", name="This file is encrypted")).to_be_visible()
        restore.get_by_label("Password of the file").fill("not the password")
        restore.get_by_role("button", name="Open the file").click()
        expect(restore.get_by_role("alert")).to_contain_text("Wrong password")
        restore.get_by_label("Password of the file").fill(BACKUP_PASSWORD)
        restore.get_by_role("button", name="Open the file").click()
        expect(restore.locator("tr.import-row")).to_have_count(3)
        restore.get_by_role("button", name="Import", exact=True).click()
        expect(restore.locator('[data-count="added"]')).to_have_text("3")
    finally:
        context.close()
    assert vault_rows(app, "bob") == vault_rows(app, "alice")
    assert any(row[9] == ("Work",) and row[10] for row in vault_rows(app, "bob"))
