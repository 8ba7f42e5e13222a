"""The whole Casdoor sign-in in Chromium against gunicorn, and the sync a person sees.

gunicorn runs with WEBAUTH_CASDOOR_* pointing at the fake Casdoor, whose application lists
the live server's callback. The browser clicks "Sign in with Casdoor", fills in Casdoor's
login form, comes back signed in, sees the accounts from Casdoor, sees an account added in
Casdoor arrive by "Sync now" and by the periodic sync, and signs out of both.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.support.casdoor_server import CasdoorServer
from tests.support.server import start_server, stop_server


@pytest.fixture
def casdoor_live(base_config, migrated_database, casdoor: CasdoorServer, tmp_path) -> Iterator[str]:
    """gunicorn with Casdoor on; Casdoor is the only way in (WEBAUTH_LOCAL_LOGIN=0)."""
    process, base_url = start_server(
        {
            "WEBAUTH_DATABASE_URL": migrated_database,
            "WEBAUTH_KEYS": base_config["WEBAUTH_KEYS"],
            "WEBAUTH_SECRET_KEY": base_config["SECRET_KEY"],
            "WEBAUTH_RATELIMIT_ENABLED": "0",
            "WEBAUTH_CASDOOR_URL": casdoor.url,
            "WEBAUTH_CASDOOR_CLIENT_ID": casdoor.client_id,
            "WEBAUTH_CASDOOR_ORGANIZATION": "acme",
            "WEBAUTH_CASDOOR_SYNC_INTERVAL": "2",
            "WEBAUTH_LOCAL_LOGIN": "0",
        },
        tmp_path,
    )
    casdoor.add_redirect_uri(f"{base_url}/auth/casdoor/callback")
    yield base_url
    stop_server(process)


@pytest.fixture
def casdoor_page(browser, casdoor_live) -> Iterator[Page]:
    context = browser.new_context(base_url=casdoor_live, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    def console(message) -> None:
        # Casdoor's own pages are not ours to judge (the fake's login page has no favicon, say).
        if message.type == "error" and message.location.get("url", "").startswith(casdoor_live):
            errors.append(message.text)

    page.on("console", console)
    page.console_errors = errors  # type: ignore[attr-defined]
    yield page
    context.close()


def test_sign_in_with_casdoor_sync_and_sign_out(casdoor_page: Page, casdoor: CasdoorServer, casdoor_live: str) -> None:
    page = casdoor_page
    page.goto("/")
    expect(page.get_by_label("Password")).to_have_count(0)  # Casdoor is the only way in
    page.get_by_role("link", name="Sign in with Casdoor").click()

    # Casdoor's own page.
    page.wait_for_url(f"{casdoor.url}/login/oauth/authorize*")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("alice-pw")
    page.get_by_role("button", name="Sign in", exact=True).click()

    # Back, signed in, with the account Casdoor holds.
    page.wait_for_url(f"{casdoor_live}/")
    expect(page.get_by_text("GitHub", exact=True)).to_be_visible()
    expect(page.get_by_test_id("sync-status")).to_contain_text("Synced with Casdoor")

    # An account added in Casdoor (by the phone app) arrives with "Sync now".
    entries = casdoor.mfa_accounts("acme", "alice")
    okta = {"accountName": "alice", "issuer": "Okta", "secretKey": "ONSWG4TFOQQGC3DM", "origin": "phone-1"}
    casdoor.set_mfa_accounts("acme", "alice", [*entries, okta])
    page.get_by_role("button", name="Sync now").click()
    expect(page.locator("#codes").get_by_text("Okta", exact=True)).to_be_visible()

    # And one more through the periodic sync (every 2 s here), with no click.
    zoom = {"accountName": "alice", "issuer": "Zoom", "secretKey": "KRSXG5CTMVRXEZLU", "origin": "phone-1"}
    casdoor.set_mfa_accounts("acme", "alice", [*casdoor.mfa_accounts("acme", "alice"), zoom])
    expect(page.locator("#codes").get_by_text("Zoom", exact=True)).to_be_visible(timeout=30_000)

    # Sign out ends the Casdoor session too, and comes back to the sign-in page.
    page.get_by_role("button", name="Sign out").click()
    confirm = page.get_by_role("button", name="Sign out and delete the copy")
    if confirm.is_visible():
        confirm.click()
    page.wait_for_url(f"{casdoor_live}/login")
    expect(page.get_by_text("signed out of webauth and of Casdoor")).to_be_visible()
    assert page.console_errors == []  # type: ignore[attr-defined]
    # Casdoor asks for the password again: its session is over.
    page.get_by_role("link", name="Sign in with Casdoor").click()
    page.wait_for_url(f"{casdoor.url}/login/oauth/authorize*")
    expect(page.get_by_label("Password")).to_be_visible()
