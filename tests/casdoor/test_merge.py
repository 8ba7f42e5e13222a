"""The three-way merge: a table of scenarios, and properties checked by hypothesis."""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webauth.casdoor.merge import (
    KeptBoth,
    LocalAccount,
    LocalAddition,
    LocalUpdate,
    SyncPlan,
    Why,
    merge,
)

HERE = "webauth-install-1"
S1, S2, S3, S4 = "JBSWY3DPEHPK3PXP", "KRSXG5CTMVRXEZLU", "MFRGGZDFMZTWQ2LK", "GEZDGNBVGY3TQOJQ"
LONG_SECRET = base64.b32encode(bytes(range(64))).decode().rstrip("=")  # 103 characters


def entry(name: str, secret: str, issuer: str = "GitHub", origin: str = "phone", **extra: Any) -> dict[str, Any]:
    return {"accountName": name, "issuer": issuer, "secretKey": secret, "origin": origin, **extra}


def account(local_id: str, name: str, secret: str, issuer: str = "GitHub", **params: Any) -> LocalAccount:
    return LocalAccount(local_id, issuer, name, secret, **params)


def secret_bytes(text: str) -> bytes:
    cleaned = text.replace(" ", "").upper()
    return base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))


@dataclass
class Applied:
    """A vault after a plan: live accounts, and (issuer, name, secret) of what went to the trash."""

    live: list[LocalAccount]
    trash: list[tuple[str, str, bytes]] = field(default_factory=list)


def apply(local: list[LocalAccount], plan: SyncPlan) -> Applied:
    """Apply a plan the way the module docstring tells the sync service to."""
    by_id = {a.id: a for a in local}
    trash: list[tuple[str, str, bytes]] = []
    for update in plan.updates:
        old = by_id[update.local_id]
        if update.trash_previous:
            trash.append((old.issuer, old.name, secret_bytes(old.secret)))
        by_id[update.local_id] = replace(old, issuer=update.issuer, name=update.name, secret=update.secret)
    for local_id in plan.trash:
        gone = by_id.pop(local_id)
        trash.append((gone.issuer, gone.name, secret_bytes(gone.secret)))
    for number, added in enumerate(plan.additions):
        new_id = f"new-{len(by_id)}-{number}"
        by_id[new_id] = LocalAccount(new_id, added.issuer, added.name, added.secret)
    for copy in plan.trash_copies:
        triple = (copy.issuer, copy.name, secret_bytes(copy.secret))
        if triple not in trash:
            trash.append(triple)
    return Applied(list(by_id.values()), trash)


def assert_settled(local: list[LocalAccount], plan: SyncPlan) -> None:
    """After applying, a second merge (base = what was pushed) changes nothing."""
    applied = apply(local, plan)
    again = merge(list(plan.remote), applied.live, list(plan.remote), origin=HERE)
    assert not again.changes_local, again
    assert not again.remote_changed
    assert list(again.remote) == list(plan.remote)


@dataclass(frozen=True)
class Scenario:
    name: str
    base: list[Any]
    local: list[LocalAccount]
    remote: list[Any]
    pushed: list[Any]
    additions: tuple[LocalAddition, ...] = ()
    updates: tuple[LocalUpdate, ...] = ()
    trash: tuple[str, ...] = ()
    trash_copies: tuple[LocalAddition, ...] = ()
    kept_both: tuple[KeptBoth, ...] = ()
    flagged: tuple[str, ...] = ()
    local_only: tuple[str, ...] = ()
    local_only_type: tuple[str, ...] = ()
    passthrough: tuple[Any, ...] = ()


A = entry("alice", S1)
A_HERE = entry("alice", S1, origin=HERE)

SCENARIOS = [
    Scenario("nothing changed", base=[A], local=[account("1", "alice", S1)], remote=[A], pushed=[A]),
    Scenario("first sync, only local", base=[], local=[account("1", "alice", S1)], remote=[], pushed=[A_HERE]),
    Scenario(
        "first sync, only remote",
        base=[],
        local=[],
        remote=[A],
        pushed=[A],
        additions=(LocalAddition("GitHub", "alice", S1, "phone", Why.ADDED_REMOTELY),),
    ),
    Scenario("first sync, the same on both", base=[], local=[account("1", "alice", S1)], remote=[A], pushed=[A]),
    Scenario(
        "added locally",
        base=[A],
        local=[account("1", "alice", S1), account("2", "bob", S2, issuer="Google")],
        remote=[A],
        pushed=[A, entry("bob", S2, issuer="Google", origin=HERE)],
    ),
    Scenario(
        "added remotely",
        base=[A],
        local=[account("1", "alice", S1)],
        remote=[A, entry("bob", S2)],
        pushed=[A, entry("bob", S2)],
        additions=(LocalAddition("GitHub", "bob", S2, "phone", Why.ADDED_REMOTELY),),
    ),
    Scenario(
        "edited locally",
        base=[A],
        local=[account("1", "alice", S2)],
        remote=[A],
        pushed=[entry("alice", S2)],
        trash_copies=(LocalAddition("GitHub", "alice", S1, "phone", Why.REPLACED_IN_CASDOOR),),
    ),
    Scenario(
        "edited remotely",
        base=[A],
        local=[account("1", "alice", S1)],
        remote=[entry("alice", S2)],
        pushed=[entry("alice", S2)],
        updates=(LocalUpdate("1", "GitHub", "alice", S2, True, Why.CHANGED_REMOTELY),),
    ),
    Scenario(
        "deleted remotely, unchanged locally",
        base=[A],
        local=[account("1", "alice", S1)],
        remote=[],
        pushed=[],
        trash=("1",),
    ),
    Scenario(
        "deleted locally, unchanged remotely",
        base=[A],
        local=[],
        remote=[A],
        pushed=[],
        trash_copies=(LocalAddition("GitHub", "alice", S1, "phone", Why.REMOVED_FROM_CASDOOR),),
    ),
    Scenario(
        "deleted remotely while edited locally: the edit wins, with its origin",
        base=[A],
        local=[account("1", "alice", S2)],
        remote=[],
        pushed=[entry("alice", S2, origin="phone")],
    ),
    Scenario(
        "deleted locally while edited remotely: the edit comes back",
        base=[A],
        local=[],
        remote=[entry("alice", S2)],
        pushed=[entry("alice", S2)],
        additions=(LocalAddition("GitHub", "alice", S2, "phone", Why.EDITED_REMOTELY_AFTER_LOCAL_DELETE),),
    ),
    Scenario(
        "the same edit on both sides",
        base=[A],
        local=[account("1", "alice", S2)],
        remote=[entry("alice", S2)],
        pushed=[entry("alice", S2)],
    ),
    Scenario(
        "different edits on both sides: keep both",
        base=[A],
        local=[account("1", "alice", S2)],
        remote=[entry("alice", S3)],
        pushed=[entry("alice", S3), entry("alice (conflict)", S2, origin=HERE)],
        additions=(LocalAddition("GitHub", "alice", S3, "phone", Why.CONFLICT),),
        updates=(LocalUpdate("1", "GitHub", "alice (conflict)", S2, False, Why.CONFLICT),),
        kept_both=(KeptBoth("1", "GitHub", "alice", "alice (conflict)"),),
    ),
    Scenario(
        "added on both sides with different secrets: keep both",
        base=[],
        local=[account("1", "alice", S2)],
        remote=[A],
        pushed=[A, entry("alice (conflict)", S2, origin=HERE)],
        additions=(LocalAddition("GitHub", "alice", S1, "phone", Why.CONFLICT),),
        updates=(LocalUpdate("1", "GitHub", "alice (conflict)", S2, False, Why.CONFLICT),),
        kept_both=(KeptBoth("1", "GitHub", "alice", "alice (conflict)"),),
    ),
    Scenario("deleted on both sides", base=[A], local=[], remote=[], pushed=[]),
    Scenario(
        "the conflict name is taken already",
        base=[A, entry("alice (conflict)", S4)],
        local=[account("1", "alice", S2), account("2", "alice (conflict)", S4)],
        remote=[entry("alice", S3), entry("alice (conflict)", S4)],
        pushed=[entry("alice", S3), entry("alice (conflict)", S4), entry("alice (conflict 2)", S2, origin=HERE)],
        additions=(LocalAddition("GitHub", "alice", S3, "phone", Why.CONFLICT),),
        updates=(LocalUpdate("1", "GitHub", "alice (conflict 2)", S2, False, Why.CONFLICT),),
        kept_both=(KeptBoth("1", "GitHub", "alice", "alice (conflict 2)"),),
    ),
    Scenario(
        "a conflict name stays within 100 characters",
        base=[entry("x" * 100, S1)],
        local=[account("1", "x" * 100, S2)],
        remote=[entry("x" * 100, S3)],
        pushed=[entry("x" * 100, S3), entry("x" * 89 + " (conflict)", S2, origin=HERE)],
        additions=(LocalAddition("GitHub", "x" * 100, S3, "phone", Why.CONFLICT),),
        updates=(LocalUpdate("1", "GitHub", "x" * 89 + " (conflict)", S2, False, Why.CONFLICT),),
        kept_both=(KeptBoth("1", "GitHub", "x" * 100, "x" * 89 + " (conflict)"),),
    ),
    Scenario(
        "remote duplicates of one account collapse",
        base=[A],
        local=[account("1", "alice", S1)],
        remote=[A, entry("alice", S1, origin="tablet")],
        pushed=[A],
    ),
    Scenario(
        "remote duplicates with different secrets are told apart, the base one keeps the name",
        base=[A],
        local=[account("1", "alice", S1)],
        remote=[entry("alice", S2, origin="tablet"), A],
        pushed=[entry("alice (conflict)", S2, origin="tablet"), A],
        additions=(LocalAddition("GitHub", "alice (conflict)", S2, "tablet", Why.DUPLICATE),),
    ),
    Scenario(
        "local duplicates are told apart",
        base=[],
        local=[account("1", "alice", S1), account("2", "alice", S2)],
        remote=[],
        pushed=[A_HERE, entry("alice (conflict)", S2, origin=HERE)],
        updates=(LocalUpdate("2", "GitHub", "alice (conflict)", S2, False, Why.DUPLICATE),),
    ),
    Scenario(
        "origin and unknown fields of untouched entries are kept",
        base=[entry("alice", S1, origin="phone", colour="blue")],
        local=[account("1", "alice", S1), account("2", "carol", S3)],
        remote=[entry("alice", S1, origin="phone", colour="blue")],
        pushed=[entry("alice", S1, origin="phone", colour="blue"), entry("carol", S3, origin=HERE)],
    ),
    Scenario(
        "a local edit keeps the remote entry's other fields",
        base=[entry("alice", S1, origin="phone", colour="blue")],
        local=[account("1", "alice", S2)],
        remote=[entry("alice", S1, origin="phone", colour="blue")],
        pushed=[entry("alice", S2, origin="phone", colour="blue")],
        trash_copies=(LocalAddition("GitHub", "alice", S1, "phone", Why.REPLACED_IN_CASDOOR),),
    ),
    Scenario(
        "secrets compare as bytes, not as text",
        base=[entry("alice", "jbsw y3dp ehpk 3pxp")],
        local=[account("1", "alice", S1)],
        remote=[entry("alice", "jbsw y3dp ehpk 3pxp")],
        pushed=[entry("alice", "jbsw y3dp ehpk 3pxp")],
    ),
    Scenario(
        "entries this app cannot read pass through untouched",
        base=[],
        local=[],
        remote=[
            "junk",
            {"accountName": 5},
            entry("bad", "not base32!"),
            entry(" padded ", S1),
            entry("", S1, issuer=""),
        ],
        pushed=[
            "junk",
            {"accountName": 5},
            entry("bad", "not base32!"),
            entry(" padded ", S1),
            entry("", S1, issuer=""),
        ],
        passthrough=(
            "junk",
            {"accountName": 5},
            entry("bad", "not base32!"),
            entry(" padded ", S1),
            entry("", S1, issuer=""),
        ),
    ),
    Scenario(
        "remote entries longer than Casdoor's 100 characters pass through",
        base=[],
        local=[],
        remote=[entry("y" * 101, S1)],
        pushed=[entry("y" * 101, S1)],
        passthrough=(entry("y" * 101, S1),),
    ),
    Scenario(
        "parameters Casdoor cannot hold: synced by secret and flagged",
        base=[],
        local=[
            account("h", "counter", S1, otp_type="hotp"),
            account("a", "sha256", S2, algorithm="SHA256"),
            account("d", "eight", S3, digits=8),
            account("p", "minute", S4, period=60),
        ],
        remote=[],
        pushed=[
            entry("counter", S1, origin=HERE),
            entry("sha256", S2, origin=HERE),
            entry("eight", S3, origin=HERE),
            entry("minute", S4, origin=HERE),
        ],
        flagged=("h", "a", "d", "p"),
    ),
    Scenario(
        "a flagged account edited remotely keeps its parameters locally",
        base=[entry("counter", S1)],
        local=[account("h", "counter", S1, otp_type="hotp")],
        remote=[entry("counter", S2)],
        pushed=[entry("counter", S2)],
        updates=(LocalUpdate("h", "GitHub", "counter", S2, True, Why.CHANGED_REMOTELY),),
        flagged=("h",),
    ),
    Scenario(
        "too long for Casdoor: local only, and the remote entry with its key is left alone",
        base=[],
        local=[account("1", "alice", LONG_SECRET), account("2", "n" * 101, S2)],
        remote=[entry("alice", S3)],
        pushed=[entry("alice", S3)],
        local_only=("1", "2"),
        passthrough=(entry("alice", S3),),
    ),
    Scenario(
        "mOTP and Yandex stay local, and a remote entry with their key is left alone",
        base=[],
        local=[
            account("m", "alice", S1, otp_type="motp"),
            account("y", "me", LONG_SECRET, issuer="Yandex", otp_type="yandex"),
            account("t", "bob", S2),
        ],
        remote=[entry("alice", S3)],
        pushed=[entry("alice", S3), entry("bob", S2, origin=HERE)],
        local_only=("y",),  # too long as well: the reason Casdoor could not take it either way
        local_only_type=("m",),
        passthrough=(entry("alice", S3),),
    ),
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_scenario(scenario: Scenario) -> None:
    plan = merge(scenario.base, scenario.local, scenario.remote, origin=HERE)
    assert list(plan.remote) == scenario.pushed
    assert plan.remote_changed == (scenario.pushed != scenario.remote)
    assert plan.additions == scenario.additions
    assert plan.updates == scenario.updates
    assert plan.trash == scenario.trash
    assert plan.trash_copies == scenario.trash_copies
    assert plan.kept_both == scenario.kept_both
    assert plan.flagged == scenario.flagged
    assert plan.local_only == scenario.local_only
    assert plan.local_only_type == scenario.local_only_type
    assert plan.passthrough == scenario.passthrough
    assert_settled(scenario.local, plan)


def test_a_noop_plan_says_so() -> None:
    plan = merge([A], [account("1", "alice", S1)], [A], origin=HERE)
    assert not plan.changes_local and not plan.remote_changed


def test_inputs_are_not_modified() -> None:
    base, remote = [entry("alice", S1)], [entry("alice", S2), entry("bob", S3)]
    local = [account("1", "alice", S4)]
    snapshot = (repr(base), repr(remote), repr(local))
    plan = merge(base, local, remote, origin=HERE)
    plan.remote[0]["accountName"] = "changed"
    assert (repr(base), repr(remote), repr(local)) == snapshot


# ---------------------------------------------------------------- properties

KEYS = [("GitHub", "alice"), ("GitHub", "bob"), ("Google", "alice"), ("", "carol")]
SECRETS = [S1, S2, S3, S4]
JUNK: list[Any] = ["junk", {"accountName": 5, "issuer": "x", "secretKey": S1}, entry("bad", "not base32!")]

secrets = st.sampled_from(SECRETS)
keys = st.sampled_from(KEYS)


def spelled(secret: str) -> st.SearchStrategy[str]:
    """The same secret as Casdoor may hold it: as is, lower case, or grouped with spaces."""
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)).lower()
    return st.sampled_from([secret, secret.lower(), grouped])


@st.composite
def remote_entries(draw: st.DrawFn) -> dict[str, Any]:
    issuer, name = draw(keys)
    return entry(name, draw(secrets.flatmap(spelled)), issuer=issuer, origin=draw(st.sampled_from(["phone", "tablet"])))


@st.composite
def evolved(draw: st.DrawFn, base: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One side's list after a history from `base`: each entry kept, edited or deleted; some added."""
    result = []
    for item in base:
        fate = draw(st.sampled_from(["keep", "keep", "edit", "delete"]))
        if fate == "keep":
            result.append(dict(item))
        elif fate == "edit":
            result.append({**item, "secretKey": draw(secrets)})
    result += draw(st.lists(remote_entries(), max_size=3))
    return draw(st.permutations(result))


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[Any], list[LocalAccount], list[Any]]:
    base = draw(st.lists(remote_entries(), max_size=4))
    local_entries = draw(evolved(base))
    local = []
    for number, item in enumerate(local_entries):
        params = draw(st.sampled_from([{}, {}, {}, {"otp_type": "hotp"}, {"digits": 8}]))
        local.append(LocalAccount(f"id-{number}", item["issuer"], item["accountName"], item["secretKey"], **params))
    remote = draw(evolved(base))
    remote += draw(st.lists(st.sampled_from(JUNK), max_size=2))
    return base, local, draw(st.permutations(remote))


def readable(item: Any) -> tuple[str, str, bytes] | None:
    if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in ("issuer", "accountName")):
        return None
    try:
        return item["issuer"], item["accountName"], secret_bytes(item["secretKey"])
    except (binascii.Error, ValueError, AttributeError):
        return None


@settings(
    max_examples=min(300, int(os.environ.get("WEBAUTH_FUZZ_EXAMPLES", 300))),  # capped by `make mutation`
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(scenarios())
def test_no_account_is_ever_lost_and_both_sides_agree(case: tuple[list[Any], list[LocalAccount], list[Any]]) -> None:
    base, local, remote = case
    plan = merge(base, local, remote, origin=HERE)
    applied = apply(local, plan)

    live = {(a.issuer, a.name, secret_bytes(a.secret)) for a in applied.live}
    pushed = [readable(item) for item in plan.remote]
    before = {secret_bytes(a.secret) for a in local} | {t[2] for t in map(readable, remote) if t is not None}
    after = {t[2] for t in live} | {t[2] for t in applied.trash} | {t[2] for t in pushed if t is not None}
    assert before <= after, "a secret was lost"

    assert live == {t for t in pushed if t is not None}, "local and the pushed list disagree"
    assert len(applied.live) == len(live) == sum(t is not None for t in pushed), "duplicates survived"
    assert len({(a.issuer, a.name) for a in applied.live}) == len(applied.live)
    assert [item for item in plan.remote if readable(item) is None] == [i for i in remote if readable(i) is None]

    ids = {a.id for a in local}
    assert set(plan.trash) <= ids and {u.local_id for u in plan.updates} <= ids
    assert not set(plan.trash) & {u.local_id for u in plan.updates}
    assert set(plan.flagged) == {a.id for a in applied.live if a.id in ids and not a.casdoor_holds_parameters}
    assert_settled(local, plan)


# The edges, pinned by mutation testing (`make mutation`) ------------------------------------


def test_the_base_decides_which_local_duplicate_keeps_the_name() -> None:
    base = [entry("alice", S1)]
    local = [account("other", "alice", S2), account("synced", "alice", S1)]
    plan = merge(base, local, [entry("alice", S1)], origin=HERE)
    [renamed] = plan.updates
    assert (renamed.local_id, renamed.name, renamed.why) == ("other", "alice (conflict)", Why.DUPLICATE)


def test_the_base_then_the_local_secret_decide_which_remote_duplicate_is_kept() -> None:
    by_base = merge([entry("alice", S1)], [], [entry("alice", S2), entry("alice", S1)], origin=HERE)
    assert [(a.name, a.secret, a.why) for a in by_base.additions] == [("alice (conflict)", S2, Why.DUPLICATE)]
    by_local = merge([], [account("a", "alice", S1)], [entry("alice", S2), entry("alice", S1)], origin=HERE)
    assert [(a.name, a.secret) for a in by_local.additions] == [("alice (conflict)", S2)]
    assert not by_local.updates


def test_a_name_casdoor_holds_unread_is_not_given_to_a_renamed_account() -> None:
    unreadable = entry("alice (conflict)", "not base32!")
    plan = merge([], [account("a", "alice", S1), account("b", "alice", S2)], [unreadable], origin=HERE)
    assert [update.name for update in plan.updates] == ["alice (conflict 2)"]
    assert plan.passthrough == (unreadable,)


def test_fields_casdoor_cannot_hold_and_missing_fields() -> None:
    long_issuer = entry("alice", S1, issuer="i" * 101)
    long_secret = entry("bob", S1 + "A" * (101 - len(S1)))
    no_issuer = {"accountName": "carol", "secretKey": S3}
    plan = merge([], [account("far", "dave", S4, issuer="i" * 101)], [long_issuer, long_secret, no_issuer], origin=HERE)
    assert plan.passthrough == (long_issuer, long_secret)
    assert plan.local_only == ("far",)
    assert [(a.issuer, a.name) for a in plan.additions] == [("", "carol")]


def test_a_deleted_remote_entry_edited_here_goes_back_with_its_own_origin() -> None:
    base = [entry("alice", S1, origin="laptop"), entry("bob", S2, origin="tablet")]
    plan = merge(
        base, [account("a", "alice", S1), account("b", "bob", S3)], [entry("alice", S1, origin="laptop")], origin=HERE
    )
    assert [raw for raw in plan.remote if raw["accountName"] == "bob"] == [entry("bob", S3, origin="tablet")]
