"""Steps and page scripts the PWA and offline-copy tests share (their persistent Chromium
profile is the `persistent_context` fixture of conftest.py)."""

from __future__ import annotations

import json
import re
import time

import requests
from playwright.sync_api import Page, expect

from tests.conftest import ROOT
from webauth.assets import DIST, load_manifest

PIN = "5820-tulip"


def module_url(name: str) -> str:
    """A module's URL as the pages import it: its content-hashed name (webauth/assets.py), the
    one the service worker keeps for offline use (the plain name is fetched from the network)."""
    hashed = load_manifest(ROOT / "static").get(name)
    return f"/static/{DIST}/{hashed}" if hashed else f"/static/{name}"


STORE = module_url("js/offline-store.js")
# Reads this device's copy through the app's own store module (opening the database by hand
# would create it without its object store).
READ_COPY = f"() => import('{STORE}').then((store) => store.readCopy())"
# The note a copy deleted offline leaves for the server (offline-store.js, `wipeCopy`).
READ_ENDED = f"() => import('{STORE}').then((store) => store.readEnded())"
SHELL_CACHE_URLS = """async () => {
  const entries = {};
  for (const name of await caches.keys()) {
    const cache = await caches.open(name);
    entries[name] = (await cache.keys()).map((request) => new URL(request.url).pathname + new URL(request.url).search);
  }
  return entries;
}"""


def shell_urls(base_url: str) -> set[str]:
    """The URLs the served worker caches at install (its list is a JS string literal of JSON)."""
    source = requests.get(f"{base_url}/service-worker.js", timeout=10).text
    return set(json.loads(json.loads(re.search(r"JSON\.parse\((\"[^\n]*\")\)", source).group(1))))


def wait_until(page: Page, script: str, timeout: float = 10.0) -> None:
    """Poll until `script` (which may return a promise) gives a truthy value.

    `page.wait_for_function` would take a returned promise itself for a truthy value.
    """
    deadline = time.monotonic() + timeout
    while not page.evaluate(script):
        assert time.monotonic() < deadline, f"still false after {timeout} s: {script}"
        page.wait_for_timeout(100)


def wait_for_worker(page: Page) -> None:
    """Until the service worker controls the page (it claims pages when it first activates)."""
    wait_until(page, "() => navigator.serviceWorker.controller !== null", timeout=30)


def turn_on_offline_copy(page: Page, pin: str = PIN) -> None:
    """Turn the copy on, and wait for the reloaded page's check of it with the server.

    The page shows the copy as soon as it reads it from IndexedDB, while its check
    (GET /offline/devices/<id>) may still be on its way: a switch flipped by the test in
    that moment would meet the check, which rightly deletes the copy on this page, before
    the test looks for that on the next one.
    """
    page.goto("/offline/settings")
    page.get_by_label("PIN or passphrase").fill(pin)
    page.get_by_label("Repeat the PIN").fill(pin)
    checked = re.compile(r"/offline/devices/[^/?]+$")
    with page.expect_response(lambda response: response.request.method == "GET" and checked.search(response.url)):
        page.get_by_role("button", name="Turn on offline copy").click()
    expect(page.get_by_text("This device has an offline copy, saved")).to_be_visible()


def read_copy(page: Page) -> dict | None:
    return page.evaluate(READ_COPY)
