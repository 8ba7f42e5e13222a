"""The offline copy in a real browser: turned on with a PIN, opened with no network, codes equal
to pyotp's (mOTP and Yandex codes to the server's: the browser computes them too), a blob
Python can decrypt, kept fresh after changes, deleted by sign-out, by too many wrong PINs, by
"Forget this device" and by an administrator's switch."""

from __future__ import annotations

import hashlib
import time

import pyotp
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.e2e.conftest import browser_sign_in, copy_and_read_clipboard
from tests.e2e.pwa_support import (
    PIN,
    READ_COPY,
    READ_ENDED,
    SHELL_CACHE_URLS,
    read_copy,
    shell_urls,
    turn_on_offline_copy,
    wait_for_worker,
    wait_until,
)
from tests.support.code_moments import moment_showing
from tests.support.offline_blob import open_offline_blob
from webauth import offline, settings
from webauth.extensions import db
from webauth.keys import keyring
from webauth.models import OfflineDevice, User
from webauth.otp import OtpParams, OtpType, code_at
from webauth.otpauth import decode_secret, encode_secret, parse_uri
from webauth.vault import Vault

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXPJBSWY3DP"
STEAM_SECRET = "JRZCL47CMXVOQMNPZR2F7J4RGI"
HOTP_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
# Aegis's MOTPTest and YAOTPTest accounts: the browser computes their codes too (MD5, HMAC-SHA256).
MOTP_SECRET, MOTP_PIN = "e3152afee62599c8", "1234"
YANDEX_SECRET, YANDEX_PIN = "LA2V6KMCGYMWWVEW64RNP3JA3I", "7586"
DIGESTS = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}
# (issuer, algorithm, digits, period): every combination the issue names, one account each.
TOTP_ACCOUNTS = [
    ("Alpha", "SHA1", 6, 30),
    ("Bravo", "SHA256", 6, 30),
    ("Charlie", "SHA512", 6, 30),
    ("Delta", "SHA1", 8, 60),
    ("Echo", "SHA256", 8, 60),
    ("Foxtrot", "SHA512", 8, 30),
    ("Golf", "SHA1", 6, 60),
]
# The letter tiles on the page: {uuid: [initials, colour class, drawn colour]}.
TILES_ON_PAGE = """() => Object.fromEntries([...document.querySelectorAll('#offline-accounts li, #codes li')]
  .filter((item) => item.querySelector('.avatar.tile'))
  .map((item) => { const tile = item.querySelector('.avatar.tile');
                   return [item.id.replace('account-', ''),
                           [tile.textContent, [...tile.classList].find((name) => /^tile-\\d+$/.test(name)),
                            getComputedStyle(tile).backgroundColor]]; }))"""
# Each countdown of the page, the list's or the offline copy's: its period, seconds, ring and name,
# how many rows mark that they are of its period, and the seconds left it should show now.
COUNTDOWNS_ON_PAGE = """(offsetMs) => {
  const root = document.getElementById('offline-countdown') || document.getElementById('codes-countdown');
  const marks = (period) => document.querySelectorAll(`li.account[data-period="${period}"] .period-mark`).length;
  return [...root.querySelectorAll('.countdown[data-period]')].map((countdown) => {
    const period = Number(countdown.dataset.period);
    const nowMs = Date.now() + offsetMs;
    return {
      period, marks: marks(period),
      seconds: Number(countdown.querySelector('.countdown-ring > .countdown-seconds').textContent),
      expected: Math.ceil((period * 1000 - (nowMs % (period * 1000))) / 1000),
      animations: countdown.querySelector('.countdown-ring').getAnimations().length,
      name: countdown.querySelector(':scope > span:not(.countdown-ring)')?.textContent ?? null,
    };
  });
}"""
# The digits of each row: the last span of its copy button (the words naming a list's button are hidden).
CODES_ON_PAGE = """() => Object.fromEntries([...document.querySelectorAll('#offline-accounts li, #codes li')]
  .map((item) => [item.id.replace('account-', ''),
                  item.querySelector('.code > span:last-child').textContent.replace(/\\s/g, '')]))"""


def add_accounts(app, username: str = "alice") -> dict[str, str]:
    """One account of each kind; returns {uuid: label}."""
    uris = [
        f"otpauth://totp/{issuer}:{username}?secret={SECRET}&issuer={issuer}&algorithm={algorithm}"
        f"&digits={digits}&period={period}"
        for issuer, algorithm, digits, period in TOTP_ACCOUNTS
    ]
    uris.append(f"otpauth://totp/Steam:{username}?secret={STEAM_SECRET}&issuer=Steam&encoder=steam")
    uris.append(f"otpauth://hotp/VPN:{username}?secret={HOTP_SECRET}&issuer=VPN&counter=7")
    uris.append(f"motp://MOTP:{username}?secret={MOTP_SECRET}&issuer=MOTP&pin={MOTP_PIN}")
    yandex_pin = encode_secret(YANDEX_PIN.encode())
    uris.append(f"otpauth://yaotp/Yandex:{username}?secret={YANDEX_SECRET}&issuer=Yandex&pin={yandex_pin}")
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        vault = Vault(user, keyring())
        labels = {vault.add(parse_uri(uri)).uuid: uri.split("issuer=")[1].split("&")[0] for uri in uris}
        db.session.commit()
        return labels


def expected_codes(labels: dict[str, str], at: float) -> dict[str, str]:
    """pyotp's codes at `at` (Steam, HOTP, mOTP and Yandex from webauth.otp, which pyotp does not cover)."""
    by_label = {}
    for issuer, algorithm, digits, period in TOTP_ACCOUNTS:
        by_label[issuer] = pyotp.TOTP(SECRET, digits=digits, digest=DIGESTS[algorithm], interval=period).at(at)
    by_label["Steam"] = code_at(OtpParams(type=OtpType.STEAM, secret=decode_secret(STEAM_SECRET)), at)
    by_label["VPN"] = pyotp.HOTP(HOTP_SECRET).at(7)
    motp = OtpParams(type=OtpType.MOTP, secret=bytes.fromhex(MOTP_SECRET), pin=MOTP_PIN)
    by_label["MOTP"] = code_at(motp, at)
    yandex = OtpParams(type=OtpType.YANDEX, secret=decode_secret(YANDEX_SECRET), pin=YANDEX_PIN)
    by_label["Yandex"] = code_at(yandex, at)
    return {uuid: by_label[label] for uuid, label in labels.items()}


def assert_codes_match(page: Page, labels: dict[str, str]) -> None:
    """The page's codes are all pyotp's of one moment, just before they were read."""
    shown = page.evaluate(CODES_ON_PAGE)
    read_at = time.time()
    assert set(shown) == set(labels)
    periods = [period for *_, period in TOTP_ACCOUNTS] + [30, 10]  # and Steam's and Yandex's, mOTP's
    moment_showing(shown, lambda at: expected_codes(labels, at), periods, read_at)


def open_offline(page: Page, pin: str) -> float:
    """Unlock the offline page; returns the unlock time the page measured, in milliseconds."""
    page.get_by_label("PIN or passphrase").fill(pin)
    page.get_by_role("button", name="Unlock").click()
    expect(page.get_by_role("button", name="Lock", exact=True)).to_be_visible()
    return page.evaluate("performance.getEntriesByName('offline-unlock').at(-1).duration")


def add_account(app, issuer: str) -> str:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "alice"))
        uri = f"otpauth://totp/{issuer}:alice?secret={SECRET}&issuer={issuer}"
        account = Vault(user, keyring()).add(parse_uri(uri))
        db.session.commit()
        return account.uuid


def enable_elsewhere(app) -> str:
    """Alice's offline copy on another device, as the server records it; returns its id."""
    with app.test_request_context(headers={"User-Agent": "Mozilla/5.0 (iPhone) Version/17.0 Safari/605.1"}):
        user = db.session.scalar(select(User).where(User.username == "alice"))
        device, _token = offline.enable_device(user)
        db.session.commit()
        return device.uuid


def copied_uuids(page: Page) -> set[str]:
    """The accounts in the browser's copy, opened in Python."""
    return {account["uuid"] for account in open_offline_blob(read_copy(page)["blob"], PIN)["accounts"]}


def device_record(app, device_id: str) -> OfflineDevice:
    with app.app_context():
        device = db.session.scalar(select(OfflineDevice).where(OfflineDevice.uuid == device_id))
        db.session.expunge(device)
        return device


@pytest.fixture
def alice(make_user):
    return make_user("alice", "correct horse battery")


def test_codes_offline_equal_pyotps_and_the_blob_opens_in_python(app, alice, app_page, persistent_context, live_server):
    page = app_page
    labels = add_accounts(app)
    browser_sign_in(page, "alice", "correct horse battery")
    wait_for_worker(page)
    with page.expect_response(lambda response: response.request.headers.get("hx-request") == "true"):
        page.evaluate("htmx.trigger('#codes', 'refresh')")  # a fragment with codes, through the worker
    online_tiles = page.evaluate(TILES_ON_PAGE)
    assert len(online_tiles) >= 5  # the issuers with no brand icon
    online_countdowns = page.evaluate(COUNTDOWNS_ON_PAGE, 0)
    turn_on_offline_copy(page)

    # The blob the browser wrote, read from IndexedDB and opened here.
    record = read_copy(page)
    vault = open_offline_blob(record["blob"], PIN)
    assert [account["uuid"] for account in vault["accounts"]] == list(labels)
    assert {account["secret"] for account in vault["accounts"]} == {
        encode_secret(decode_secret(secret)) for secret in (SECRET, STEAM_SECRET, HOTP_SECRET, YANDEX_SECRET)
    } | {encode_secret(bytes.fromhex(MOTP_SECRET))}
    assert {account["pin"] for account in vault["accounts"]} == {None, MOTP_PIN, YANDEX_PIN}
    assert abs(vault["server_offset_ms"]) < 2_000  # server and browser share this machine's clock
    assert record["owner"]["name"] == "alice" and record["failed_attempts"] == 0
    assert PIN not in str(record)

    persistent_context.set_offline(True)
    page.goto("/")
    expect(page.get_by_role("heading", name="Offline codes")).to_be_visible()
    page.get_by_label("PIN or passphrase").fill("4711-wrong")
    page.get_by_role("button", name="Unlock").click()
    expect(page.get_by_text("Wrong PIN. Attempts left before the copy is deleted: 9")).to_be_visible()
    expect(page.locator("#offline-accounts li")).to_have_count(0)

    unlock_ms = open_offline(page, PIN)
    print(f"\noffline unlock to first code: {unlock_ms:.0f} ms (PBKDF2-SHA256, 600,000 iterations, included)")
    assert_codes_match(page, labels)
    # The same letter tile (initials and colour) for an issuer online and offline (static/js/tiles.js).
    offline_tiles = page.evaluate(TILES_ON_PAGE)
    assert {uuid: offline_tiles[uuid] for uuid in online_tiles} == online_tiles
    # The countdown as online: a ring per period round its seconds left, each named when there
    # are several, and a mark on the rows of any but the first period.
    offline_countdowns = page.evaluate(COUNTDOWNS_ON_PAGE, vault["server_offset_ms"])
    assert [c["period"] for c in offline_countdowns] == [c["period"] for c in online_countdowns] == [10, 30, 60]
    marks = [c["marks"] for c in offline_countdowns]
    assert marks == [c["marks"] for c in online_countdowns] and marks[0] == 0 and all(marks[1:])
    names = [c["name"] for c in offline_countdowns]
    assert names == [c["name"] for c in online_countdowns] == ["10 seconds", "30 seconds", "60 seconds"]
    for countdown in offline_countdowns:
        assert countdown["animations"] == 1  # the ring turns
        # The seconds left by the copy's clock (the device's, corrected by the saved offset), within
        # one second either way: the ring was drawn at its last tick, which a busy machine delays,
        # and a period's end wraps the count round (1 drawn, the period expected).
        drift = (countdown["seconds"] - countdown["expected"]) % countdown["period"]
        assert drift in {0, 1, countdown["period"] - 1}, countdown
    seconds = page.locator("#offline-countdown [data-period='10'] .countdown-seconds")
    shown = seconds.inner_text()
    expect(seconds).not_to_have_text(shown, timeout=3_000)  # and counts down

    page.get_by_label("Search accounts").fill("ech")
    expect(page.locator("#offline-accounts li:visible")).to_have_count(1)
    expect(page.locator("#offline-accounts li:visible .issuer")).to_have_text("Echo")
    page.get_by_label("Search accounts").fill("")

    copy_and_read_clipboard(
        page,
        lambda: page.evaluate(CODES_ON_PAGE)[next(iter(labels))],
        page.get_by_role("button", name="Copy the code for Alpha").click,
    )

    # After all that browsing, the cache holds the shell and nothing else: no page with codes,
    # no fragment, no vault.
    caches = page.evaluate(SHELL_CACHE_URLS)
    assert len(caches) == 1 and next(iter(caches)).startswith("webauth-shell-")
    assert set(next(iter(caches.values()))) == shell_urls(live_server)

    persistent_context.set_offline(False)
    expect(page.get_by_text("You're back online.")).to_be_visible()
    page.get_by_role("link", name="Show live codes").click()
    expect(page.locator("#codes[data-vault-revision]")).to_be_visible()
    assert_codes_match(page, labels)
    assert page.console_errors == []


def test_the_copy_follows_changes_can_be_forgotten_and_sign_out_deletes_it(app, alice, app_page):
    page = app_page
    labels = add_accounts(app)
    other_device = enable_elsewhere(app)
    browser_sign_in(page, "alice", "correct horse battery")
    turn_on_offline_copy(page)
    device_id = read_copy(page)["device"]["id"]
    this_row, other_row = page.locator(f'[data-device="{device_id}"]'), page.locator(f'[data-device="{other_device}"]')
    expect(this_row.get_by_text("This device")).to_be_visible()
    expect(this_row.get_by_role("button", name="Remove")).to_have_count(0)
    expect(other_row.get_by_text("This device")).to_be_hidden()
    expect(other_row.get_by_role("button", name="Remove")).to_be_visible()

    # A change made elsewhere: the list shows it at its next refresh, and the page asks for the PIN.
    page.goto("/")
    new = add_account(app, "Hotel")
    page.evaluate("htmx.trigger('#codes', 'refresh')")
    stale = page.get_by_text("Your offline copy is missing recent changes.")
    expect(stale).to_be_visible()
    page.locator("#offline-stale-pin").fill(PIN)
    page.get_by_role("button", name="Update", exact=True).click()
    expect(page.get_by_text("Offline copy updated")).to_be_visible()
    expect(stale).to_be_hidden()
    assert new in copied_uuids(page)

    # Unlocked now: a change made here is sealed into the copy without asking again.
    gone = next(iter(labels))
    page.get_by_role("link", name="Delete Alpha").click()  # asks first
    page.get_by_role("dialog").get_by_role("button", name="Move to the trash").click()
    expect(page.locator(f"#account-{gone}")).to_have_count(0)
    revision = page.locator("#codes").get_attribute("data-vault-revision")
    wait_until(page, f"() => ({READ_COPY})().then((copy) => copy.revision === '{revision}')")
    assert gone not in copied_uuids(page)
    expect(stale).to_be_hidden()

    # "Forget this device" deletes the copy here and ends the device's record.
    page.goto("/offline/settings")
    page.get_by_role("button", name="Forget this device").click()
    page.get_by_role("button", name="Delete the copy").click()
    expect(page.get_by_role("button", name="Turn on offline copy")).to_be_visible()
    assert read_copy(page) is None
    assert device_record(app, device_id).end_reason == "forgotten"

    # Sign-out says it deletes the copy, and does.
    turn_on_offline_copy(page)
    device_id = read_copy(page)["device"]["id"]
    page.get_by_role("button", name="Sign out").click()
    dialog = page.get_by_role("dialog", name="Sign out?")
    expect(dialog).to_contain_text("deletes the offline copy")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert read_copy(page) is not None
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Sign out and delete the copy").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert read_copy(page) is None
    assert device_record(app, device_id).end_reason == "signed-out"
    assert page.console_errors == []


def test_wrong_pins_and_the_administrators_switch_delete_the_copy(app, alice, app_page, persistent_context):
    page = app_page
    add_accounts(app)
    browser_sign_in(page, "alice", "correct horse battery")
    wait_for_worker(page)
    turn_on_offline_copy(page)
    device_id = read_copy(page)["device"]["id"]

    persistent_context.set_offline(True)
    page.goto("/")
    for left in range(9, 0, -1):
        page.get_by_label("PIN or passphrase").fill(f"wrong-{left}")
        page.get_by_role("button", name="Unlock").click()
        expect(page.get_by_text(f"Attempts left before the copy is deleted: {left}")).to_be_visible()
    page.get_by_label("PIN or passphrase").fill(PIN.upper())
    page.get_by_role("button", name="Unlock").click()
    expect(page.get_by_role("heading", name="Offline copy deleted")).to_be_visible()
    assert read_copy(page) is None

    # Back online, the next page tells the server, which ends the device's record.
    persistent_context.set_offline(False)
    page.goto("/")
    wait_until(page, f"() => ({READ_ENDED})().then((note) => note === null)")
    assert device_record(app, device_id).end_reason == "wrong-pin"

    # An administrator turns offline copies off: the next page deletes the copy.
    turn_on_offline_copy(page)
    with app.app_context():
        settings.update_settings({"offline_allowed": False})
        db.session.commit()
    page.goto("/")
    expect(page.get_by_text("Offline copies are turned off on this server")).to_be_visible()
    assert read_copy(page) is None
    page.goto("/offline/settings")
    expect(page.get_by_text("Your administrator has turned offline copies off.")).to_be_visible()
    expect(page.get_by_role("button", name="Turn on offline copy")).to_have_count(0)
    page.goto("/offline")
    expect(page.get_by_role("heading", name="Can't reach webauth")).to_be_visible()
