"""The table of sync scenarios, against the fake Casdoor and the real vault.

Every scenario starts from a synced pair (GitHub and Dropbox on both sides), changes one
side or both, syncs, and checks that both sides hold the same accounts, that no secret that
ever existed is gone (it is live, in the trash, or in Casdoor), and that a second sync has
nothing left to do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tests.support.casdoor_server import CasdoorServer
from tests.support.casdoor_vault import (
    add_local,
    assert_converged,
    assert_nothing_lost,
    delete_local,
    edit_local,
    link_user,
    norm,
    remote_entries,
    run_sync,
    secrets_anywhere,
    vault_entries,
)
from webauth.casdoor import status as casdoor_status
from webauth.casdoor import sync as casdoor_sync
from webauth.extensions import db
from webauth.models import CasdoorMark, User
from webauth.otp import OtpType

GITHUB_SECRET = "JBSWY3DPEHPK3PXP"
DROPBOX_SECRET = "GEZDGNBVGY3TQOJQ"
X = "KRSXG5CTMVRXEZLU"
Y = "ONSWG4TFOQQGC3DM"
NEW = "MFRGGZDFMZTWQ2LK"
GITHUB = ("GitHub", "alice@example.com")
DROPBOX = ("Dropbox", "alice")


def entry(issuer: str, name: str, secret: str, origin: str = "phone-1") -> dict[str, str]:
    return {"accountName": name, "issuer": issuer, "secretKey": secret, "origin": origin}


@pytest.fixture
def synced(casdoor_app, casdoor: CasdoorServer) -> int:
    """alice, linked, with GitHub and Dropbox on both sides after a first sync."""
    casdoor.set_mfa_accounts("acme", "alice", [entry(*GITHUB, GITHUB_SECRET), entry(*DROPBOX, DROPBOX_SECRET)])
    user_id = link_user(casdoor_app, casdoor)
    assert run_sync(casdoor_app, user_id).ok
    assert_converged(casdoor_app, user_id, casdoor)
    casdoor.reset_counts()
    return user_id


def edit_remote(casdoor: CasdoorServer, change: Callable[[list[dict]], list[dict]]) -> None:
    """Change Casdoor's list as the official app (or an admin in Casdoor's UI) would."""
    casdoor.set_mfa_accounts("acme", "alice", change(casdoor.mfa_accounts("acme", "alice") or []))


def set_secret(issuer: str, name: str, secret: str) -> Callable[[list[dict]], list[dict]]:
    return lambda entries: [
        {**e, "secretKey": secret} if (e["issuer"], e["accountName"]) == (issuer, name) else e for e in entries
    ]


def drop(issuer: str, name: str) -> Callable[[list[dict]], list[dict]]:
    return lambda entries: [e for e in entries if (e["issuer"], e["accountName"]) != (issuer, name)]


def append(*new: dict) -> Callable[[list[dict]], list[dict]]:
    return lambda entries: [*entries, *new]


@dataclass(frozen=True)
class Scenario:
    name: str
    here: Callable[[object, int], None] | None  # (app, user_id)
    there: Callable[[list[dict]], list[dict]] | None
    live: set[tuple[str, str, str]]  # the accounts both sides hold afterwards
    trash_has: set[tuple[str, str, str]] = frozenset()


def _both(*entries: tuple[str, str, str]) -> set[tuple[str, str, str]]:
    return {(issuer, name, norm(secret)) for issuer, name, secret in entries}


BASE_LIVE = [(*GITHUB, GITHUB_SECRET), (*DROPBOX, DROPBOX_SECRET)]

SCENARIOS = [
    Scenario(
        "added here",
        lambda app, uid: add_local(app, uid, "Slack", "alice", NEW),
        None,
        _both(*BASE_LIVE, ("Slack", "alice", NEW)),
    ),
    Scenario(
        "added in Casdoor",
        None,
        append(entry("Slack", "alice", NEW)),
        _both(*BASE_LIVE, ("Slack", "alice", NEW)),
    ),
    Scenario(
        "edited here",
        lambda app, uid: edit_local(app, uid, *GITHUB, secret=X),
        None,
        _both((*GITHUB, X), (*DROPBOX, DROPBOX_SECRET)),
        trash_has=_both((*GITHUB, GITHUB_SECRET)),
    ),
    Scenario(
        "edited in Casdoor",
        None,
        set_secret(*GITHUB, X),
        _both((*GITHUB, X), (*DROPBOX, DROPBOX_SECRET)),
        trash_has=_both((*GITHUB, GITHUB_SECRET)),
    ),
    Scenario(
        "renamed here",
        lambda app, uid: edit_local(app, uid, *DROPBOX, new_name="alice@work"),
        None,
        _both((*GITHUB, GITHUB_SECRET), ("Dropbox", "alice@work", DROPBOX_SECRET)),
    ),
    Scenario(
        "deleted here",
        lambda app, uid: delete_local(app, uid, *DROPBOX),
        None,
        _both((*GITHUB, GITHUB_SECRET)),
        trash_has=_both((*DROPBOX, DROPBOX_SECRET)),
    ),
    Scenario(
        "deleted in Casdoor",
        None,
        drop(*DROPBOX),
        _both((*GITHUB, GITHUB_SECRET)),
        trash_has=_both((*DROPBOX, DROPBOX_SECRET)),
    ),
    Scenario(
        "both edited, differently: both kept",
        lambda app, uid: edit_local(app, uid, *GITHUB, secret=X),
        set_secret(*GITHUB, Y),
        _both((*GITHUB, Y), ("GitHub", "alice@example.com (conflict)", X), (*DROPBOX, DROPBOX_SECRET)),
    ),
    Scenario(
        "both edited the same way",
        lambda app, uid: edit_local(app, uid, *GITHUB, secret=X),
        set_secret(*GITHUB, X),
        _both((*GITHUB, X), (*DROPBOX, DROPBOX_SECRET)),
    ),
    Scenario(
        "both added the same name with different secrets: both kept",
        lambda app, uid: add_local(app, uid, "Slack", "alice", X),
        append(entry("Slack", "alice", Y)),
        _both(*BASE_LIVE, ("Slack", "alice", Y), ("Slack", "alice (conflict)", X)),
    ),
    Scenario(
        "deleted here while edited in Casdoor: the edit comes back",
        lambda app, uid: delete_local(app, uid, *GITHUB),
        set_secret(*GITHUB, X),
        _both((*GITHUB, X), (*DROPBOX, DROPBOX_SECRET)),
        trash_has=_both((*GITHUB, GITHUB_SECRET)),
    ),
    Scenario(
        "edited here while deleted in Casdoor: the edit goes back",
        lambda app, uid: edit_local(app, uid, *GITHUB, secret=X),
        drop(*GITHUB),
        _both((*GITHUB, X), (*DROPBOX, DROPBOX_SECRET)),
    ),
    Scenario(
        "deleted on both sides",
        lambda app, uid: delete_local(app, uid, *DROPBOX),
        drop(*DROPBOX),
        _both((*GITHUB, GITHUB_SECRET)),
        trash_has=_both((*DROPBOX, DROPBOX_SECRET)),
    ),
    Scenario(
        "two devices: the phone adds and edits while this app adds and deletes",
        lambda app, uid: (add_local(app, uid, "Slack", "alice", NEW), delete_local(app, uid, *DROPBOX)),
        lambda entries: append(entry("Okta", "alice", Y))(set_secret(*GITHUB, X)(entries)),
        _both((*GITHUB, X), ("Slack", "alice", NEW), ("Okta", "alice", Y)),
        trash_has=_both((*GITHUB, GITHUB_SECRET), (*DROPBOX, DROPBOX_SECRET)),
    ),
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_scenario(scenario: Scenario, casdoor_app, casdoor: CasdoorServer, synced: int) -> None:
    if scenario.here is not None:
        scenario.here(casdoor_app, synced)
    if scenario.there is not None:
        edit_remote(casdoor, scenario.there)
    existing = secrets_anywhere(casdoor_app, synced, casdoor)

    report = run_sync(casdoor_app, synced)

    assert report.ok, report.message
    assert_converged(casdoor_app, synced, casdoor)
    live, trash = vault_entries(casdoor_app, synced)
    assert live == scenario.live
    assert scenario.trash_has <= trash
    assert_nothing_lost(casdoor_app, synced, casdoor, existing)
    # A second sync finds both sides equal: nothing to write anywhere.
    casdoor.reset_counts()
    again = run_sync(casdoor_app, synced)
    assert again.ok and not again.changed_local
    assert casdoor.request_count("/api/update-user") == 0
    assert vault_entries(casdoor_app, synced) == (live, trash)


def test_entries_created_here_carry_this_installations_origin(casdoor_app, casdoor, synced: int) -> None:
    add_local(casdoor_app, synced, "Slack", "alice", NEW)
    assert run_sync(casdoor_app, synced).ok
    with casdoor_app.app_context():
        origin = casdoor_sync.installation_origin()
    [slack] = [e for e in casdoor.mfa_accounts("acme", "alice") if e["issuer"] == "Slack"]
    assert slack["origin"] == origin and origin.startswith("webauth-")
    # Entries made elsewhere keep their origin.
    assert {e["origin"] for e in casdoor.mfa_accounts("acme", "alice") if e["issuer"] != "Slack"} == {"phone-1"}


def test_conflicts_are_reported_until_dismissed(casdoor_app, casdoor, synced: int) -> None:
    edit_local(casdoor_app, synced, *GITHUB, secret=X)
    edit_remote(casdoor, set_secret(*GITHUB, Y))
    assert run_sync(casdoor_app, synced).ok
    assert run_sync(casdoor_app, synced).ok  # a later sync without conflicts keeps telling about them
    with casdoor_app.app_context():
        status = casdoor_status.status_of(db.session.get(User, synced))
        assert status.conflicts == [
            {"issuer": "GitHub", "name": "alice@example.com", "renamed_to": "alice@example.com (conflict)"}
        ]
        casdoor_status.dismiss_conflicts(db.session.get(User, synced))
        db.session.commit()
        assert casdoor_status.status_of(db.session.get(User, synced)).conflicts == []


def test_accounts_casdoor_cannot_hold_sync_by_secret_and_are_marked(casdoor_app, casdoor, synced: int) -> None:
    add_local(casdoor_app, synced, "Bank", "alice", NEW, type=OtpType.HOTP, digits=8)
    add_local(casdoor_app, synced, "Long", "x" * 150, X)
    # Casdoor's app would make TOTP codes of these secrets: they stay here, PIN and all.
    add_local(casdoor_app, synced, "VPN", "alice", "4MKSV7XGEWM4Q", type=OtpType.MOTP, pin="1234")
    add_local(casdoor_app, synced, "Yandex", "alice", "LA2V6KMCGYMWWVEW64RNP3JA3I", type=OtpType.YANDEX, pin="7586")
    assert run_sync(casdoor_app, synced).ok

    remote = remote_entries(casdoor)
    assert ("Bank", "alice", norm(NEW)) in remote
    assert not any(issuer in ("Long", "VPN", "Yandex") for issuer, _name, _secret in remote)
    with casdoor_app.app_context():
        marks = {mark.reason for mark in db.session.scalars(db.select(CasdoorMark))}
        assert marks == {"parameters", "too-long", "type"}
        status = casdoor_status.status_of(db.session.get(User, synced))
        notes = " ".join(status.notes())
        assert "Casdoor keeps only its secret" in notes and "longer than Casdoor allows" in notes
        assert "2 mOTP or Yandex accounts are kept here only: Casdoor cannot hold their type." in notes
    # The HOTP account keeps its type and digits here.
    edit_remote(casdoor, set_secret("Bank", "alice", Y))
    assert run_sync(casdoor_app, synced).ok
    with casdoor_app.app_context():
        from webauth.keys import keyring
        from webauth.vault import Vault

        vault = Vault(db.session.get(User, synced), keyring())
        [bank] = [a for a in vault.accounts() if a.issuer == "Bank"]
        assert (bank.type, bank.digits) == ("hotp", 8)
