"""The vault: the one domain service for a user's accounts.

Views, the CLI, importers, sync and the API all go through `Vault`, so a rule written here
(duplicates, the trash, revisions, audit events, sealing) holds everywhere. A `Vault` lives
for one request or one command: it unwraps the user's data key at most once.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Row, func, or_, select, update
from sqlalchemy import delete as sql_delete
from sqlalchemy.orm.attributes import set_committed_value

from webauth import audit, icons
from webauth.crypto import Keyring, open_secret, seal_secret
from webauth.extensions import db
from webauth.models import Account, AccountIcon, Group, User, account_groups, utcnow
from webauth.otp import Algorithm, OtpParams, OtpType, code_at, period_remaining, seconds_remaining
from webauth.otpauth import AccountSpec, clean_group_name

# The list offers the next code this many seconds before a period ends.
PREVIEW_SECONDS = 10
# Refresh this long after a boundary, so the client never asks a hair too early.
BOUNDARY_MARGIN_MS = 50
# The orders the list offers; favorites come first in each.
SORTS = ("manual", "issuer", "recent")
MAX_SEARCH_LENGTH = 200
# The list shows this many accounts at first, and this many more each time the reader scrolls
# to its end: a page of a big vault renders in the time of 50 rows, not of all of them.
PAGE_SIZE = 50
MAX_SHOWN = 10_000
# What a re-authenticated user may see of an account's secret.
REVEALS = ("secret", "qr", "uri")


class AccountNotFound(LookupError):
    """No such account for this user (another user's id is the same as no id)."""


class DuplicateAccount(ValueError):
    """The vault already holds this very account (same type, secret, issuer and name)."""

    def __init__(self, existing: Account) -> None:
        super().__init__(f"{existing.issuer or existing.name} is already in the vault")
        self.existing = existing


@dataclass(frozen=True)
class ListQuery:
    """What the list shows: accounts matching every word of `text` (in issuer, name, note or a
    group's name), only those of `group` when one is named, in the order `sort`, the first
    `show` of them."""

    text: str = ""
    group: str = ""
    sort: str = "manual"
    show: int = PAGE_SIZE

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", (self.text or "").strip()[:MAX_SEARCH_LENGTH])
        object.__setattr__(self, "group", (self.group or "").strip()[:MAX_SEARCH_LENGTH])
        if self.sort not in SORTS:
            object.__setattr__(self, "sort", "manual")
        object.__setattr__(self, "show", min(max(self.show, PAGE_SIZE), MAX_SHOWN))

    @property
    def terms(self) -> list[str]:
        return self.text.lower().split()

    @property
    def filtered(self) -> bool:
        return bool(self.text or self.group)


@dataclass(frozen=True)
class ListState:
    """What `Vault.list_state` says of the vault: its live accounts, and a signature of its contents."""

    live: int
    signature: str


@dataclass(frozen=True)
class GroupInfo:
    name: str
    # Live accounts in the group (those in the trash keep their groups but are not counted).
    count: int


@dataclass(frozen=True)
class IconChange:
    """A new icon for an account: "auto" follows the issuer, "letter" keeps the coloured letter,
    "custom" is an uploaded image (any size or format; the vault re-encodes it)."""

    kind: Literal["auto", "letter", "custom"]
    image: bytes | None = None


@dataclass(frozen=True)
class PlannedAddition:
    """One account of a batch to add (an image with several QR codes, a Google transfer)."""

    spec: AccountSpec
    # The same account already in the vault, if any.
    duplicate_of: Account | None = None
    # The same account appears earlier in the batch.
    repeated: bool = False

    @property
    def is_new(self) -> bool:
        return self.duplicate_of is None and not self.repeated


def key_hint(account: Account) -> str:
    """Four characters that tell apart two accounts with the same issuer and name.

    They come from the keyed fingerprint of the secret, so they say nothing about the secret
    to anyone without the user's data key, yet differ between secrets (1 in 65,536 collide).
    """
    return account.secret_digest[:4].upper()


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


_ORDERS = {
    "manual": (Account.favorite.desc(), Account.position, func.lower(Account.issuer), func.lower(Account.name)),
    "issuer": (
        Account.favorite.desc(),
        func.lower(func.coalesce(func.nullif(Account.issuer, ""), Account.name)),
        func.lower(Account.name),
    ),
    "recent": (Account.favorite.desc(), Account.last_used_at.is_(None), Account.last_used_at.desc(), Account.position),
}


@dataclass(frozen=True)
class CodeView:
    """What the list shows for one account at one moment."""

    account: Account
    code: str | None
    remaining: float | None
    next_code: str | None

    @property
    def period(self) -> int:
        return self.account.period


def next_refresh_ms(views: Sequence[CodeView]) -> int | None:
    """Milliseconds until the list next changes: a period boundary or a preview starting."""
    return _ms_until_change(view.remaining for view in views if view.remaining is not None)


def next_refresh_ms_of(periods: Iterable[int], at: float) -> int | None:
    """The same for time-based accounts of these periods, from `at`, without opening their secrets."""
    return _ms_until_change(period_remaining(period, at) for period in periods)


def _ms_until_change(remaining: Iterable[float]) -> int | None:
    waits = []
    for seconds in remaining:
        waits.append(seconds)
        if seconds > PREVIEW_SECONDS:
            waits.append(seconds - PREVIEW_SECONDS)
    if not waits:
        return None
    return int(min(waits) * 1000) + BOUNDARY_MARGIN_MS


class Vault:
    def __init__(self, user: User, keyring: Keyring) -> None:
        self.user = user
        self.keyring = keyring

    @cached_property
    def _data_key(self) -> bytes:
        return self.keyring.unwrap_data_key(self.user.id, self.user.kek_id, self.user.wrapped_dek)

    @cached_property
    def _fingerprint_key(self) -> bytes:
        return HKDF(hashes.SHA256(), 32, salt=None, info=b"webauth secret fingerprint v1").derive(self._data_key)

    def _fingerprint(self, params: OtpParams) -> str:
        """A keyed digest of type and secret: finds duplicates without opening every secret."""
        message = params.type.value.encode() + b"\0" + params.secret
        return hmac.new(self._fingerprint_key, message, hashlib.sha256).hexdigest()

    # Reading ----------------------------------------------------------------------------

    def _query(self, *, trashed: bool = False):
        deleted = Account.deleted_at.is_not(None) if trashed else Account.deleted_at.is_(None)
        return select(Account).where(Account.user_id == self.user.id, deleted)

    def accounts(self, query: ListQuery | None = None) -> list[Account]:
        """The live accounts in list order: favorites first, then the user's order, then by name.

        A `query` narrows and orders the list (all that match: `shown` takes its first page).
        Search is case-insensitive (for ASCII letters on SQLite, whose lower() knows no others)
        and each word must match somewhere.
        """
        return list(db.session.scalars(self._listed(query or ListQuery())))

    def shown(self, query: ListQuery, start: int = 0) -> tuple[list[Account], bool]:
        """The accounts the list shows from `start` up to `query.show`, and whether more match."""
        statement = self._listed(query).offset(start).limit(query.show - start + 1)
        accounts = list(db.session.scalars(statement))
        return accounts[: query.show - start], len(accounts) > query.show - start

    def count(self, query: ListQuery) -> int:
        """How many live accounts match `query`, shown or not."""
        return db.session.scalar(select(func.count()).select_from(self._listed(query).order_by(None).subquery()))

    def code_rows(self, query: ListQuery) -> list[Row]:
        """What the codes of the shown time-based accounts need (`params` takes these rows),
        and their labels; no account objects, groups or icons, as a refresh needs none."""
        statement = self._listed(query).limit(query.show).with_only_columns(
            Account.uuid, Account.type, Account.secret_sealed, Account.algorithm, Account.digits,
            Account.period, Account.counter, Account.issuer, Account.name,
        )
        return [row for row in db.session.execute(statement) if row.type != OtpType.HOTP.value]

    def list_state(self, query: ListQuery) -> ListState:
        """The number of live accounts, and a digest that changes whenever the list of `query`
        could: an account added, edited, moved, deleted, restored, an HOTP counter moved (every
        change bumps an account's revision and its `updated_at`, or the number of live
        accounts), and for the "recent" order, a code used. A refresh whose signature is
        unchanged needs only new codes.

        Both the sum of revisions and the latest update are taken, so neither a clock that
        goes back on another host nor a deletion and an addition that cancel out in the sum
        leaves a change unseen (only both at once would).
        """
        live = Account.deleted_at.is_(None)
        columns = [
            func.count(Account.id).filter(live),
            func.sum(Account.revision).filter(live),
            func.max(Account.updated_at),
        ]
        if query.sort == "recent":
            columns.append(func.max(Account.last_used_at))
        row = db.session.execute(select(*columns).where(Account.user_id == self.user.id)).one()
        return ListState(live=row[0], signature=hashlib.sha256(repr(tuple(row)).encode()).hexdigest()[:16])

    def _listed(self, query: ListQuery):
        statement = self._query()
        for term in query.terms:
            pattern = _like(term)
            in_group = (
                select(account_groups.c.account_id)
                .join(Group, Group.id == account_groups.c.group_id)
                .where(Group.user_id == self.user.id, func.lower(Group.name).like(pattern, escape="\\"))
            )
            statement = statement.where(
                or_(
                    func.lower(Account.issuer).like(pattern, escape="\\"),
                    func.lower(Account.name).like(pattern, escape="\\"),
                    func.lower(Account.note).like(pattern, escape="\\"),
                    Account.id.in_(in_group),
                )
            )
        if query.group:
            members = (
                select(account_groups.c.account_id)
                .join(Group, Group.id == account_groups.c.group_id)
                .where(Group.user_id == self.user.id, Group.name == query.group)
            )
            statement = statement.where(Account.id.in_(members))
        return statement.order_by(*_ORDERS[query.sort], Account.id)

    def columns(self, names: Sequence[str]) -> list[Row]:
        """Only these columns of the live accounts, in manual list order.

        A filtered or re-sorted list still carries the whole vault's revision and count; reading
        them as plain rows skips building 1,000 accounts with their groups and icons, which was
        most of the time of a search in a big vault (bench/vault_1000.py).
        """
        statement = self._query().with_only_columns(*(getattr(Account, name) for name in names))
        return list(db.session.execute(statement.order_by(*_ORDERS["manual"], Account.id)))

    def groups(self) -> list[GroupInfo]:
        """Every group of the user, by name, with its number of live accounts."""
        live = select(account_groups.c.group_id, func.count().label("count")).join(
            Account, Account.id == account_groups.c.account_id
        ).where(Account.deleted_at.is_(None)).group_by(account_groups.c.group_id).subquery()
        rows = db.session.execute(
            select(Group.name, func.coalesce(live.c.count, 0))
            .outerjoin(live, live.c.group_id == Group.id)
            .where(Group.user_id == self.user.id)
            .order_by(func.lower(Group.name), Group.name)
        )
        return [GroupInfo(name, count) for name, count in rows]

    def twin_hints(self, accounts: Iterable[Account]) -> dict[str, str]:
        """For accounts that share their issuer and name with another live account (a different
        secret: identical ones are refused), the `key_hint` that tells them apart, by uuid."""
        accounts = list(accounts)
        wanted = {(account.issuer.lower(), account.name.lower()) for account in accounts}
        if not wanted:
            return {}
        issuer, name = func.lower(Account.issuer), func.lower(Account.name)
        clashes = db.session.execute(
            self._query()
            .where(issuer.in_(sorted({pair[0] for pair in wanted})))  # only the issuers shown: a page of a big vault
            .with_only_columns(issuer, name)
            .group_by(issuer, name)
            .having(func.count() > 1)
        ).all()
        twins = {tuple(row) for row in clashes} & wanted
        return {
            account.uuid: key_hint(account)
            for account in accounts
            if (account.issuer.lower(), account.name.lower()) in twins
        }

    def trash(self) -> list[Account]:
        return list(db.session.scalars(self._query(trashed=True).order_by(Account.deleted_at.desc())))

    def get(self, account_uuid: str, *, trashed: bool = False) -> Account:
        account = db.session.scalar(self._query(trashed=trashed).where(Account.uuid == account_uuid))
        if account is None:
            raise AccountNotFound(account_uuid)
        return account

    def params(self, account: Account) -> OtpParams:
        secret = open_secret(self._data_key, self.user.id, account.uuid, account.secret_sealed)
        return OtpParams(
            type=OtpType(account.type),
            secret=secret,
            algorithm=Algorithm(account.algorithm),
            digits=account.digits,
            period=account.period,
            counter=account.counter,
        )

    def spec(self, account: Account) -> AccountSpec:
        custom = account.icon if account.icon is not None and account.icon.kind == "custom" else None
        return AccountSpec(
            issuer=account.issuer,
            name=account.name,
            params=self.params(account),
            note=account.note,
            groups=tuple(group.name for group in account.groups),
            favorite=account.favorite,
            icon=custom.data if custom is not None else None,
            icon_mime=custom.mime if custom is not None else None,
        )

    def reveal(self, account_uuid: str, what: str) -> AccountSpec:
        """The account with its secret, for a re-authenticated user to see (`what` is one of
        REVEALS: the secret itself, its QR code or its otpauth URI). Each reveal is audited."""
        if what not in REVEALS:
            raise ValueError(f"unknown reveal {what!r}")
        account = self.get(account_uuid)
        spec = self.spec(account)
        audit.record("account.reveal", user=self.user, details={"account": account.uuid, "what": what})
        db.session.commit()
        return spec

    def codes(self, accounts: Iterable[Account], at: float | None = None) -> list[CodeView]:
        now = time.time() if at is None else at
        views = []
        for account in accounts:
            params = self.params(account)
            if params.type is OtpType.HOTP:
                views.append(CodeView(account, code_at(params), None, None))
                continue
            remaining = seconds_remaining(params, now)
            upcoming = code_at(params, now + params.period) if remaining <= PREVIEW_SECONDS else None
            views.append(CodeView(account, code_at(params, now), remaining, upcoming))
        return views

    # Changing ---------------------------------------------------------------------------

    def find_duplicate(self, spec: AccountSpec) -> Account | None:
        digest = self._fingerprint(spec.params)
        return db.session.scalar(
            self._query().where(
                Account.secret_digest == digest, Account.issuer == spec.issuer, Account.name == spec.name
            )
        )

    def add(self, spec: AccountSpec, *, source: str = "manual", commit: bool = True) -> Account:
        """Store a new account; an identical one already there raises `DuplicateAccount`."""
        existing = self.find_duplicate(spec)
        if existing is not None:
            raise DuplicateAccount(existing)
        last = db.session.scalar(select(func.max(Account.position)).where(Account.user_id == self.user.id))
        account = self._new_account(spec, self._fingerprint(spec.params), (last or 0) + 1)
        if spec.groups:
            self._assign_groups(account, spec.groups)
        db.session.flush()
        audit.record("account.add", user=self.user, details={"account": account.uuid, "source": source})
        if commit:
            db.session.commit()
        return account

    def _new_account(self, spec: AccountSpec, digest: str, position: int) -> Account:
        """A new row for `spec`, its secret sealed, its icon kept when it is a usable image."""
        params = spec.params
        account = Account(
            uuid=str(uuid.uuid4()),
            user_id=self.user.id,
            type=params.type.value,
            issuer=spec.issuer,
            name=spec.name,
            algorithm=params.algorithm.value,
            digits=params.digits,
            period=params.period,
            counter=params.counter,
            note=spec.note,
            favorite=spec.favorite,
            position=position,
            secret_digest=digest,
        )
        account.secret_sealed = seal_secret(self._data_key, self.user.id, account.uuid, params.secret)
        db.session.add(account)
        if spec.icon:
            # An imported icon is decoration: one that is not a usable image is left out.
            with contextlib.suppress(icons.IconError):
                self._set_icon(account, "custom", icons.normalise_image(spec.icon))
        return account

    def update(
        self,
        account_uuid: str,
        spec: AccountSpec,
        *,
        source: str = "edit",
        commit: bool = True,
        groups: Iterable[str] | None = None,
        icon: IconChange | None = None,
    ) -> Account:
        """Replace an account's description with `spec` (validated already by its constructor).

        Changing the secret or type re-seals it; making it identical to another account of
        the vault raises `DuplicateAccount`. The audit event names the fields, never values.
        `commit=False` leaves the change in the caller's transaction (a sync applies many at once).
        Groups and icon change only when `groups` or `icon` is given: most callers (sync) describe
        the OTP fields alone, and `spec.groups` left empty must not empty the account's groups.
        A custom icon that is not a usable image raises `icons.IconError` before anything changes.
        """
        image = icons.normalise_image(icon.image or b"") if icon is not None and icon.kind == "custom" else None
        account = self.get(account_uuid)
        current = self.spec(account)
        duplicate = self.find_duplicate(spec)
        if duplicate is not None and duplicate.id != account.id:
            raise DuplicateAccount(duplicate)
        changed = _changed_fields(current, spec)
        if groups is not None:
            names = _clean_groups(groups)
            if [name.casefold() for name in names] != [name.casefold() for name in current.groups]:
                self._assign_groups(account, names)
                changed.append("groups")
        if icon is not None and self._set_icon(account, icon.kind, image):
            changed.append("icon")
        if not changed:
            return account
        params = spec.params
        account.type, account.algorithm = params.type.value, params.algorithm.value
        account.digits, account.period, account.counter = params.digits, params.period, params.counter
        account.issuer, account.name, account.note, account.favorite = spec.issuer, spec.name, spec.note, spec.favorite
        if "secret" in changed or "type" in changed:
            account.secret_sealed = seal_secret(self._data_key, self.user.id, account.uuid, params.secret)
            account.secret_digest = self._fingerprint(params)
        self._touch(account)
        details = {"account": account.uuid, "fields": changed, "source": source}
        audit.record("account.edit", user=self.user, details=details)
        if commit:
            db.session.commit()
        return account

    def delete(self, account_uuid: str, *, source: str | None = None, commit: bool = True) -> Account:
        """Move an account to the trash; `restore` undoes it, `purge` makes it final."""
        account = self.get(account_uuid)
        account.deleted_at = utcnow()
        self._touch(account)
        details = {"account": account.uuid} if source is None else {"account": account.uuid, "source": source}
        audit.record("account.delete", user=self.user, details=details)
        if commit:
            db.session.commit()
        return account

    def add_to_trash(self, spec: AccountSpec, *, source: str, commit: bool = True) -> Account | None:
        """Keep `spec` as a trashed account, recoverable with `restore`, unless the trash holds it already.

        Sync uses it for versions it replaces or removes, so that nothing it overwrites is
        lost; returns None when an identical account (type, secret, issuer, name) is in the trash.
        """
        digest = self._fingerprint(spec.params)
        existing = db.session.scalar(
            self._query(trashed=True)
            .where(Account.secret_digest == digest, Account.issuer == spec.issuer, Account.name == spec.name)
            .limit(1)
        )
        if existing is not None:
            return None
        account = self._new_account(spec, digest, position=0)
        account.deleted_at = utcnow()
        db.session.flush()
        audit.record("account.trash_copy", user=self.user, details={"account": account.uuid, "source": source})
        if commit:
            db.session.commit()
        return account

    def restore(self, account_uuid: str) -> Account:
        """Bring an account back from the trash, unless the vault holds it again (`DuplicateAccount`)."""
        account = self.get(account_uuid, trashed=True)
        duplicate = self.find_duplicate(self.spec(account))
        if duplicate is not None:
            raise DuplicateAccount(duplicate)
        account.deleted_at = None
        self._touch(account)
        audit.record("account.restore", user=self.user, details={"account": account.uuid})
        db.session.commit()
        return account

    def purge(self, account_uuid: str) -> None:
        account = self.get(account_uuid, trashed=True)
        db.session.delete(account)
        audit.record("account.purge", user=self.user, details={"account": account_uuid})
        self._prune_groups()
        db.session.commit()

    def empty_trash(self) -> int:
        """Purge every account in the trash; returns how many."""
        trashed = self.trash()
        for account in trashed:
            db.session.delete(account)
            audit.record("account.purge", user=self.user, details={"account": account.uuid})
        self._prune_groups()
        db.session.commit()
        return len(trashed)

    # Organising ---------------------------------------------------------------------------

    def set_favorite(self, account_uuid: str, favorite: bool) -> Account:
        account = self.get(account_uuid)
        if account.favorite != favorite:
            account.favorite = favorite
            self._touch(account)
            audit.record("account.favorite", user=self.user, details={"account": account.uuid, "favorite": favorite})
            db.session.commit()
        return account

    def move(self, account_uuid: str, before_uuid: str | None, after_uuid: str | None = None) -> Account:
        """Put an account just before another in the user's order, or just after another
        (`after_uuid`: a drop below the last row of a list that shows only its first page), or
        at the end when neither is named. Positions are renumbered 1..n; only the moved account
        counts as changed, since the others keep their order relative to each other."""
        account = self.get(account_uuid)
        before = self.get(before_uuid) if before_uuid else None
        after = self.get(after_uuid) if after_uuid and before is None else None
        if account in (before, after):
            return account
        ordered = [item for item in self.accounts(ListQuery(sort="manual")) if item.id != account.id]
        ordered.sort(key=lambda item: (item.position, item.id))
        if before is not None:
            index = ordered.index(before)
        elif after is not None:
            index = ordered.index(after) + 1
        else:
            index = len(ordered)
        ordered.insert(index, account)
        for position, item in enumerate(ordered, start=1):
            item.position = position
        self._touch(account)
        audit.record("account.move", user=self.user, details={"account": account.uuid})
        db.session.commit()
        return account

    def mark_used(self, account_uuid: str) -> None:
        """Note that a code of the account was just used, for the "recently used" order.

        Not a change of the account: no revision, no audit event, so copying a code neither
        makes offline copies stale nor starts a sync.
        """
        account = self.get(account_uuid)
        db.session.execute(update(Account).where(Account.id == account.id).values(last_used_at=utcnow()))
        db.session.commit()

    def rename_group(self, name: str, new_name: str) -> None:
        """Rename a group; a new name that another group has merges the two."""
        group = self._group(name)
        new_name = clean_group_name(new_name)
        if not new_name:
            raise ValueError("a group needs a name")
        if new_name == group.name:
            return
        target = db.session.scalar(
            select(Group).where(Group.user_id == self.user.id, func.lower(Group.name) == new_name.lower())
        )
        members = self._group_members(group)
        if target is not None and target.id != group.id:
            for account in members:
                if target not in account.groups:
                    account.groups.append(target)
                account.groups.remove(group)
            db.session.delete(group)
        else:
            group.name = new_name
        for account in members:
            self._touch(account)
        audit.record("group.rename", user=self.user, details={"accounts": len(members)})
        db.session.commit()

    def delete_group(self, name: str) -> None:
        """Remove a group; its accounts stay, in their other groups."""
        group = self._group(name)
        members = self._group_members(group)
        for account in members:
            account.groups.remove(group)
            self._touch(account)
        db.session.delete(group)
        audit.record("group.delete", user=self.user, details={"accounts": len(members)})
        db.session.commit()

    def advance_hotp(self, account_uuid: str) -> Account:
        """Move an HOTP account to its next counter in one UPDATE ... RETURNING.

        Each click gets its own counter value even when several arrive at once, from any
        process, so two clicks never show the same code.
        """
        account = self.get(account_uuid)
        if account.type != OtpType.HOTP.value:
            raise AccountNotFound(account_uuid)
        counter = db.session.execute(
            update(Account)
            .where(Account.id == account.id)
            .values(counter=Account.counter + 1, revision=Account.revision + 1, updated_at=utcnow())
            .returning(Account.counter)
        ).scalar_one()
        audit.record("account.hotp_next", user=self.user, details={"account": account.uuid, "counter": counter})
        db.session.commit()
        set_committed_value(account, "counter", counter)
        return account

    # Other sealed data of the user ---------------------------------------------------------

    def seal_blob(self, purpose: str, data: bytes) -> bytes:
        """Seal data that belongs to the user but not to an account (a token, a sync snapshot).

        `purpose` takes the place of the account uuid in the associated data, so a blob
        opens only for the same user and purpose; it must not look like a uuid.
        """
        return seal_secret(self._data_key, self.user.id, purpose, data)

    def open_blob(self, purpose: str, sealed: bytes) -> bytes:
        return open_secret(self._data_key, self.user.id, purpose, sealed)

    def _touch(self, account: Account) -> None:
        account.revision += 1
        account.updated_at = utcnow()

    def _group(self, name: str) -> Group:
        group = db.session.scalar(select(Group).where(Group.user_id == self.user.id, Group.name == name))
        if group is None:
            raise LookupError(name)
        return group

    def _group_members(self, group: Group) -> list[Account]:
        members = select(account_groups.c.account_id).where(account_groups.c.group_id == group.id)
        return list(db.session.scalars(select(Account).where(Account.id.in_(members))))

    def _assign_groups(self, account: Account, names: Iterable[str]) -> None:
        """Put the account in exactly these groups, making the missing ones (matched ignoring case)."""
        existing = {group.name.casefold(): group for group in db.session.scalars(
            select(Group).where(Group.user_id == self.user.id)
        )}
        chosen: list[Group] = []
        for name in names:
            group = existing.get(name.casefold())
            if group is None:
                group = existing[name.casefold()] = Group(user_id=self.user.id, name=name)
                db.session.add(group)
            if group not in chosen:
                chosen.append(group)
        account.groups = chosen
        db.session.flush()
        self._prune_groups()

    def _prune_groups(self) -> None:
        """Groups exist while an account (live or in the trash) is in them."""
        db.session.flush()
        db.session.execute(
            sql_delete(Group)
            .where(Group.user_id == self.user.id, Group.id.not_in(select(account_groups.c.group_id)))
            .execution_options(synchronize_session=False)
        )

    def _set_icon(self, account: Account, kind: str, image: bytes | None = None) -> bool:
        """Apply an icon choice (`image`: a custom icon from `icons.normalise_image`); True if it changed."""
        current = account.icon
        if kind == "auto":
            if current is None:
                return False
            account.icon = None
            return True
        digest = icons.image_digest(image) if kind == "custom" and image else ""
        if current is not None and current.kind == kind and current.digest == digest:
            return False
        if current is None:
            current = account.icon = AccountIcon(kind=kind)
        current.kind, current.digest, current.updated_at = kind, digest, utcnow()
        current.mime, current.data = ("image/png", image) if kind == "custom" else (None, None)
        return True

    # Adding several at once ---------------------------------------------------------------

    def plan_additions(self, specs: Sequence[AccountSpec]) -> list[PlannedAddition]:
        """Which accounts of a batch are new, already in the vault, or repeated in the batch.

        A duplicate is what `find_duplicate` would find (same type and secret, by fingerprint,
        issuer and name among the live accounts), here answered with one query for the batch.
        """
        live: dict[tuple[str, str, str], int] = {}
        columns = self._query().with_only_columns(Account.id, Account.secret_digest, Account.issuer, Account.name)
        for account_id, digest, issuer, name in db.session.execute(columns.order_by(Account.id)):
            live.setdefault((digest, issuer, name), account_id)
        planned: list[PlannedAddition] = []
        seen: set[tuple[str, str, str]] = set()
        for spec in specs:
            key = (self._fingerprint(spec.params), spec.issuer, spec.name)
            duplicate = db.session.get(Account, live[key]) if key in live else None
            planned.append(PlannedAddition(spec, duplicate, key in seen))
            seen.add(key)
        return planned

    def add_many(
        self, specs: Iterable[AccountSpec], *, source: str, details: dict | None = None
    ) -> tuple[list[Account], int]:
        """Add a whole import in one transaction: all of it or, on any failure, none of it.

        Accounts the vault holds already (same type, secret, issuer and name), and repeats
        within `specs`, are skipped and counted; returns (accounts added, duplicates skipped).
        Groups, notes, favorites and icons come along (an icon that is not a usable image is
        left out, as in `add`). One audit event `import` records the counts and `source` (the
        format), with `details` from the caller (counts only, never a name or a secret).
        """
        seen = {
            tuple(row)
            for row in db.session.execute(
                self._query().with_only_columns(Account.secret_digest, Account.issuer, Account.name)
            )
        }
        position = db.session.scalar(select(func.max(Account.position)).where(Account.user_id == self.user.id)) or 0
        groups = {
            group.name.casefold(): group
            for group in db.session.scalars(select(Group).where(Group.user_id == self.user.id))
        }
        added: list[Account] = []
        duplicates = 0
        try:
            for spec in specs:
                params = spec.params
                digest = self._fingerprint(params)
                if (digest, spec.issuer, spec.name) in seen:
                    duplicates += 1
                    continue
                seen.add((digest, spec.issuer, spec.name))
                position += 1
                account = self._new_account(spec, digest, position)
                chosen: list[Group] = []
                for name in _clean_groups(spec.groups):
                    group = groups.get(name.casefold())
                    if group is None:
                        group = groups[name.casefold()] = Group(user_id=self.user.id, name=name)
                    chosen.append(group)
                account.groups = chosen
                added.append(account)
            counts = {"format": source, "added": len(added), "duplicates": duplicates}
            audit.record("import", user=self.user, details={**(details or {}), **counts})
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
        return added, duplicates

def _clean_groups(names: Iterable[str]) -> list[str]:
    cleaned: list[str] = []
    for name in names:
        name = clean_group_name(name)
        if name and name.casefold() not in {seen.casefold() for seen in cleaned}:
            cleaned.append(name)
    return cleaned


def _changed_fields(before: AccountSpec, after: AccountSpec) -> list[str]:
    names = []
    for field in ("issuer", "name", "note", "favorite"):
        if getattr(before, field) != getattr(after, field):
            names.append(field)
    for field in ("type", "secret", "algorithm", "digits", "period", "counter"):
        if getattr(before.params, field) != getattr(after.params, field):
            names.append(field)
    return names
