"""The code list's side of the vault: what the list shows, its state, and when it next changes.

`ListQuery` says what the list shows (search, group, order, length); `VaultListing`, which
`Vault` inherits, reads it with as few rows and columns as each request needs; `ListState` is
the signature a refresh compares to know whether the list changed; `next_refresh_ms` says when
the codes shown next change (a period boundary or a preview starting). Reading only: every
change goes through `Vault` (vault.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Row, func, or_, select

from webauth import clock
from webauth.extensions import db
from webauth.models import Account, Group, User, account_groups
from webauth.otp import OtpParams, OtpType, code_at, period_remaining, seconds_remaining

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


class VaultListing:
    """The reading side of `Vault` for the list (and for whoever needs many accounts at once)."""

    user: User
    # The account's OTP parameters with its secret opened (`Vault.params`).
    params: Callable[[Account], OtpParams]

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
            Account.uuid, Account.type, Account.secret_sealed, Account.pin_sealed, Account.algorithm,
            Account.digits, Account.period, Account.counter, Account.issuer, Account.name,
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


    def codes(self, accounts: Iterable[Account], at: float | None = None) -> list[CodeView]:
        now = clock.now() if at is None else at
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

