"""Sharing on two phones (390x844, touch): the owner shares an account from its page, the
recipient sees its live code marked "Shared by alice" in "Shared with me" and opens its page
(no secret to reveal), the owner removes them, and the recipient's list loses it. The share
section answers in place (htmx), a refusal included."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import TEST_PASSWORD
from tests.e2e.conftest import ConsoleErrors, browser_sign_in, wait_for_scripts
from tests.support.accounts import add, link


@pytest.fixture
def phones(browser: Browser, live_server: str) -> Iterator[Callable]:
    contexts = []

    def open_phone() -> Page:
        context = browser.new_context(
            base_url=live_server,
            locale="en-US",
            viewport={"width": 390, "height": 844},
            device_scale_factor=3,
            is_mobile=True,
            has_touch=True,
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        errors = ConsoleErrors()
        page.on("console", errors.console)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.console_errors = errors  # type: ignore[attr-defined]
        return page

    yield open_phone
    for context in contexts:
        context.close()


def digits(text: str) -> str:
    return "".join(character for character in text if character.isdigit())


def test_owner_shares_recipient_sees_the_live_code_owner_removes_recipient_loses_it(app, phones, make_user):
    make_user("alice", TEST_PASSWORD)
    make_user("bob", TEST_PASSWORD)
    uuid = add(app, link("GitHub", "alice@example.com"))
    owner, recipient = phones(), phones()
    browser_sign_in(owner, "alice", TEST_PASSWORD)
    browser_sign_in(recipient, "bob", TEST_PASSWORD)
    expect(recipient.get_by_role("heading", name="Shared with me")).to_have_count(0)

    owner.goto(f"/accounts/{uuid}")
    wait_for_scripts(owner)
    share = owner.locator("#share")
    # A refusal (422) is swapped into the section in place: the page's address stays.
    share.get_by_label("User name or group name").fill("nobody")
    share.get_by_role("button", name="Share", exact=True).tap()
    expect(share.get_by_role("alert")).to_have_text("There is no user named nobody.")
    assert owner.url.endswith(f"/accounts/{uuid}")
    share.get_by_label("User name or group name").fill("bob")
    share.get_by_role("button", name="Share", exact=True).tap()
    expect(share.get_by_role("status")).to_have_text("Shared GitHub with bob: they see its codes, never its secret.")
    assert owner.url.endswith(f"/accounts/{uuid}")
    expect(owner.get_by_role("list", name="Who has access")).to_contain_text("bob")
    assert owner.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    # The recipient's list, refreshed as on waking (the list's `refresh` event), shows it.
    recipient.evaluate("htmx.trigger('#codes', 'refresh')")
    row = recipient.locator(f"#shared-{uuid}")
    expect(recipient.get_by_role("heading", name="Shared with me")).to_be_visible()
    expect(row).to_contain_text("Shared by alice")
    owner.goto("/")
    own_code = owner.locator(f"#account-{uuid} button.code span[id]")
    before = digits(own_code.inner_text())
    shown = digits(row.locator("button.code span[id]").inner_text())
    owner.reload()
    assert len(shown) == 6 and shown in {before, digits(own_code.inner_text())}
    assert recipient.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    row.get_by_role("link").tap()
    expect(recipient.get_by_text("Shared by alice")).to_be_visible()
    # Its code asks for the next one when the period turns, as the owner's page does.
    expect(recipient.locator("#detail-code")).to_have_attribute("hx-get", f"/shared/{uuid}/code")
    expect(recipient.get_by_role("link", name="Show the secret key")).to_have_count(0)
    recipient.go_back()
    recipient.wait_for_url("**/")
    wait_for_scripts(recipient)

    owner.goto(f"/accounts/{uuid}")
    owner.locator("#share").get_by_role("button", name="Remove bob").tap()
    expect(owner.get_by_text("bob no longer has access to GitHub")).to_be_visible()
    expect(owner.get_by_text("Nobody else has access.")).to_be_visible()

    recipient.evaluate("htmx.trigger('#codes', 'refresh')")
    expect(recipient.locator(f"#shared-{uuid}")).to_have_count(0)
    expect(recipient.get_by_role("heading", name="Shared with me")).to_have_count(0)
    # The browser reports the refusal's status itself; nothing else went wrong.
    refusal = "Failed to load resource: the server responded with a status of 422 (UNPROCESSABLE ENTITY)"
    assert owner.console_errors == [refusal] and recipient.console_errors == []
