"""Passkeys in Chromium, with its virtual authenticator (WebAuthn over the DevTools protocol):
add one on the account page, sign out, sign in with it alone (from the username field's
autofill), confirm it is you with it, remove it; an answer made on a page of another origin,
and a cloned passkey whose counter went backwards, refused; and the offline copy opened by
the passkey's PRF with the network off (and, from a passkey without PRF, the PIN alone).

WebAuthn needs a secure context and a host name (not an IP address) for the relying party,
so these pages are opened at http://localhost, the same server as the other browser tests.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import BrowserContext, CDPSession, Page, expect
from sqlalchemy import select, update

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.e2e.pwa_support import PIN, read_copy, wait_for_worker
from tests.e2e.test_offline import add_accounts, assert_codes_match
from tests.support.offline_blob import open_offline_blob
from webauth.extensions import db
from webauth.models import AuditEvent, Passkey, SessionRecord, utcnow

PASSWORD = "correct horse battery"
# The PRF output for the copy's input, asked of the authenticator as offline-passkey.js asks.
PRF_OF_COPY = """async ({credential, input}) => {
  const bytes = (b64) => Uint8Array.from(atob(b64.replace(/-/g, '+').replace(/_/g, '/')), (ch) => ch.charCodeAt(0));
  const assertion = await navigator.credentials.get({publicKey: {
    challenge: new Uint8Array(32), allowCredentials: [{type: 'public-key', id: bytes(credential)}],
    userVerification: 'required', extensions: {prf: {eval: {first: bytes(input)}}}}});
  const output = new Uint8Array(assertion.getClientExtensionResults().prf.results.first);
  return btoa(String.fromCharCode(...output));
}"""


@pytest.fixture
def localhost(live_server) -> str:
    return live_server.replace("127.0.0.1", "localhost")


@pytest.fixture
def profile(browser, localhost, tmp_path) -> Iterator[BrowserContext]:
    """A Chromium profile on disk (service worker, IndexedDB), opened at localhost."""
    context = browser.browser_type.launch_persistent_context(
        str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
        base_url=localhost, locale="en-US",
    )
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=localhost)
    yield context
    context.close()


@pytest.fixture
def page(profile) -> Page:
    page = profile.pages[0] if profile.pages else profile.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.console_errors = errors  # type: ignore[attr-defined]
    return page


@dataclass
class VirtualAuthenticator:
    cdp: CDPSession
    id: str

    def credentials(self) -> list[dict]:
        return self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.id})["credentials"]


def virtual_authenticator(profile: BrowserContext, page: Page, *, prf: bool) -> VirtualAuthenticator:
    """A platform authenticator with passkeys and a fingerprint, with or without PRF, that says yes to everything."""
    cdp = profile.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
        "isUserVerified": True, "hasPrf": prf, "automaticPresenceSimulation": True,
    }})
    return VirtualAuthenticator(cdp, added["authenticatorId"])


@pytest.fixture
def authenticator(profile, page) -> VirtualAuthenticator:
    return virtual_authenticator(profile, page, prf=True)


@pytest.fixture
def alice(make_user):
    return make_user("alice", PASSWORD)


def sign_in_with_password(page: Page) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(re.compile(r"/$"))


def add_passkey(page: Page, name: str) -> None:
    page.goto("/me/")
    page.get_by_label("Name of the new passkey (optional)").fill(name)
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.get_by_text(f"Passkey “{name}” added.")).to_be_visible()


def last_session(app) -> SessionRecord:
    with app.app_context():
        record = db.session.scalar(select(SessionRecord).order_by(SessionRecord.id.desc()))
        db.session.expunge(record)
        return record


def test_add_a_passkey_sign_out_sign_in_with_it_alone_and_remove_it(app, alice, page, authenticator):
    sign_in_with_password(page)
    add_passkey(page, "Test phone")
    [credential] = authenticator.credentials()
    assert credential["isResidentCredential"] is True and credential["rpId"] == "localhost"
    listed = page.locator("#passkeys .passkey")
    expect(listed).to_have_count(1)
    expect(listed.get_by_label("Name of the passkey")).to_have_value("Test phone")

    # Signed out, the sign-in page asks the browser for passkeys in the username field's
    # autofill (conditional mediation). The virtual authenticator answers such a request at
    # once, as a person picking the passkey from the list would: no username, no password.
    page.get_by_role("navigation").get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/$"))
    expect(page.get_by_role("link", name="Account", exact=True)).to_be_visible()
    record = last_session(app)
    assert record.method == "passkey" and record.reauth_at is not None  # the fingerprint counted
    assert sign_ins(app) == ["password", "passkey"]

    # Later, "Confirm it is you" takes the passkey instead of the password.
    age_reauth(app)
    page.goto("/reauth?next=/me/")
    page.get_by_role("button", name="Use a passkey").click()
    page.wait_for_url(lambda url: urlsplit(url).path == "/me/")
    assert last_session(app).reauth_at > record.reauth_at

    page.get_by_role("button", name="Remove the passkey Test phone").click()
    expect(page.get_by_text("Passkey removed.")).to_be_visible()
    expect(page.locator("#passkeys .passkey")).to_have_count(0)
    with app.app_context():
        assert db.session.scalars(select(Passkey)).all() == []

    # The phone still holds it, but it no longer signs in here: not from the autofill, not
    # from the button.
    with page.expect_response(re.compile(r"/passkeys/signin$")) as autofill:
        page.get_by_role("navigation").get_by_role("button", name="Sign out").click()
    assert autofill.value.status == 401
    expect(page.get_by_text("This passkey is not known here")).to_be_visible()
    with page.expect_response(re.compile(r"/passkeys/signin$")) as button:
        page.get_by_role("button", name="Sign in with a passkey").click()
    assert button.value.status == 401
    expect(page.get_by_text("This passkey is not known here")).to_be_visible()
    assert "/login" in page.url and sign_ins(app) == ["password", "passkey"]
    assert page.console_errors == []


def sign_ins(app) -> list[str]:
    with app.app_context():
        return [record.method for record in db.session.scalars(select(SessionRecord).order_by(SessionRecord.id))]


def age_reauth(app) -> None:
    with app.app_context():
        db.session.execute(update(SessionRecord).values(reauth_at=utcnow() - timedelta(hours=1)))
        db.session.commit()


def test_the_offline_copy_opens_with_the_passkey_with_the_network_off(app, alice, page, profile, authenticator):
    labels = add_accounts(app)
    sign_in_with_password(page)
    wait_for_worker(page)
    add_passkey(page, "Laptop")

    page.goto("/offline/settings")
    page.get_by_label("PIN or passphrase").fill(PIN)
    page.get_by_label("Repeat the PIN").fill(PIN)
    expect(page.get_by_label("Unlock with a passkey too")).to_be_checked()
    page.get_by_role("button", name="Turn on offline copy").click()
    expect(page.get_by_text("This device has an offline copy, saved")).to_be_visible()

    # The copy is version 2: the PIN and the passkey each wrap its key. Python opens it with
    # either: the PIN, or the PRF output the authenticator gives for the copy's input.
    blob = read_copy(page)["blob"]
    assert blob["version"] == 2 and [slot["kind"] for slot in blob["keys"]] == ["pin", "passkey"]
    slot = blob["keys"][1]
    assert slot["rp_id"] == "localhost"
    prf = page.evaluate(PRF_OF_COPY, {"credential": slot["credential"], "input": slot["prf_input"]})
    opened = open_offline_blob(blob, prf_output=base64.b64decode(prf))
    assert opened == open_offline_blob(blob, PIN) and [a["uuid"] for a in opened["accounts"]] == list(labels)

    profile.set_offline(True)
    page.goto("/")
    expect(page.get_by_role("heading", name="Offline codes")).to_be_visible()
    page.get_by_role("button", name="Unlock with a passkey").click()
    expect(page.get_by_role("button", name="Lock", exact=True)).to_be_visible()
    assert_codes_match(page, labels)

    # Locked again, the PIN still opens it.
    page.get_by_role("button", name="Lock", exact=True).click()
    page.get_by_label("PIN or passphrase").fill(PIN)
    page.get_by_role("button", name="Unlock", exact=True).click()
    expect(page.get_by_role("button", name="Lock", exact=True)).to_be_visible()
    assert_codes_match(page, labels)
    assert page.console_errors == []



def test_a_passkey_without_prf_leaves_the_pin_alone_to_seal_the_copy(app, alice, page, profile):
    virtual_authenticator(profile, page, prf=False)
    labels = add_accounts(app)
    sign_in_with_password(page)
    wait_for_worker(page)
    add_passkey(page, "Old security key")

    page.goto("/offline/settings")
    page.get_by_label("PIN or passphrase").fill(PIN)
    page.get_by_label("Repeat the PIN").fill(PIN)
    page.get_by_role("button", name="Turn on offline copy").click()
    expect(page.get_by_text("This passkey or browser cannot unlock an offline copy.")).to_be_visible()
    assert read_copy(page) is None

    page.get_by_label("Unlock with a passkey too").uncheck()
    page.get_by_role("button", name="Turn on offline copy").click()
    expect(page.get_by_text("This device has an offline copy, saved")).to_be_visible()
    blob = read_copy(page)["blob"]
    assert blob["version"] == 1 and "keys" not in blob
    assert [account["uuid"] for account in open_offline_blob(blob, PIN)["accounts"]] == list(labels)

    profile.set_offline(True)
    page.goto("/")
    expect(page.get_by_role("heading", name="Offline codes")).to_be_visible()
    expect(page.get_by_role("button", name="Unlock with a passkey")).to_have_count(0)
    page.get_by_label("PIN or passphrase").fill(PIN)
    page.get_by_role("button", name="Unlock", exact=True).click()
    expect(page.get_by_role("button", name="Lock", exact=True)).to_be_visible()
    assert_codes_match(page, labels)
    assert page.console_errors == []

# What a phishing page on another port of the same host gets from the authenticator: the
# passkey's relying party (localhost) lets it ask, so only the origin inside the answer tells
# the two pages apart. The answer is encoded as @simplewebauthn/browser posts it.
RELAYED_ASSERTION = """async (options) => {
  const bytes = (b64) => Uint8Array.from(atob(b64.replace(/-/g, '+').replace(/_/g, '/')), (ch) => ch.charCodeAt(0));
  const text = (buffer) => btoa(String.fromCharCode(...new Uint8Array(buffer)))
    .replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
  const assertion = await navigator.credentials.get({publicKey: {
    challenge: bytes(options.challenge), rpId: options.rpId, userVerification: 'preferred'}});
  return {id: assertion.id, rawId: text(assertion.rawId), type: assertion.type, clientExtensionResults: {},
    response: {clientDataJSON: text(assertion.response.clientDataJSON),
      authenticatorData: text(assertion.response.authenticatorData),
      signature: text(assertion.response.signature), userHandle: text(assertion.response.userHandle)}};
}"""


def audited(app, event: str) -> list[dict]:
    with app.app_context():
        return [found.details for found in db.session.scalars(
            select(AuditEvent).where(AuditEvent.event == event).order_by(AuditEvent.id))]


def test_an_answer_for_another_origin_and_a_cloned_passkey_are_refused(app, alice, page, profile, authenticator,
                                                                       localhost):
    sign_in_with_password(page)
    add_passkey(page, "Phone")
    [made] = authenticator.credentials()

    # A page at another origin (another port of localhost, served here by the test) asks the
    # browser for the passkey with a challenge fetched from the real server, and relays the
    # answer to it: the signature is genuine, the origin it names is not this site's.
    csrf = page.evaluate("JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRFToken']")
    headers = {"X-CSRFToken": csrf, "Accept": "application/json"}
    options = profile.request.post(f"{localhost}/passkeys/signin/options", headers=headers, data={}).json()
    elsewhere = f"http://localhost:{urlsplit(localhost).port + 1}"
    page.route(f"{elsewhere}/**", lambda route: route.fulfill(content_type="text/html", body="<!doctype html><p>Hi"))
    page.goto(f"{elsewhere}/login")
    credential = page.evaluate(RELAYED_ASSERTION, options)
    assert base64.urlsafe_b64decode(credential["response"]["clientDataJSON"] + "==").decode().count(elsewhere) == 1
    relayed = profile.request.post(f"{localhost}/passkeys/signin", headers=headers, data={"credential": credential})
    assert relayed.status == 401 and relayed.json()["error"] == "invalid"
    assert audited(app, "signin.failure") == [{"method": "passkey", "reason": "passkey-invalid"}]
    assert sign_ins(app) == ["password"]

    # From this site the same passkey signs in (the autofill of the sign-in page).
    page.goto("/")
    page.get_by_role("navigation").get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/$"))
    expect(page.get_by_role("link", name="Account", exact=True)).to_be_visible()
    assert sign_ins(app) == ["password", "passkey"]

    # A copy of the passkey taken before that sign-in (its key, and its count from then)
    # answers next: its count is not above the one last seen, so it is refused and audited.
    authenticator.cdp.send("WebAuthn.removeCredential",
                           {"authenticatorId": authenticator.id, "credentialId": made["credentialId"]})
    authenticator.cdp.send("WebAuthn.addCredential", {"authenticatorId": authenticator.id, "credential": made})
    with page.expect_response(re.compile(r"/passkeys/signin$")) as cloned:
        page.get_by_role("navigation").get_by_role("button", name="Sign out").click()
    assert cloned.value.status == 401 and cloned.value.json()["error"] == "counter"
    expect(page.get_by_text("its counter went backwards")).to_be_visible()
    assert "/login" in page.url and sign_ins(app) == ["password", "passkey"]
    [alarm] = audited(app, "passkey.counter_regressed")
    assert alarm["received"] <= alarm["stored"] and alarm["stored"] > 0
    with app.app_context():
        assert db.session.scalar(select(Passkey.sign_count)) == alarm["stored"]
