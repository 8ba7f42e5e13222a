"""The vault's rules, without HTTP: adding and duplicates, editing and revisions, the trash,
groups, the user's order, HOTP counters, the list's query and its state, and sealed blobs.

Each test works on a real database (SQLite, or PostgreSQL with WEBAUTH_TEST_DATABASE_URL)
inside one app context, through `Vault` as the pages, the CLI, importers and the sync do.
The pages' handling of the same rules is in tests/functional/.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from PIL import Image
from sqlalchemy import func, select

from tests.support.qr_images import png
from webauth.crypto import DecryptionError
from webauth.extensions import db
from webauth.keys import keyring
from webauth.listing import PAGE_SIZE, PREVIEW_SECONDS, ListQuery, make_clock, next_refresh_ms_of, period_change
from webauth.models import Account, AuditEvent, Group, User
from webauth.otp import InvalidParameter, OtpParams, OtpType, code_at
from webauth.otpauth import AccountSpec, parse_uri
from webauth.vault import AccountNotFound, DuplicateAccount, Vault

SECRET = b"12345678901234567890"
OTHER = b"abcdefghijklmnopqrst"


def spec(issuer: str, name: str = "alice", secret: bytes = SECRET, **fields) -> AccountSpec:
    kind = fields.pop("type", OtpType.TOTP)
    counter, period = fields.pop("counter", 0), fields.pop("period", 30)
    params = OtpParams(kind, secret + issuer.encode(), counter=counter, period=period)
    return AccountSpec(issuer, name, params, **fields)


@pytest.fixture
def vault(app, make_user) -> Iterator[Vault]:
    alice = make_user("alice")
    with app.app_context():
        yield Vault(db.session.get(User, alice.id), keyring())


@pytest.fixture
def bobs_vault(vault: Vault, make_user) -> Vault:
    bob = make_user("bob")
    return Vault(db.session.get(User, bob.id), keyring())


def events(name: str) -> list[dict]:
    return [event.details for event in db.session.scalars(select(AuditEvent).where(AuditEvent.event == name))]


def issuers(accounts) -> list[str]:
    return [account.issuer for account in accounts]


# Adding and duplicates -----------------------------------------------------------------------------


def test_an_added_account_is_sealed_and_audited_without_its_secret(vault):
    account = vault.add(spec("GitHub"), source="cli")
    stored = db.session.get(Account, account.id)
    assert SECRET not in stored.secret_sealed and vault.params(stored).secret == SECRET + b"GitHub"
    assert (stored.revision, stored.position) == (1, 1)
    assert events("account.add") == [{"account": account.uuid, "source": "cli"}]


def test_an_identical_account_is_refused_and_another_secret_is_kept(vault):
    first = vault.add(spec("GitHub"))
    with pytest.raises(DuplicateAccount) as refused:
        vault.add(spec("GitHub"))
    assert refused.value.existing.id == first.id
    twin = vault.add(AccountSpec("GitHub", "alice", OtpParams(OtpType.TOTP, OTHER)))
    assert vault.twin_hints([first, twin]) == {first.uuid: first.secret_digest[:4].upper(),
                                               twin.uuid: twin.secret_digest[:4].upper()}
    assert vault.find_duplicate(spec("GitHub")).id == first.id
    # The type is part of the account: the same secret as HOTP is another account.
    assert vault.find_duplicate(spec("GitHub", type=OtpType.HOTP)) is None


def test_another_users_account_is_no_account(vault, bobs_vault):
    bobs = bobs_vault.add(spec("Bank"))
    reveal = lambda uuid: vault.reveal(uuid, "uri")  # noqa: E731
    for action in (vault.get, vault.delete, vault.advance_hotp, vault.mark_used, vault.restore, reveal):
        with pytest.raises(AccountNotFound):
            action(bobs.uuid)
    # And the same secret in another vault is no duplicate.
    assert vault.add(spec("Bank")).id != bobs.id
    assert bobs_vault.get(bobs.uuid).revision == 1


def test_imported_groups_and_icons_come_along_and_unusable_icons_are_left_out(vault):
    icon = png(Image.new("RGBA", (300, 300), (0, 0, 255, 255)))
    params = OtpParams(OtpType.TOTP, b"12345678901234567890")
    a = vault.add(AccountSpec("A", "a", params, groups=("Work", "work", "Home"), icon=icon, icon_mime="image/png"))
    b = vault.add(AccountSpec("B", "b", params, groups=("Work",), icon=b"<svg/>", icon_mime="image/svg+xml"))
    db.session.commit()  # as callers do: the vault never commits
    assert [g.name for g in a.groups] == ["Home", "Work"] and b.icon is None
    assert a.icon.kind == "custom" and a.icon.data.startswith(b"\x89PNG") and vault.spec(a).icon == a.icon.data
    assert db.session.scalar(select(func.count()).select_from(Group)) == 2


def test_a_batch_is_planned_then_added_in_one_go_skipping_what_is_there(vault):
    vault.add(spec("GitHub"))
    batch = [spec("GitHub"), spec("GitLab"), spec("GitLab"), spec("Bank", groups=("Money",))]
    planned = vault.plan_additions(batch)
    assert [(item.duplicate_of is not None, item.repeated, item.is_new) for item in planned] == [
        (True, False, False), (False, False, True), (False, True, False), (False, False, True),
    ]
    added, duplicates = vault.add_many(batch, source="aegis", details={"entries": 4})
    assert issuers(added) == ["GitLab", "Bank"] and duplicates == 2
    assert [group.name for group in added[1].groups] == ["Money"]
    assert events("import") == [{"entries": 4, "format": "aegis", "added": 2, "duplicates": 2}]
    assert issuers(vault.accounts()) == ["GitHub", "GitLab", "Bank"]


# Editing and revisions ----------------------------------------------------------------------------


def test_update_reseals_a_new_secret_and_audits_field_names_only(vault):
    uuid = vault.add(spec("GitHub")).uuid
    new = parse_uri("otpauth://totp/GitHub:alice2?secret=GEZDGNBVGY3TQOJQ&issuer=GitHub&digits=8")
    account = vault.update(uuid, new)
    assert vault.spec(account).params == new.params and account.name == "alice2" and account.revision == 2
    [event] = events("account.edit")
    assert sorted(event["fields"]) == ["digits", "name", "secret"]
    assert "GEZDGNBVGY3TQOJQ" not in str(event)


def test_an_update_that_changes_nothing_is_no_change(vault):
    account = vault.add(spec("GitHub", note="laptop", groups=("Work",)))
    vault.update(account.uuid, vault.spec(account))
    vault.update(account.uuid, vault.spec(account), groups=["work"])  # the same group, in other case
    assert account.revision == 1 and events("account.edit") == []


def test_groups_change_only_when_given(vault):
    account = vault.add(spec("GitHub", groups=("Work",)))
    bare = spec("GitHub", name="alice2")  # no groups in the spec: the sync describes OTP fields alone
    vault.update(account.uuid, bare)
    assert [group.name for group in account.groups] == ["Work"]
    vault.update(account.uuid, bare, groups=[])
    assert account.groups == [] and db.session.scalar(select(func.count()).select_from(Group)) == 0
    assert events("account.edit")[-1]["fields"] == ["groups"]


def test_update_into_a_duplicate_is_refused(vault):
    first = vault.add(spec("GitHub")).uuid
    vault.add(spec("GitHub", name="bob"))
    with pytest.raises(DuplicateAccount):
        vault.update(first, spec("GitHub", name="bob"))
    assert vault.get(first).name == "alice" and vault.get(first).revision == 1


def test_favorites_bump_the_revision_only_when_they_change(vault):
    account = vault.add(spec("GitHub"))
    vault.set_favorite(account.uuid, False)
    assert account.revision == 1
    vault.set_favorite(account.uuid, True)
    assert account.favorite and account.revision == 2
    assert events("account.favorite") == [{"account": account.uuid, "favorite": True}]


def test_using_a_code_is_no_change_of_the_account(vault):
    account = vault.add(spec("GitHub"))
    vault.mark_used(account.uuid)
    db.session.refresh(account)
    assert account.last_used_at is not None and account.revision == 1
    assert [event.event for event in db.session.scalars(select(AuditEvent))] == ["user.create", "account.add"]


def test_a_reveal_is_audited_and_only_of_what_may_be_revealed(vault):
    account = vault.add(spec("GitHub"))
    assert vault.reveal(account.uuid, "secret").params.secret == SECRET + b"GitHub"
    with pytest.raises(ValueError, match="unknown reveal"):
        vault.reveal(account.uuid, "everything")
    assert events("account.reveal") == [{"account": account.uuid, "what": "secret"}]


# HOTP ----------------------------------------------------------------------------------------------


def test_the_next_hotp_code_moves_the_counter_and_the_revision(vault):
    account = vault.add(spec("Door", type=OtpType.HOTP, counter=7))
    vault.advance_hotp(account.uuid)
    vault.advance_hotp(account.uuid)
    db.session.refresh(account)
    assert (account.counter, account.revision) == (9, 3)
    assert [event["counter"] for event in events("account.hotp_next")] == [8, 9]
    with pytest.raises(AccountNotFound):  # a time-based account has no next counter
        vault.advance_hotp(vault.add(spec("GitHub")).uuid)


# The trash -----------------------------------------------------------------------------------------


def test_delete_restore_and_purge(vault):
    account = vault.add(spec("GitHub"))
    vault.delete(account.uuid)
    assert vault.accounts() == [] and vault.trash() == [account] and account.revision == 2
    with pytest.raises(AccountNotFound):
        vault.get(account.uuid)
    vault.restore(account.uuid)
    assert vault.accounts() == [account] and account.revision == 3
    vault.delete(account.uuid)
    vault.purge(account.uuid)
    assert vault.trash() == [] and db.session.get(Account, account.id) is None
    assert [event.event for event in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))][1:] == [
        "account.add", "account.delete", "account.restore", "account.delete", "account.purge",
    ]


def test_what_the_vault_holds_again_stays_in_the_trash(vault):
    account = vault.add(spec("GitHub"))
    vault.delete(account.uuid)
    vault.add(spec("GitHub"))
    with pytest.raises(DuplicateAccount):
        vault.restore(account.uuid)
    assert vault.trash() == [account]


def test_emptying_the_trash_purges_everything_in_it_and_its_groups(vault):
    kept = vault.add(spec("Kept", groups=("Home",)))
    for issuer in ("A", "B"):
        vault.delete(vault.add(spec(issuer, groups=("Work",))).uuid)
    assert [group.name for group in vault.groups()] == ["Home", "Work"]
    assert vault.empty_trash() == 2
    assert vault.trash() == [] and vault.accounts() == [kept] and [g.name for g in vault.groups()] == ["Home"]


def test_a_copy_is_kept_in_the_trash_once(vault):
    copy = vault.add_to_trash(spec("GitHub"), source="casdoor")
    assert copy is not None and vault.trash() == [copy] and vault.accounts() == []
    assert vault.add_to_trash(spec("GitHub"), source="casdoor") is None
    assert events("account.trash_copy") == [{"account": copy.uuid, "source": "casdoor"}]


# Groups --------------------------------------------------------------------------------------------


def test_groups_count_live_accounts_and_last_while_any_account_is_in_them(vault):
    a = vault.add(spec("A", groups=("Work",)))
    vault.add(spec("B", groups=("Work", "Home")))
    vault.delete(a.uuid)
    assert [(group.name, group.count) for group in vault.groups()] == [("Home", 1), ("Work", 1)]


def test_renaming_a_group_onto_another_merges_them(vault):
    a = vault.add(spec("A", groups=("Work",)))
    b = vault.add(spec("B", groups=("Job", "Work")))
    vault.rename_group("Job", "work")
    assert [(group.name, group.count) for group in vault.groups()] == [("Work", 2)]
    assert [group.name for group in b.groups] == ["Work"] and (a.revision, b.revision) == (1, 2)
    vault.rename_group("Work", "Office")
    assert [group.name for group in vault.groups()] == ["Office"] and (a.revision, b.revision) == (2, 3)
    with pytest.raises(ValueError):
        vault.rename_group("Office", "   ")
    with pytest.raises(LookupError):
        vault.rename_group("Nothing", "Something")


def test_deleting_a_group_keeps_its_accounts(vault):
    a = vault.add(spec("A", groups=("Work", "Home")))
    vault.delete_group("Work")
    assert vault.accounts() == [a] and [group.name for group in a.groups] == ["Home"] and a.revision == 2
    assert events("group.delete") == [{"accounts": 1}]


# The user's order ----------------------------------------------------------------------------------


def test_moving_renumbers_the_order_and_changes_only_the_moved_account(vault):
    a, b, c = (vault.add(spec(issuer)) for issuer in "ABC")
    vault.move(c.uuid, a.uuid)
    assert issuers(vault.accounts()) == ["C", "A", "B"] and [x.position for x in (c, a, b)] == [1, 2, 3]
    assert (a.revision, b.revision, c.revision) == (1, 1, 2)
    vault.move(c.uuid, None)
    assert issuers(vault.accounts()) == ["A", "B", "C"]


def test_a_drop_below_the_last_row_shown_lands_there_not_at_the_end(vault):
    uuids = [vault.add(spec(f"S{n}")).uuid for n in range(6)]
    vault.move(uuids[0], None, uuids[3])
    order = [account.uuid for account in vault.accounts(ListQuery())]
    assert order == [uuids[1], uuids[2], uuids[3], uuids[0], uuids[4], uuids[5]]


# The list's query ----------------------------------------------------------------------------------


def test_a_query_object_cleans_what_it_is_given():
    query = ListQuery(text="  Git  hub ", group=" Work ", sort="sideways")
    assert (query.terms, query.group, query.sort, query.filtered) == (["git", "hub"], "Work", "manual", True)
    assert not ListQuery().filtered
    assert ListQuery(show=3).show == PAGE_SIZE and ListQuery(show=10**9).show == 10_000


def test_search_matches_every_word_in_issuer_name_note_or_group(vault):
    vault.add(spec("GitHub", name="alice@work"))
    vault.add(spec("Bank", note="joint account"))
    vault.add(spec("Mail", groups=("Work stuff",)))
    vault.add(spec("100%_sure"))

    def found(text: str, group: str = "") -> list[str]:
        return issuers(vault.accounts(ListQuery(text=text, group=group)))

    assert found("work") == ["GitHub", "Mail"]
    assert found("JOINT bank") == ["Bank"] and found("joint github") == []
    assert found("%") == ["100%_sure"] and found("_") == ["100%_sure"]  # literal, not wildcards
    assert found("", group="Work stuff") == ["Mail"] and found("git", group="Work stuff") == []


def test_the_orders_put_favorites_first(vault):
    zed = vault.add(spec("zed"))
    vault.add(spec("Alpha"))
    vault.add(spec("", name="mike"))  # no issuer: ordered by its name
    assert issuers(vault.accounts(ListQuery(sort="issuer"))) == ["Alpha", "", "zed"]
    vault.set_favorite(zed.uuid, True)
    assert issuers(vault.accounts(ListQuery(sort="issuer"))) == ["zed", "Alpha", ""]
    assert issuers(vault.accounts(ListQuery(sort="manual"))) == ["zed", "Alpha", ""]


def test_the_recently_used_order(vault, monkeypatch):
    _, b, c = (vault.add(spec(issuer)) for issuer in "ABC")
    moments = iter([datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC), datetime(2026, 1, 1, 12, 0, 1, tzinfo=UTC)])
    monkeypatch.setattr("webauth.vault.utcnow", lambda: next(moments))
    vault.mark_used(b.uuid)
    vault.mark_used(c.uuid)
    assert issuers(vault.accounts(ListQuery(sort="recent"))) == ["C", "B", "A"]


def test_a_page_of_the_list_and_whether_more_match(vault):
    for n in range(PAGE_SIZE + 3):
        vault.add(spec(f"S{n:03d}"))
    db.session.commit()
    first, more = vault.shown(ListQuery())
    assert len(first) == PAGE_SIZE and more
    rest, more = vault.shown(ListQuery(show=PAGE_SIZE * 2), start=PAGE_SIZE)
    assert issuers(rest) == ["S050", "S051", "S052"] and not more
    assert vault.count(ListQuery(text="s00")) == 10


def test_codes_preview_the_next_one_only_in_the_last_seconds(vault):
    account = vault.add(spec("GitHub"))
    boundary = 1_700_000_010.0  # a multiple of 30: a period starts there
    [early] = vault.codes([account], at=boundary + 1)
    [late] = vault.codes([account], at=boundary + 30 - PREVIEW_SECONDS + 1)
    assert early.next_code is None and early.remaining == pytest.approx(29)
    assert late.next_code is not None and late.next_code != late.code
    [counter] = vault.codes([vault.add(spec("Door", type=OtpType.HOTP))])
    assert counter.remaining is None and counter.next_code is None


def test_an_accounts_row_holds_what_the_api_and_the_cli_show_and_never_the_secret(vault):
    """One row for both (CodeView.as_row): the API gives an HOTP account's code, the CLI only its counter."""
    moment = 1_700_000_010.0 + 12
    totp = vault.add(spec("GitHub", note="laptop", groups=("Work",), favorite=True))
    hotp = vault.add(spec("Door", type=OtpType.HOTP, counter=5))
    timed, counted = vault.codes([totp, hotp], at=moment)
    common = {"algorithm": "SHA1", "digits": 6, "name": "alice"}
    assert timed.as_row(hotp_code=False) == timed.as_row(hotp_code=True) == {
        **common, "id": totp.uuid, "type": "totp", "issuer": "GitHub", "groups": ["Work"], "favorite": True,
        "note": "laptop", "period": 30, "code": code_at(OtpParams(OtpType.TOTP, SECRET + b"GitHub"), moment),
        "remaining": 18.0,
    }
    for_the_cli = {
        **common, "id": hotp.uuid, "type": "hotp", "issuer": "Door", "groups": [], "favorite": False, "note": "",
        "counter": 5,
    }
    assert counted.as_row(hotp_code=False) == for_the_cli
    assert counted.as_row(hotp_code=True) == {**for_the_cli, "code": counted.code}
    assert counted.code is not None and counted.code.isdigit()
    assert list(timed.as_row(hotp_code=False)) == [
        "id", "type", "issuer", "name", "algorithm", "digits", "groups", "favorite", "note", "period", "code",
        "remaining",
    ]  # the CLI's --json prints the keys in this order

def test_the_list_refreshes_at_the_next_boundary_or_preview():
    assert next_refresh_ms_of([30], at=100.0) == 10_050  # 20 s to the boundary, the preview at 10 s
    assert next_refresh_ms_of([30, 60], at=115.0) == 5_050
    assert next_refresh_ms_of([], at=0.0) is None


START = 1_800_000_000  # a multiple of 30 and 60


@pytest.mark.parametrize(
    ("since", "now", "expected"),
    [
        (START + 1, START + 5.0, None),  # the same codes, no preview yet
        (START + 1, START + 20.05, (False, True, False)),  # the preview starts: next codes only
        (START + 20, START + 25.0, None),  # the preview is already on the page
        (START + 25, START + 30.05, (True, False, True)),  # a boundary: new codes, the previews go
        (START + 5, START + 50.0, (True, True, False)),  # a boundary missed, in the next preview: both
        (START - 3600, START + 1.0, (True, False, True)),  # a page asleep for an hour
        (None, START + 1.0, (True, False, True)),  # a page that does not say
        (None, START + 21.0, (True, True, False)),
    ],
)
def test_the_clock_sends_what_changed_in_a_period_since_the_page_was_drawn(since, now, expected):
    change = period_change(30, since, now)
    assert (change and (change.codes, change.previews, change.clears)) == expected


def test_a_clock_that_missed_a_change_asks_at_once():
    assert make_clock([30], START + 5.0).refresh_ms == 15_050
    assert make_clock([30], START + 5.0, shown_at=START + 1).refresh_ms == 15_050
    assert make_clock([30, 60], START + 31.0, shown_at=START + 29).refresh_ms == 0  # 30 s codes changed
    assert make_clock([60], START + 31.0, shown_at=START + 29).refresh_ms == 19_050  # 60 s codes did not
    assert make_clock([30, 60], START + 31.0).seconds_left() == [(30, 29), (60, 29)]
    assert make_clock([], START).refresh_ms is None


def test_the_clocks_codes_are_the_vaults_and_only_for_the_periods_that_changed(vault, frozen_clock):
    half = vault.add(spec("Half"))
    whole = vault.add(spec("Whole", period=60))
    steam = vault.add(spec("Steam", type=OtpType.STEAM))
    vault.add(spec("Counter", type=OtpType.HOTP))
    db.session.commit()
    frozen_clock.set(START + 30.5)
    state, rows = vault.clock_rows(ListQuery())
    assert state == vault.list_state(ListQuery())  # the same signature as the page's
    assert sorted(row.uuid for row in rows) == sorted([half.uuid, whole.uuid, steam.uuid])  # no counter
    tick = vault.clock_tick(rows, since=START + 25)
    expected = {account.id: code_at(vault.params(account), START + 30.5) for account in (half, steam)}
    assert dict(tick.codes) == expected and tick.previews == [] and tick.cleared == [30]
    assert tick.clock.periods == (30, 60) and tick.clock.shown_at == START + 30
    frozen_clock.set(START + 50.5)
    tick = vault.clock_tick(rows, since=START + 31)  # both periods end in 9.5 s: next codes, for all
    accounts = (half, whole, steam)
    assert tick.codes == [] and tick.cleared == []
    assert dict(tick.previews) == {account.id: code_at(vault.params(account), START + 60) for account in accounts}


# The list's state ----------------------------------------------------------------------------------

CHANGES = {
    "added": lambda vault, ids: vault.add(spec("New")),
    "deleted": lambda vault, ids: vault.delete(ids["A"]),
    "restored": lambda vault, ids: vault.restore(ids["T"]),
    "edited": lambda vault, ids: vault.update(ids["A"], spec("Renamed")),
    "moved": lambda vault, ids: vault.move(ids["B"], ids["A"]),
    "hotp advanced": lambda vault, ids: vault.advance_hotp(ids["H"]),
    "favorite": lambda vault, ids: vault.set_favorite(ids["B"], True),
    "group renamed": lambda vault, ids: vault.rename_group("Work", "Office"),
}


@pytest.fixture
def listed(vault) -> dict[str, str]:
    ids = {name: vault.add(spec(name, groups=("Work",))).uuid for name in "AB"}
    ids["H"] = vault.add(spec("H", type=OtpType.HOTP)).uuid
    ids["T"] = vault.add(spec("T")).uuid
    vault.delete(ids["T"])
    return ids


@pytest.mark.parametrize("change", CHANGES)
def test_every_change_of_the_list_changes_its_signature(vault, listed, change):
    before = vault.list_state(ListQuery())
    CHANGES[change](vault, listed)
    after = vault.list_state(ListQuery())
    assert after.signature != before.signature


def test_the_state_counts_live_accounts_and_ignores_a_code_used_unless_ordered_by_use(vault, listed):
    manual, recent = vault.list_state(ListQuery()), vault.list_state(ListQuery(sort="recent"))
    assert manual.live == 3
    vault.mark_used(listed["A"])
    assert vault.list_state(ListQuery()) == manual
    assert vault.list_state(ListQuery(sort="recent")).signature != recent.signature


# Sealed data of the user ---------------------------------------------------------------------------


def test_a_blob_opens_only_for_its_user_and_purpose(vault, bobs_vault):
    sealed = vault.seal_blob("casdoor:base", b"[]")
    assert vault.open_blob("casdoor:base", sealed) == b"[]"
    with pytest.raises(DecryptionError):
        vault.open_blob("casdoor:pending", sealed)
    with pytest.raises(DecryptionError):
        bobs_vault.open_blob("casdoor:base", sealed)


# mOTP and Yandex: the PIN ---------------------------------------------------------------------------

MOTP = AccountSpec("VPN", "alice", OtpParams(OtpType.MOTP, bytes.fromhex("e3152afee62599c8"), pin="1234"))


def test_the_pin_is_sealed_apart_from_the_secret(vault):
    account = vault.add(MOTP)
    stored = db.session.get(Account, account.id)
    assert b"1234" not in stored.pin_sealed and vault.params(stored).pin == "1234"
    # Each opens only in its own place: a PIN cannot be passed off as the secret, nor the reverse.
    swapped = Account(uuid=stored.uuid, type=stored.type, secret_sealed=stored.pin_sealed, pin_sealed=None,
                      algorithm=stored.algorithm, digits=stored.digits, period=stored.period, counter=0)
    with pytest.raises(DecryptionError):
        vault.params(swapped)
    assert events("account.add") == [{"account": account.uuid, "source": "manual"}]
    assert db.session.get(Account, vault.add(spec("GitHub")).id).pin_sealed is None


def test_an_account_without_the_pin_its_codes_need_is_not_stored(vault):
    without = AccountSpec("VPN", "alice", OtpParams(OtpType.MOTP, bytes.fromhex("e3152afee62599c8")))
    with pytest.raises(InvalidParameter) as error:
        vault.add(without)
    assert error.value.field == "pin" and vault.accounts() == []
    account = vault.add(MOTP)
    with pytest.raises(InvalidParameter):
        vault.update(account.uuid, without)
    assert vault.spec(account).params.pin == "1234" and account.revision == 1


def test_a_new_pin_bumps_the_revision_and_is_audited_by_name(vault):
    account = vault.add(MOTP)
    vault.update(account.uuid, replace(MOTP, params=replace(MOTP.params, pin="9876")))
    assert vault.spec(account).params.pin == "9876" and account.revision == 2
    assert events("account.edit") == [{"account": account.uuid, "fields": ["pin"], "source": "edit"}]
    # Another type keeps no PIN.
    vault.update(account.uuid, AccountSpec("VPN", "alice", OtpParams(OtpType.TOTP, b"12345678901234567890")))
    assert db.session.get(Account, account.id).pin_sealed is None and vault.spec(account).params.pin is None


def test_the_pin_is_revealed_and_audited_only_where_there_is_one(vault):
    account = vault.add(MOTP)
    assert vault.reveal(account.uuid, "pin").params.pin == "1234"
    totp = vault.add(spec("GitHub"))
    with pytest.raises(AccountNotFound):
        vault.reveal(totp.uuid, "pin")
    assert events("account.reveal") == [{"account": account.uuid, "what": "pin"}]


def test_the_clocks_codes_of_pin_accounts_come_from_their_pin(vault, frozen_clock):
    """The list's clock computes from stored columns: for mOTP and Yandex it opens the PIN too
    (Aegis's vectors)."""
    motp = vault.add(MOTP)
    yandex_secret = base64.b32decode("LA2V6KMCGYMWWVEW64RNP3JA3IAAAAAAHTSG4HRZPI======")
    yandex = vault.add(AccountSpec("Yandex", "me", OtpParams(OtpType.YANDEX, yandex_secret, pin="7586")))
    db.session.commit()
    for account, at, code in ((motp, 165892298, "e7d8b6"), (yandex, 1581064020, "oactmacq")):
        frozen_clock.set(at)
        _state, rows = vault.clock_rows(ListQuery())
        assert dict(vault.clock_tick(rows, since=None).codes)[account.id] == code
