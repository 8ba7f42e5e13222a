"""Sync when things go wrong: Casdoor down, slow, failing, garbled, refusing; tokens expired or
revoked; the server dying between the push and the read-back; someone writing meanwhile; the
vault changing meanwhile; two syncs of one user at once (threads here, processes in the CLI tests).

In each case nothing is lost, a failure changes nothing in the vault, the status says why
in words, and a later sync converges.
"""

from __future__ import annotations

import functools
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.support.casdoor_server import CasdoorServer
from tests.support.casdoor_vault import (
    add_local,
    assert_converged,
    assert_nothing_lost,
    edit_local,
    link_user,
    remote_entries,
    run_sync,
    secrets_anywhere,
    vault_entries,
    vault_snapshot,
)
from webauth.casdoor import sync as casdoor_sync
from webauth.casdoor.client import CasdoorClient, CasdoorSettings
from webauth.casdoor.status import ErrorKind, Outcome, SyncStatus, status_of
from webauth.casdoor.sync import Trigger
from webauth.extensions import db
from webauth.keys import keyring
from webauth.models import Account, CasdoorLink, User, utcnow
from webauth.vault import Vault

X = "KRSXG5CTMVRXEZLU"
Y = "ONSWG4TFOQQGC3DM"
NEW = "MFRGGZDFMZTWQ2LK"


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch) -> None:
    """Reads are still tried three times, with the waits between tries cut to a few milliseconds."""
    monkeypatch.setattr(casdoor_sync, "CasdoorSettings", functools.partial(CasdoorSettings, backoff=0.01))


@pytest.fixture
def synced(casdoor_app, casdoor: CasdoorServer) -> int:
    """alice, linked and synced once: GitHub on both sides."""
    user_id = link_user(casdoor_app, casdoor)
    assert run_sync(casdoor_app, user_id).ok
    casdoor.reset_counts()
    return user_id


def status(app, user_id: int) -> SyncStatus:
    with app.app_context():
        return status_of(db.session.get(User, user_id))


FAULTS = [
    pytest.param("5xx", {}, ErrorKind.SERVER, "Casdoor answered with an error", id="http-503"),
    pytest.param("malformed", {}, ErrorKind.SERVER, "could not read", id="malformed-json"),
    pytest.param(
        "error", {"message": "database is on fire"}, ErrorKind.REJECTED, "database is on fire", id="status-error"
    ),
    pytest.param("hang", {"seconds": 2.5}, ErrorKind.TIMEOUT, "did not answer in time", id="timeout"),
]


@pytest.mark.parametrize(("kind", "options", "error", "words"), FAULTS)
def test_a_failing_casdoor_changes_nothing_here(casdoor_app, casdoor, synced, kind, options, error, words) -> None:
    casdoor_app.config["WEBAUTH_CASDOOR_TIMEOUT"] = 1
    add_local(casdoor_app, synced, "Slack", "alice", NEW)
    casdoor.set_mfa_accounts("acme", "alice", [*casdoor.mfa_accounts("acme", "alice"), _entry("Okta", Y)])
    before, remote_before = vault_snapshot(casdoor_app, synced), casdoor.mfa_accounts("acme", "alice")
    casdoor.inject_fault(kind, count=3, **options)  # reads are tried three times

    report = run_sync(casdoor_app, synced)

    assert report.outcome is Outcome.FAILED and report.error is error
    assert words in report.message
    assert vault_snapshot(casdoor_app, synced) == before
    assert casdoor.mfa_accounts("acme", "alice") == remote_before
    shown = status(casdoor_app, synced)
    assert shown.failed and words in shown.words() and "Next automatic try in" in shown.words()
    # Later, Casdoor is back: the next sync converges.
    casdoor.clear_faults()
    assert run_sync(casdoor_app, synced).ok
    assert_converged(casdoor_app, synced, casdoor)
    assert not status(casdoor_app, synced).failed


def _entry(issuer: str, secret: str, name: str = "alice") -> dict[str, str]:
    return {"accountName": name, "issuer": issuer, "secretKey": secret, "origin": "phone-1"}


def test_casdoor_down_altogether(casdoor_app, casdoor, synced) -> None:
    add_local(casdoor_app, synced, "Slack", "alice", NEW)
    before = vault_snapshot(casdoor_app, synced)
    casdoor.stop()
    try:
        report = run_sync(casdoor_app, synced)
    finally:
        casdoor.start()
    assert report.error is ErrorKind.UNREACHABLE
    assert "could not be reached" in status(casdoor_app, synced).words()
    assert vault_snapshot(casdoor_app, synced) == before


def test_a_failed_write_changes_nothing_on_either_side(casdoor_app, casdoor, synced) -> None:
    edit_local(casdoor_app, synced, "GitHub", "alice@example.com", secret=X)
    casdoor.set_mfa_accounts("acme", "alice", [_entry("Okta", Y), *casdoor.mfa_accounts("acme", "alice")])
    before, remote_before = vault_snapshot(casdoor_app, synced), casdoor.mfa_accounts("acme", "alice")
    existing = secrets_anywhere(casdoor_app, synced, casdoor)
    casdoor.inject_fault("5xx", endpoints=["/api/update-user"])

    report = run_sync(casdoor_app, synced)

    assert report.error is ErrorKind.SERVER
    assert vault_snapshot(casdoor_app, synced) == before
    assert casdoor.mfa_accounts("acme", "alice") == remote_before
    assert run_sync(casdoor_app, synced).ok
    assert_converged(casdoor_app, synced, casdoor)
    assert_nothing_lost(casdoor_app, synced, casdoor, existing)


def test_server_dies_between_the_push_and_the_read_back(casdoor_app, casdoor, synced) -> None:
    """The push landed, the confirmation did not: the vault is untouched, and the next sync
    finishes the same plan instead of merging again (a conflict is kept twice, not thrice)."""
    edit_local(casdoor_app, synced, "GitHub", "alice@example.com", secret=X)
    casdoor.set_mfa_accounts("acme", "alice", [_entry("GitHub", Y, "alice@example.com")])
    before, existing = vault_snapshot(casdoor_app, synced), secrets_anywhere(casdoor_app, synced, casdoor)
    # The first read passes (a zero-second "hang"), then every read fails.
    casdoor.inject_fault("hang", seconds=0, endpoints=["/api/get-user"])
    casdoor.inject_fault("5xx", count=3, endpoints=["/api/get-user"])

    report = run_sync(casdoor_app, synced)

    assert report.error is ErrorKind.SERVER
    assert vault_snapshot(casdoor_app, synced) == before
    pushed = remote_entries(casdoor)
    assert ("GitHub", "alice@example.com (conflict)", X) in pushed

    casdoor.reset_counts()
    assert run_sync(casdoor_app, synced).ok
    assert casdoor.request_count("/api/update-user") == 0  # finished from the pending plan
    assert_converged(casdoor_app, synced, casdoor)
    live, _trash = vault_entries(casdoor_app, synced)
    assert live == pushed
    assert len([name for _issuer, name, _secret in live if "conflict" in name]) == 1
    assert_nothing_lost(casdoor_app, synced, casdoor, existing)


def test_a_write_that_times_out_and_lands_later(casdoor_app, casdoor, synced) -> None:
    """Slow Casdoor: the write times out and lands after our read-back. The sync reports the
    timeout and changes nothing here; the next one sees its list there and finishes the job."""
    casdoor_app.config["WEBAUTH_CASDOOR_TIMEOUT"] = 1
    add_local(casdoor_app, synced, "Slack", "alice", NEW)
    before = vault_snapshot(casdoor_app, synced)
    casdoor.inject_fault("hang", seconds=1.5, endpoints=["/api/update-user"])

    report = run_sync(casdoor_app, synced)

    assert report.error is ErrorKind.TIMEOUT
    assert vault_snapshot(casdoor_app, synced) == before
    deadline = time.monotonic() + 30  # the delayed write lands, however busy the machine
    while ("Slack", "alice", NEW) not in remote_entries(casdoor):
        assert time.monotonic() < deadline, "the write that timed out never landed"
        time.sleep(0.05)
    casdoor.reset_counts()
    assert run_sync(casdoor_app, synced).ok
    assert casdoor.request_count("/api/update-user") == 0
    assert_converged(casdoor_app, synced, casdoor)


def test_a_write_casdoor_ignores_is_reported(casdoor_app, casdoor, synced, monkeypatch) -> None:
    add_local(casdoor_app, synced, "Slack", "alice", NEW)
    monkeypatch.setattr(CasdoorClient, "update_user", lambda self, token, user: False)
    report = run_sync(casdoor_app, synced)
    assert report.error is ErrorKind.NOT_STORED
    assert "did not keep the change" in report.message


def test_someone_writes_between_our_push_and_the_read_back(casdoor_app, casdoor, synced, monkeypatch) -> None:
    """The phone syncs right after us: we read its list back, plan again, and keep both changes."""
    add_local(casdoor_app, synced, "Slack", "alice", NEW)
    real_update = CasdoorClient.update_user
    calls = []

    def update_then_phone_writes(self, token, user):
        result = real_update(self, token, user)
        if not calls:
            calls.append(1)
            casdoor.set_mfa_accounts("acme", "alice", [*casdoor.mfa_accounts("acme", "alice"), _entry("Okta", Y)])
        return result

    monkeypatch.setattr(CasdoorClient, "update_user", update_then_phone_writes)
    assert run_sync(casdoor_app, synced).ok
    assert_converged(casdoor_app, synced, casdoor)
    assert {issuer for issuer, _n, _s in remote_entries(casdoor)} == {"GitHub", "Slack", "Okta"}


def test_the_vault_changes_while_syncing(casdoor_app, casdoor, synced, monkeypatch) -> None:
    """An account added here during a sync is neither lost nor overwritten: the sync plans again."""
    casdoor.set_mfa_accounts("acme", "alice", [*casdoor.mfa_accounts("acme", "alice"), _entry("Okta", Y)])
    add_local(casdoor_app, synced, "Slack", "alice", NEW)
    real_update = CasdoorClient.update_user
    calls = []

    def update_while_user_adds(self, token, user):
        result = real_update(self, token, user)
        if not calls:
            calls.append(1)
            worker = threading.Thread(target=add_local, args=(casdoor_app, synced, "Zoom", "alice", X))
            worker.start()
            worker.join()
        return result

    monkeypatch.setattr(CasdoorClient, "update_user", update_while_user_adds)
    assert run_sync(casdoor_app, synced).ok
    assert_converged(casdoor_app, synced, casdoor)
    assert {issuer for issuer, _n, _s in remote_entries(casdoor)} == {"GitHub", "Slack", "Okta", "Zoom"}


def test_an_expired_access_token_is_refreshed_first(casdoor_app, casdoor, synced) -> None:
    with casdoor_app.app_context():
        link = db.session.get(CasdoorLink, synced)
        link.access_expires_at = utcnow() + timedelta(seconds=30)  # within the refresh margin
        old_refresh = link.refresh_token_sealed
        db.session.commit()
    casdoor.reset_counts()
    assert run_sync(casdoor_app, synced).ok
    assert casdoor.request_count("/api/login/oauth/access_token") == 1
    with casdoor_app.app_context():
        link = db.session.get(CasdoorLink, synced)
        assert link.refresh_token_sealed != old_refresh
        assert link.access_expires_at > utcnow() + timedelta(minutes=30)


def test_an_access_token_refused_early_is_renewed_once(casdoor_app, casdoor, synced) -> None:
    """Casdoor no longer knows the stored access token (restarted, revoked alone): the refresh token helps."""
    from webauth.keys import keyring
    from webauth.vault import Vault

    with casdoor_app.app_context():
        link = db.session.get(CasdoorLink, synced)
        vault = Vault(db.session.get(User, synced), keyring())
        link.access_token_sealed = vault.seal_blob("casdoor:access-token", b"a-token-casdoor-never-issued")
        db.session.commit()
    casdoor.reset_counts()
    assert run_sync(casdoor_app, synced).ok
    assert casdoor.request_count("/api/login/oauth/access_token") == 1


def test_a_revoked_session_asks_to_sign_in_again(casdoor_app, casdoor, synced) -> None:
    add_local(casdoor_app, synced, "Slack", "alice", NEW)
    before = vault_snapshot(casdoor_app, synced)
    casdoor.revoke_tokens("acme", "alice")

    report = run_sync(casdoor_app, synced)

    assert report.error is ErrorKind.SESSION_EXPIRED
    assert vault_snapshot(casdoor_app, synced) == before
    shown = status(casdoor_app, synced)
    assert "sign in with Casdoor again" in shown.words()
    assert not shown.signed_in


def test_mfa_accounts_hidden_by_the_organization(casdoor_app, casdoor, synced) -> None:
    casdoor.set_mfa_accounts_item(False, "acme")
    report = run_sync(casdoor_app, synced)
    assert report.error is ErrorKind.MFA_HIDDEN
    assert '"MFA accounts" account item' in status(casdoor_app, synced).words()


def test_automatic_syncs_back_off_after_failures(casdoor_app, casdoor, synced) -> None:
    casdoor.inject_fault("5xx", count=6)
    assert run_sync(casdoor_app, synced).error is ErrorKind.SERVER
    casdoor.reset_counts()
    for trigger in (Trigger.CHANGE, Trigger.PERIODIC, Trigger.CLI):
        assert run_sync(casdoor_app, synced, trigger, force=False).outcome is Outcome.WAITING
    assert casdoor.request_counts() == {}
    with casdoor_app.app_context():
        link = db.session.get(CasdoorLink, synced)
        first_wait = link.next_attempt_at - link.last_attempt_at
    # "Sync now" does not wait; another failure doubles the wait.
    assert run_sync(casdoor_app, synced, Trigger.MANUAL, force=True).error is ErrorKind.SERVER
    with casdoor_app.app_context():
        link = db.session.get(CasdoorLink, synced)
        assert link.next_attempt_at - link.last_attempt_at == 2 * first_wait
        assert link.failures == 2


def test_periodic_syncs_skip_when_one_just_ran(casdoor_app, casdoor, synced) -> None:
    casdoor.reset_counts()
    assert run_sync(casdoor_app, synced, Trigger.PERIODIC, force=False).outcome is Outcome.WAITING
    assert casdoor.request_counts() == {}


def test_one_sync_per_user_at_a_time(casdoor_app, casdoor, synced) -> None:
    """The lease: a second sync waits for the first, then finds nothing left to do."""
    add_local(casdoor_app, synced, "Slack", "alice", NEW)
    casdoor.inject_fault("hang", seconds=1.0, endpoints=["/api/get-user"])
    results = {}

    def first():
        results["first"] = run_sync(casdoor_app, synced)

    worker = threading.Thread(target=first)
    worker.start()
    while status(casdoor_app, synced).running is False:
        pass
    assert run_sync(casdoor_app, synced, wait=0).outcome is Outcome.BUSY
    second = run_sync(casdoor_app, synced, wait=10)
    worker.join()
    assert results["first"].ok and second.ok
    assert casdoor.request_count("/api/update-user") == 1
    assert_converged(casdoor_app, synced, casdoor)


def test_an_abandoned_lease_expires(casdoor_app, casdoor, synced) -> None:
    with casdoor_app.app_context():
        link = db.session.get(CasdoorLink, synced)
        link.lock_token, link.locked_until = "a-process-that-died", utcnow() - timedelta(seconds=1)
        db.session.commit()
    assert run_sync(casdoor_app, synced).ok


def test_a_sync_that_lost_its_lease_applies_nothing(casdoor_app, casdoor, synced, monkeypatch) -> None:
    casdoor.set_mfa_accounts("acme", "alice", [*casdoor.mfa_accounts("acme", "alice"), _entry("Okta", Y)])
    before = vault_snapshot(casdoor_app, synced)
    real_get_user = CasdoorClient.get_user

    def slow_read(self, token, user_id):
        answer = real_get_user(self, token, user_id)
        # Meanwhile the lease expired and another process took it.
        db.session.execute(
            db.update(CasdoorLink).where(CasdoorLink.user_id == synced).values(lock_token="someone-else")
        )
        db.session.commit()
        return answer

    monkeypatch.setattr(CasdoorClient, "get_user", slow_read)
    report = run_sync(casdoor_app, synced)
    assert report.outcome is Outcome.FAILED
    assert vault_snapshot(casdoor_app, synced) == before


def test_a_local_change_while_the_sync_applies_its_plan_waits_its_turn(casdoor_app, casdoor, synced, monkeypatch):
    """The sync locks the vault's rows while it applies its plan, and every vault change takes the
    vault's lock: both must take them in the same order, or a change made at that moment (a
    star set on another device) and the sync wait for each other until PostgreSQL breaks the
    deadlock by failing one of them."""
    casdoor.set_mfa_accounts("acme", "alice", [*casdoor.mfa_accounts("acme", "alice"), _entry("Okta", Y)])
    slack = add_local(casdoor_app, synced, "Slack", "alice", NEW)
    real_apply_plan = casdoor_sync._Sync._apply_plan
    failures: list[BaseException] = []

    def star() -> None:
        with casdoor_app.app_context():
            try:
                Vault(db.session.get(User, synced), keyring()).set_favorite(slack, True)
                db.session.commit()
            except BaseException as error:  # reported below
                db.session.rollback()
                failures.append(error)

    worker = threading.Thread(target=star)

    def apply_plan_while_a_star_is_set(self, plan):
        worker.start()
        worker.join(timeout=1)  # the star waits for the sync, or gets ahead as far as it can
        return real_apply_plan(self, plan)

    monkeypatch.setattr(casdoor_sync._Sync, "_apply_plan", apply_plan_while_a_star_is_set)
    report = run_sync(casdoor_app, synced)
    worker.join(timeout=30)
    assert report.ok and not failures, (report, failures)
    monkeypatch.undo()
    with casdoor_app.app_context():
        assert db.session.scalar(select(Account.favorite).where(Account.uuid == slack)) is True
    assert {"Slack", "Okta"} <= {issuer for issuer, _n, _s in remote_entries(casdoor)}
