"""The installable app in Chromium: installability as Chrome judges it over CDP, and the update
prompt when a new version of the app is deployed."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from tests.e2e.conftest import browser_sign_in
from tests.e2e.pwa_support import wait_for_worker, wait_until
from webauth.views import pwa

CACHE_NAMES = "() => caches.keys()"


def test_chrome_finds_the_app_installable(app_page, make_user):
    make_user("alice")  # so that pages lead to the sign-in page, not the first-run set-up
    page = app_page
    page.goto("/login")
    wait_for_worker(page)
    cdp = page.context.new_cdp_session(page)
    assert cdp.send("Page.getInstallabilityErrors")["installabilityErrors"] == []
    manifest = cdp.send("Page.getAppManifest")
    assert manifest["url"].endswith("/manifest.json?lang=en")  # the manifest of the page's language
    assert manifest["errors"] == []
    assert '"form_factor": "wide"' in manifest["data"]
    expect(page.locator("#update-banner")).to_be_hidden()  # a first install is no update


@pytest.fixture
def deployable_server(app, monkeypatch) -> Iterator[tuple[str, callable]]:
    """The app served in this process, so a test can deploy "a new version" of its shell."""
    version = {"current": "first"}
    monkeypatch.setattr(pwa, "shell_version", lambda: version["current"])
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def deploy(name: str) -> None:
        version["current"] = name

    yield f"http://127.0.0.1:{server.server_port}", deploy
    server.shutdown()
    thread.join()


def test_a_new_version_waits_until_the_page_offers_to_reload(browser, deployable_server, make_user):
    base_url, deploy = deployable_server
    make_user("alice")
    context = browser.new_context(base_url=base_url, locale="en-US")
    try:
        page = context.new_page()
        page.goto("/login")
        wait_for_worker(page)
        assert page.evaluate(CACHE_NAMES) == ["webauth-shell-first"]
        page.evaluate("window.__before_update = true")

        deploy("second")
        page.evaluate("() => navigator.serviceWorker.getRegistration().then((registration) => registration.update())")
        banner = page.get_by_role("status").filter(has_text="Update available.")
        expect(banner).to_be_visible()
        assert page.evaluate("window.__before_update") is True  # nothing reloaded behind the user's back
        assert sorted(page.evaluate(CACHE_NAMES)) == ["webauth-shell-first", "webauth-shell-second"]

        with page.expect_navigation():
            banner.get_by_role("button", name="Reload").click()
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        assert page.evaluate("window.__before_update") is None
        wait_until(page, "() => caches.keys().then((names) => names.length === 1)")
        assert page.evaluate(CACHE_NAMES) == ["webauth-shell-second"]
        expect(banner).to_be_hidden()
    finally:
        context.close()


# The language of the offline page the worker keeps (its Content-Language), or null.
KEPT_OFFLINE_LANGUAGE = """async () => {
  for (const name of await caches.keys()) {
    const kept = await (await caches.open(name)).match('/offline');
    if (kept) return kept.headers.get('Content-Language');
  }
  return null;
}"""


def test_the_worker_keeps_the_offline_page_in_the_language_chosen(app_page, persistent_context, make_user):
    """A language chosen while online is the offline page's too: the live page tells the worker
    its language, and the worker fetches the offline page again when the one it keeps differs."""
    make_user("alice", "correct horse battery")
    page = app_page
    browser_sign_in(page, "alice", "correct horse battery")
    wait_for_worker(page)
    wait_until(page, f"async () => (await ({KEPT_OFFLINE_LANGUAGE})()) === 'en'", timeout=30)

    with page.expect_navigation():
        page.locator("#locale").select_option("de")
    expect(page.locator("html")).to_have_attribute("lang", "de")
    wait_until(page, f"async () => (await ({KEPT_OFFLINE_LANGUAGE})()) === 'de'", timeout=30)

    persistent_context.set_offline(True)
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.locator("#offline-app")).to_have_count(1)
    assert page.console_errors == []
