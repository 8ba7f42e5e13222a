"""The three-way merge of a user's vault with the `mfaAccounts` list of their Casdoor user.

Pure: lists in, a `SyncPlan` out, no I/O. Entries are matched by (issuer, accountName);
what an entry holds beyond its key is its secret, compared as bytes (so "jbsw y3dp" and
"JBSWY3DP" are the same secret). The three inputs:

- `base`: the `mfaAccounts` list as it stood after the last successful sync (empty before
  the first one). After pushing `plan.remote` and reading it back, store what was read as
  the next base.
- `local`: the vault's live, syncable accounts, each with a stable id.
- `remote`: the `mfaAccounts` list Casdoor holds now.

Per key, with B, L, R the base, local and remote secrets (or absent):

=================  ==================================================================
added on one side  added on the other
removed remotely   L == B: move the local account to the trash; L edited: push it back
removed locally    R == B: remove it remotely; R edited: add the edited one back locally
edited on one side take the edit to the other side
edited on both     the same edit: nothing; different: keep both (the local version is
                   renamed "name (conflict)" on both sides, the remote keeps the name)
=================  ==================================================================

Nothing is dropped silently: a secret this sync replaces or removes on either side stays
recoverable in the local trash (`LocalUpdate.trash_previous`, `trash`, `trash_copies`).
Duplicate keys on one side are told apart by renaming all but one of them. Remote entries
this app cannot read, or whose key belongs to a local account Casdoor cannot hold, pass
through untouched, every field of them kept; entries created here carry `origin`.

Accounts whose parameters Casdoor cannot hold (HOTP, Steam, not SHA1, not 6 digits, not
30 s) still sync by secret and are listed in `flagged`. Accounts whose issuer, name or
secret is longer than Casdoor's 100 characters do not sync at all (`local_only`), nor do
mOTP and Yandex accounts (`local_only_type`): Casdoor's app would make TOTP codes of their
secret, and their PIN has no place there.

Applying a plan (the sync service does it in one transaction): add `additions`; apply
`updates` (new issuer, name and secret; keep every other field; when `trash_previous`,
first keep a trashed copy of the account as it was); move `trash` ids to the trash;
create `trash_copies` as trashed accounts unless an identical one (same issuer, name and
secret) is already in the trash; push `remote` if `remote_changed`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from webauth.otp import PIN_TYPES, Algorithm, InvalidParameter, OtpParams, OtpType
from webauth.otpauth import AccountSpec, decode_secret, encode_secret

CASDOOR_FIELD_LIMIT = 100
CONFLICT_SUFFIX = "conflict"

Key = tuple[str, str]
_T = TypeVar("_T")


class Why(StrEnum):
    """Why the plan touches a local account; fit for the audit log and the sync report."""

    ADDED_REMOTELY = "added in Casdoor"
    CHANGED_REMOTELY = "changed in Casdoor"
    EDITED_REMOTELY_AFTER_LOCAL_DELETE = "deleted here but changed in Casdoor"
    REMOVED_REMOTELY = "deleted in Casdoor"
    CONFLICT = "changed here and in Casdoor"
    DUPLICATE = "two accounts with the same issuer and name"
    REPLACED_IN_CASDOOR = "replaced in Casdoor by this sync"
    REMOVED_FROM_CASDOOR = "removed from Casdoor by this sync"


@dataclass(frozen=True)
class LocalAccount:
    """A live vault account that takes part in sync; `secret` is base32."""

    id: str
    issuer: str
    name: str
    secret: str
    otp_type: str = OtpType.TOTP
    algorithm: str = Algorithm.SHA1
    digits: int = 6
    period: int = 30

    @property
    def key(self) -> Key:
        return (self.issuer, self.name)

    @property
    def casdoor_holds_type(self) -> bool:
        """Whether Casdoor's entry can stand for this account at all (its codes come from the secret alone)."""
        return self.otp_type not in PIN_TYPES

    @property
    def casdoor_holds_parameters(self) -> bool:
        """Whether Casdoor's entry (secret only: TOTP, SHA1, 6 digits, 30 s) describes it fully."""
        return (self.otp_type, self.algorithm, self.digits, self.period) == (OtpType.TOTP, Algorithm.SHA1, 6, 30)


@dataclass(frozen=True)
class LocalAddition:
    """A new TOTP account (SHA1, 6 digits, 30 s) to create in the vault, or in its trash."""

    issuer: str
    name: str
    secret: str
    origin: str
    why: Why


@dataclass(frozen=True)
class LocalUpdate:
    """New issuer, name and secret for a vault account; its other fields stay."""

    local_id: str
    issuer: str
    name: str
    secret: str
    trash_previous: bool
    why: Why


@dataclass(frozen=True)
class KeptBoth:
    """A conflict resolved by keeping both versions, for telling the user."""

    local_id: str
    issuer: str
    name: str
    renamed_to: str


@dataclass(frozen=True)
class SyncPlan:
    """What to change locally, and the list to push; see the module docstring to apply it."""

    additions: tuple[LocalAddition, ...]
    updates: tuple[LocalUpdate, ...]
    trash: tuple[str, ...]
    trash_copies: tuple[LocalAddition, ...]
    kept_both: tuple[KeptBoth, ...]
    flagged: tuple[str, ...]
    local_only: tuple[str, ...]
    local_only_type: tuple[str, ...]
    passthrough: tuple[Any, ...]
    remote: tuple[Any, ...]
    remote_changed: bool

    @property
    def changes_local(self) -> bool:
        return bool(self.additions or self.updates or self.trash or self.trash_copies)


@dataclass(frozen=True)
class _Entry:
    """A readable remote (or base) entry; `raw` is the dict as Casdoor sent it."""

    issuer: str
    name: str
    secret: bytes
    raw: Mapping[str, Any]

    @property
    def key(self) -> Key:
        return (self.issuer, self.name)

    @property
    def origin(self) -> str:
        origin = self.raw.get("origin", "")
        return origin if isinstance(origin, str) else ""


def _fits_casdoor(*texts: str) -> bool:
    return all(len(text) <= CASDOOR_FIELD_LIMIT for text in texts)


def _read_entry(raw: Any) -> _Entry | None:
    """The entry if this app can hold it exactly as Casdoor has it, else None."""
    if not isinstance(raw, Mapping):
        return None
    issuer, name, secret_text = (raw.get(field, "") for field in ("issuer", "accountName", "secretKey"))
    if not all(isinstance(text, str) for text in (issuer, name, secret_text)):
        return None
    if not _fits_casdoor(issuer, name, secret_text):
        return None
    try:
        secret = decode_secret(secret_text)
        spec = AccountSpec(issuer=issuer, name=name, params=OtpParams(type=OtpType.TOTP, secret=secret))
    except InvalidParameter:
        return None
    if (spec.issuer, spec.name) != (issuer, name):
        return None  # the vault would store it under another key, and the next sync would not match it
    return _Entry(issuer, name, secret, raw)


def _pick(candidates: Sequence[_T], secret_of: Callable[[_T], bytes], *preferred: bytes | None) -> _T:
    """The candidate whose secret is the first preferred one found, else the first."""
    for wanted in preferred:
        if wanted is not None:
            for candidate in candidates:
                if secret_of(candidate) == wanted:
                    return candidate
    return candidates[0]


class _Names:
    """Every key in play, so that renamed accounts get names nobody uses."""

    def __init__(self, keys: Iterable[Key]) -> None:
        self._used = set(keys)

    def fresh(self, issuer: str, name: str) -> str:
        number = 1
        while True:
            suffix = f" ({CONFLICT_SUFFIX})" if number == 1 else f" ({CONFLICT_SUFFIX} {number})"
            candidate = name[: CASDOOR_FIELD_LIMIT - len(suffix)] + suffix
            if (issuer, candidate) not in self._used:
                self._used.add((issuer, candidate))
                return candidate
            number += 1


def _entry_json(issuer: str, name: str, secret: bytes, origin: str) -> dict[str, Any]:
    return {"accountName": name, "issuer": issuer, "secretKey": encode_secret(secret), "origin": origin}


def merge(
    base: Sequence[Mapping[str, Any]],
    local: Sequence[LocalAccount],
    remote: Sequence[Mapping[str, Any]],
    *,
    origin: str,
) -> SyncPlan:
    """Plan the sync of `local` with `remote`, given the `base` both started from.

    `origin` is this installation's id, written into the entries it creates in Casdoor.
    """
    local_secret = {account.id: decode_secret(account.secret) for account in local}
    too_long = {a.key for a in local if not _fits_casdoor(a.issuer, a.name, encode_secret(local_secret[a.id]))}
    other_type = {a.key for a in local if not a.casdoor_holds_type}
    reserved = too_long | other_type
    local_only = tuple(a.id for a in local if a.key in too_long)
    local_only_type = tuple(a.id for a in local if a.key in other_type and a.key not in too_long)
    syncable = [a for a in local if a.key not in reserved]

    base_secret: dict[Key, bytes] = {}
    for raw in base:
        entry = _read_entry(raw)
        if entry is not None and entry.key not in reserved:
            base_secret.setdefault(entry.key, entry.secret)

    remote_entries: list[_Entry | None] = []
    for raw in remote:
        entry = _read_entry(raw)
        remote_entries.append(entry if entry is not None and entry.key not in reserved else None)
    passthrough = tuple(raw for raw, entry in zip(remote, remote_entries, strict=True) if entry is None)

    names = _Names(
        [a.key for a in local]
        + list(base_secret)
        + [e.key for e in remote_entries if e is not None]
        + [(str(raw.get("issuer")), str(raw.get("accountName"))) for raw in passthrough if isinstance(raw, Mapping)]
    )

    local_by_key: dict[Key, list[LocalAccount]] = {}
    for account in syncable:
        local_by_key.setdefault(account.key, []).append(account)
    remote_by_key: dict[Key, list[_Entry]] = {}
    for entry in remote_entries:
        if entry is not None:
            remote_by_key.setdefault(entry.key, []).append(entry)

    chosen_local = {
        key: _pick(group, lambda a: local_secret[a.id], base_secret.get(key)) for key, group in local_by_key.items()
    }
    chosen_remote = {
        key: _pick(
            group,
            lambda e: e.secret,
            base_secret.get(key),
            local_secret[chosen_local[key].id] if key in chosen_local else None,
        )
        for key, group in remote_by_key.items()
    }

    additions: list[LocalAddition] = []
    updates: list[LocalUpdate] = []
    trash: list[str] = []
    trash_copies: list[LocalAddition] = []
    kept_both: list[KeptBoth] = []
    appended: list[dict[str, Any]] = []  # new remote entries, after the existing ones
    remote_secret_for: dict[Key, bytes | None] = {}  # chosen remote entry's fate: new secret, or None to drop

    for key in dict.fromkeys([*local_by_key, *remote_by_key, *base_secret]):
        issuer, name = key
        account = chosen_local.get(key)
        entry = chosen_remote.get(key)
        b = base_secret.get(key)
        l_secret = local_secret[account.id] if account else None
        r_secret = entry.secret if entry else None

        if account is None and entry is None:
            continue
        if entry is None:
            assert account is not None and l_secret is not None
            if b is not None and l_secret == b:
                trash.append(account.id)
            else:
                keep_origin = origin if b is None else _base_origin(base, key, origin)
                appended.append(_entry_json(issuer, name, l_secret, keep_origin))
            continue
        if account is None:
            assert r_secret is not None
            if b is not None and r_secret == b:
                remote_secret_for[key] = None
                trash_copies.append(
                    LocalAddition(issuer, name, encode_secret(r_secret), entry.origin, Why.REMOVED_FROM_CASDOOR)
                )
            else:
                why = Why.ADDED_REMOTELY if b is None else Why.EDITED_REMOTELY_AFTER_LOCAL_DELETE
                additions.append(LocalAddition(issuer, name, encode_secret(r_secret), entry.origin, why))
            continue
        assert l_secret is not None and r_secret is not None
        if l_secret == r_secret:
            continue
        if b is not None and l_secret == b:
            updates.append(LocalUpdate(account.id, issuer, name, encode_secret(r_secret), True, Why.CHANGED_REMOTELY))
        elif b is not None and r_secret == b:
            remote_secret_for[key] = l_secret
            trash_copies.append(
                LocalAddition(issuer, name, encode_secret(r_secret), entry.origin, Why.REPLACED_IN_CASDOOR)
            )
        else:
            renamed = names.fresh(issuer, name)
            updates.append(LocalUpdate(account.id, issuer, renamed, encode_secret(l_secret), False, Why.CONFLICT))
            additions.append(LocalAddition(issuer, name, encode_secret(r_secret), entry.origin, Why.CONFLICT))
            appended.append(_entry_json(issuer, renamed, l_secret, origin))
            kept_both.append(KeptBoth(account.id, issuer, name, renamed))

    for key, group in local_by_key.items():
        for account in group:
            if account is not chosen_local[key]:
                renamed = names.fresh(*key)
                secret = local_secret[account.id]
                updates.append(LocalUpdate(account.id, key[0], renamed, encode_secret(secret), False, Why.DUPLICATE))
                appended.append(_entry_json(key[0], renamed, secret, origin))

    pushed: list[Any] = []
    for raw, entry in zip(remote, remote_entries, strict=True):
        if entry is None:
            pushed.append(dict(raw) if isinstance(raw, Mapping) else raw)
            continue
        chosen = chosen_remote[entry.key]
        if entry is chosen:
            if entry.key not in remote_secret_for:
                pushed.append(dict(raw))
            elif (new_secret := remote_secret_for[entry.key]) is not None:
                pushed.append({**raw, "secretKey": encode_secret(new_secret)})
        elif entry.secret != chosen.secret:
            renamed = names.fresh(*entry.key)
            pushed.append({**raw, "accountName": renamed})
            additions.append(
                LocalAddition(entry.issuer, renamed, encode_secret(entry.secret), entry.origin, Why.DUPLICATE)
            )
        # else: the same account twice; the chosen copy carries it
    pushed.extend(appended)

    trashed = set(trash)
    return SyncPlan(
        additions=tuple(additions),
        updates=tuple(updates),
        trash=tuple(trash),
        trash_copies=tuple(trash_copies),
        kept_both=tuple(kept_both),
        flagged=tuple(a.id for a in syncable if not a.casdoor_holds_parameters and a.id not in trashed),
        local_only=local_only,
        local_only_type=local_only_type,
        passthrough=passthrough,
        remote=tuple(pushed),
        remote_changed=pushed != [dict(raw) if isinstance(raw, Mapping) else raw for raw in remote],
    )


def _base_origin(base: Sequence[Mapping[str, Any]], key: Key, default: str) -> str:
    """The origin an entry had at the last sync, so that pushing it back keeps its author."""
    for raw in base:
        entry = _read_entry(raw)
        if entry is not None and entry.key == key:
            return entry.origin
    return default
