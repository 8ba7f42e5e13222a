"""The admin console and the idle lock in Chromium, against gunicorn; metrics across workers."""

from __future__ import annotations

import re

import requests
from playwright.sync_api import expect
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import browser_sign_in
from tests.support.server import start_server, stop_server
from webauth import settings
from webauth.extensions import db

PASSWORD = "correct horse battery"


def test_an_admin_finds_a_user_and_ends_their_session(page, browser, live_server, make_user):
    make_user("root", PASSWORD, admin=True)
    for name in ("bob", "carol", "dave"):
        make_user(name, PASSWORD)
    bob_context = browser.new_context(base_url=live_server, locale="en-US")
    bob_page = bob_context.new_page()
    browser_sign_in(bob_page, "bob", PASSWORD)

    browser_sign_in(page, "root", PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Admin").click()
    page.wait_for_load_state("load")  # htmx must have processed the search field before we type
    users = page.locator("#users")
    expect(users.get_by_role("link", name="carol")).to_be_visible()
    page.evaluate("window.__marker = 'no reload'")
    page.get_by_label("Search by name").press_sequentially("bo")
    expect(users.get_by_role("link", name="carol")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"/admin/users\?q=bo$"))
    assert page.evaluate("window.__marker") == "no reload"  # htmx swapped the list in place

    users.get_by_role("link", name="bob", exact=True).click()
    expect(page.get_by_role("heading", name="bob")).to_be_visible()
    expect(page.get_by_role("heading", name="Active sessions")).to_be_visible()
    page.get_by_role("button", name="End", exact=True).click()
    expect(page.get_by_text("The session is ended")).to_be_visible()
    expect(page.get_by_text("No active session.")).to_be_visible()

    bob_page.reload()
    expect(bob_page.get_by_role("heading", name="Sign in")).to_be_visible()
    bob_context.close()
    assert page.console_errors == []


def test_the_idle_lock_hides_the_codes_until_the_next_sign_in(app, page, make_user):
    make_user("alice", PASSWORD)
    with app.test_request_context():
        settings.update_settings({"idle_lock_minutes": 1})
        db.session.commit()
    page.clock.install()
    browser_sign_in(page, "alice", PASSWORD)
    expect(page.get_by_role("heading", name="No accounts yet")).to_be_visible()

    page.clock.fast_forward("00:45")
    page.keyboard.press("Shift")  # activity: the minute starts again
    page.clock.fast_forward("00:45")
    expect(page.get_by_role("heading", name="No accounts yet")).to_be_visible()
    page.clock.fast_forward("00:20")
    expect(page).to_have_url(re.compile(r"/login\?next=/$"))
    expect(page.get_by_text("Locked after a while without activity.")).to_be_visible()

    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", name="No accounts yet")).to_be_visible()
    assert page.console_errors == []


def _healthz_count(body: str) -> float:
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            if sample.name == "webauth_http_requests_total" and sample.labels == {
                "endpoint": "ops.healthz", "method": "GET", "status": "200"
            }:
                return sample.value
    return 0.0


def test_metrics_add_up_every_worker_in_multiprocess_mode(base_config, migrated_database, tmp_path):
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    process, base_url = start_server(
        {
            "WEBAUTH_DATABASE_URL": migrated_database,
            "WEBAUTH_KEYS": base_config["WEBAUTH_KEYS"],
            "WEBAUTH_SECRET_KEY": base_config["SECRET_KEY"],
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        },
        tmp_path,
    )
    try:
        for _ in range(20):
            assert requests.get(f"{base_url}/healthz", timeout=5).status_code == 200
        # Whichever of the two workers answers a scrape, it reports the requests of both.
        totals = {_healthz_count(requests.get(f"{base_url}/metrics", timeout=5).text) for _ in range(8)}
        assert totals == {20.0}
        assert list(metrics_dir.glob("counter_*.db"))
    finally:
        stop_server(process)
