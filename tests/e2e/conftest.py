"""End-to-end fixtures: the real app under gunicorn on loopback, driven by Debian's Chromium.

The server shares the test database, so tests arrange data through the domain layer
(the `app` fixture) and act through the browser like a person would.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(env_overrides: dict[str, str], tmp_path: Path) -> tuple[subprocess.Popen, str]:
    """gunicorn serving wsgi:app as `make run` does; returns the process and its base URL."""
    port = free_port()
    env = {**os.environ, **env_overrides, "WEBAUTH_INSTANCE_PATH": str(tmp_path)}
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115 - lives as long as the server
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", "2", "--worker-class", "gthread", "--threads", "4",
         "--bind", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited: {(tmp_path / 'server.log').read_text()}")
        try:
            requests.get(f"{base_url}/manifest.json", timeout=1)
            return process, base_url
        except requests.RequestException:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the server did not start in 30 s")


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


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
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/")


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
