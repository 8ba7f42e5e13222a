"""End-to-end fixtures: the real app under gunicorn on loopback, driven by Debian's Chromium.

The server shares the test database, so tests arrange data through the domain layer
(the `app` fixture) and act through the browser like a person would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, expect, sync_playwright

from tests.support.server import free_port, start_server, stop_server  # noqa: F401 - the e2e tests' helpers

CHROMIUM = "/usr/bin/chromium"
# CI runs the browser, two gunicorn workers and the tests on 2 cores: give assertions room.
expect.set_options(timeout=15_000)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def live_server(base_config, migrated_database, tmp_path_factory) -> Iterator[str]:
    process, base_url = start_server(
        {
            "WEBAUTH_DATABASE_URL": migrated_database,
            "WEBAUTH_KEYS": base_config["WEBAUTH_KEYS"],
            "WEBAUTH_SECRET_KEY": base_config["SECRET_KEY"],
            "WEBAUTH_RATELIMIT_ENABLED": "0",
        },
        tmp_path_factory.mktemp("server"),
    )
    yield base_url
    stop_server(process)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def context(browser, live_server) -> Iterator[BrowserContext]:
    context = browser.new_context(base_url=live_server, locale="en-US")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
    yield context
    context.close()


class ConsoleErrors(list):
    """A page's console errors and uncaught exceptions, less htmx's report of a request the page
    cancelled on purpose.

    `hx-sync="closest #codes:replace"` aborts a list refresh still in flight when a newer request
    of the list starts (on a busy machine one often is), and htmx logs that abort as two console
    errors, `htmx:afterRequest` then `htmx:sendAbort`. A request that fails (`htmx:sendError`,
    `htmx:timeout`, `htmx:responseError`) is still an error.
    """

    def console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        if message.text.startswith("htmx:sendAbort") and self and self[-1].startswith("htmx:afterRequest"):
            self.pop()
            return
        self.append(message.text)


@pytest.fixture
def page(context) -> Page:
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors = ConsoleErrors()
    page.on("console", errors.console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.console_errors = errors  # type: ignore[attr-defined]
    return page


def browser_sign_in(page: Page, username: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url("**/")
    wait_for_scripts(page)


def wait_for_scripts(page: Page) -> None:
    """Wait until the page's own script (static/js/app.js, a deferred module) has run.

    The server-rendered page is there before its listeners are: a key pressed or a row dragged
    in between does nothing. app.js marks <html> with the `js` class in the same task that wires
    every behaviour, so once the class is there, they all are.
    """
    page.wait_for_function("document.documentElement.classList.contains('js')")


def copy_and_read_clipboard(page: Page, shown_code: Callable[[], str], press: Callable[[], None]) -> None:
    """Press a copy button and check the clipboard holds the code the page showed.

    The page may roll over to the next period between the press and the read, so the copied
    code must be the one shown just before the press or just after the read: never anything else.
    """
    before = shown_code()
    press()
    expect(page.get_by_text("Copied")).to_be_visible()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied in {before, shown_code()}


@pytest.fixture
def persistent_context(browser, live_server, tmp_path) -> Iterator[BrowserContext]:
    """A Chromium profile on disk, as an installed app has (service worker, IndexedDB, install checks)."""
    context = browser.browser_type.launch_persistent_context(
        str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
        base_url=live_server, locale="en-US",
    )
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
    yield context
    context.close()


@pytest.fixture
def app_page(persistent_context) -> Page:
    """The persistent profile's page, collecting uncaught errors like `page` does."""
    page = persistent_context.pages[0] if persistent_context.pages else persistent_context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.console_errors = errors  # type: ignore[attr-defined]
    return page
