"""The code list's side of the vault: what the list shows, its state, and when it next changes.

`ListQuery` says what the list shows (search, group, order, length); `VaultListing`, which
`Vault` inherits, reads it with as few rows and columns as each request needs; `ListState` is
the signature a refresh compares to know whether the list changed; `Clock` says when the codes
shown were computed and when they next change (a period boundary or a preview starting), and
`ClockTick` what changed since: the list's clock sends only that. Reading only: every change
goes through `Vault` (vault.py).

Every time-based account of one period changes at the same moments (time steps count from the
Unix epoch), so what the clock sends is decided per period, and for an account only its digits.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import Row, Select, Text, bindparam, func, or_, select, true, type_coerce

from webauth import clock
from webauth.extensions import db
from webauth.models import Account, Group, User, account_groups
from webauth.otp import (
    OtpParams,
    OtpType,
    code_at,
    motp_code,
    period_remaining,
    seconds_remaining,
    stored_code,
    yandex_code,
)

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


class CodeRow(NamedTuple):
    """What the code of a time-based account needs, and its key in the page (`CodeView.key`)."""

    id: int
    uuid: str
    type: str
    secret_sealed: bytes
    pin_sealed: bytes | None
    algorithm: str
    digits: int
    period: int


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

    @property
    def key(self) -> int:
        """The account's key in the page's element ids (`c<key>`: its code, `n<key>`: its next
        code), which the clock swaps digits into: short, since every refresh names every code
        it sends, and unique by construction (the row's primary key)."""
        return self.account.id

    def as_row(self, *, hotp_code: bool) -> dict[str, Any]:
        """The account as the REST API and `flask accounts list --json` give it: never its secret.

        An HOTP account shows its counter; its code too with `hotp_code`. The API gives it (the
        code a client asked for), the CLI does not (it lists counters, the next code is a step
        away). A time-based account shows its code, period and seconds left. Accounts shared
        with the user have their own row (`SharedView.as_row`, without note or groups).
        """
        account = self.account
        row: dict[str, Any] = {
            "id": account.uuid,
            "type": account.type,
            "issuer": account.issuer,
            "name": account.name,
            "algorithm": account.algorithm,
            "digits": account.digits,
            "groups": [group.name for group in account.groups],
            "favorite": account.favorite,
            "note": account.note,
        }
        if account.type == OtpType.HOTP.value:
            if hotp_code:
                row["code"] = self.code
            row["counter"] = account.counter
        else:
            row["period"] = account.period
            row["code"] = self.code
            row["remaining"] = round(self.remaining, 3)
        return row


def next_refresh_ms_of(periods: Iterable[int], at: float) -> int | None:
    """Milliseconds from `at` until the codes of time-based accounts of these periods next
    change (a boundary or a preview starting), without opening their secrets."""
    return _ms_until_change(period_remaining(period, at) for period in periods)


@dataclass(frozen=True)
class Clock:
    """The list's clock: the moment the codes on the page were computed (`shown_at`, whole
    seconds), the server's time now, the periods of the time-based accounts shown, and when
    the clock asks again (`refresh_ms`; None with no time-based account shown)."""

    shown_at: int
    now: float
    periods: tuple[int, ...]
    refresh_ms: int | None

    @property
    def now_ms(self) -> int:
        return int(self.now * 1000)

    def seconds_left(self) -> list[tuple[int, int]]:
        """For each period, the whole seconds left of its current codes (what a screen reader says)."""
        return [(period, math.ceil(period_remaining(period, self.now))) for period in self.periods]


def make_clock(periods: Iterable[int], now: float, shown_at: int | None = None) -> Clock:
    """The clock of a list whose codes were computed at `shown_at` (default: now). When a code or
    a preview changed between then and now, the clock asks at once."""
    periods = tuple(sorted(set(periods)))
    if shown_at is None:
        shown_at = int(now)
    elif any(period_change(period, shown_at, now) for period in periods):
        return Clock(shown_at, now, periods, 0)
    return Clock(shown_at, now, periods, next_refresh_ms_of(periods, now))


@dataclass(frozen=True)
class PeriodChange:
    """What changed for the accounts of one period between what the page shows and now."""

    period: int
    codes: bool  # a new time step: new codes
    previews: bool  # the next codes are to be shown
    clears: bool  # the previews shown are to go (a new step, not yet in its preview)


def period_change(period: int, since: int | None, now: float) -> PeriodChange | None:
    """None when the codes of this period shown since `since` are still right at `now`.

    `since` is in whole seconds, which is exact: boundaries and previews fall on whole seconds.
    Without it everything is sent.
    """
    previewing = period_remaining(period, now) <= PREVIEW_SECONDS
    if since is None:
        return PeriodChange(period, True, previewing, not previewing)
    new_step = since // period != int(now // period)
    previews = previewing and (new_step or period_remaining(period, since) > PREVIEW_SECONDS)
    if not (new_step or previews):
        return None
    return PeriodChange(period, new_step, previews, new_step and not previewing)


@dataclass(frozen=True)
class ClockTick:
    """What the clock sends: the next clock, the new codes and next codes by account key, and
    the periods whose previews end."""

    clock: Clock
    codes: list[tuple[int, str]]
    previews: list[tuple[int, str]]
    cleared: list[int]


def _ms_until_change(remaining: Iterable[float]) -> int | None:
    waits = []
    for seconds in remaining:
        waits.append(seconds)
        if seconds > PREVIEW_SECONDS:
            waits.append(seconds - PREVIEW_SECONDS)
    if not waits:
        return None
    return int(min(waits) * 1000) + BOUNDARY_MARGIN_MS


# The list's statements are built once per shape (order, number of search words, a group or
# not) with the user, words, group and length bound at each request: the clock runs two of them
# at every boundary for every open page, and building them anew cost more than running them.


def _shape(query: ListQuery) -> tuple[str, int, bool]:
    return query.sort, len(query.terms), bool(query.group)


@lru_cache(maxsize=256)
def _listed(sort: str, terms: int, grouped: bool) -> Select:
    """The live accounts of `:user_id` matching `:term0`... and in `:group`, in list order."""
    user = bindparam("user_id")
    statement = select(Account).where(Account.user_id == user, Account.deleted_at.is_(None))
    for number in range(terms):
        pattern = bindparam(f"term{number}")
        in_group = (
            select(account_groups.c.account_id)
            .join(Group, Group.id == account_groups.c.group_id)
            .where(Group.user_id == user, func.lower(Group.name).like(pattern, escape="\\"))
        )
        statement = statement.where(
            or_(
                func.lower(Account.issuer).like(pattern, escape="\\"),
                func.lower(Account.name).like(pattern, escape="\\"),
                func.lower(Account.note).like(pattern, escape="\\"),
                Account.id.in_(in_group),
            )
        )
    if grouped:
        members = (
            select(account_groups.c.account_id)
            .join(Group, Group.id == account_groups.c.group_id)
            .where(Group.user_id == user, Group.name == bindparam("group"))
        )
        statement = statement.where(Account.id.in_(members))
    return statement.order_by(*_ORDERS[sort], Account.id)


@lru_cache(maxsize=256)
def _code_rows(sort: str, terms: int, grouped: bool) -> Select:
    """The first `:show` rows of `_listed`, with only what their codes need."""
    return _listed(sort, terms, grouped).limit(bindparam("show")).with_only_columns(
        Account.id, Account.uuid, Account.type, Account.secret_sealed, Account.pin_sealed, Account.algorithm,
        Account.digits, Account.period,
    )


@lru_cache(maxsize=2)
def _list_state(recent: bool) -> Select:
    # The times only go into a digest: as the database gives them, not made into datetimes for
    # each of the clock's rows (`_clock` repeats them on every row).
    live = Account.deleted_at.is_(None)
    columns = [
        func.count(Account.id).filter(live).label("live"),
        func.sum(Account.revision).filter(live).label("revisions"),
        type_coerce(func.max(Account.updated_at), Text).label("updated"),
    ]
    if recent:
        columns.append(type_coerce(func.max(Account.last_used_at), Text).label("used"))
    return select(*columns).where(Account.user_id == bindparam("user_id"))


@lru_cache(maxsize=256)
def _clock(sort: str, terms: int, grouped: bool) -> Select:
    """`_list_state` and `_code_rows` in one round trip: the state's one row, joined to each row
    shown (or, with none, alone)."""
    state = _list_state(sort == "recent").subquery("state")
    shown = _code_rows(sort, terms, grouped).subquery("shown")
    return select(*state.c, *shown.c).select_from(state.outerjoin(shown, true()))


def _state(values: Sequence[Any]) -> ListState:
    return ListState(live=values[0], signature=hashlib.sha256(repr(tuple(values)).encode()).hexdigest()[:16])


class VaultListing:
    """The reading side of `Vault` for the list (and for whoever needs many accounts at once)."""

    user: User
    # The account's OTP parameters with its secret opened (`Vault.params`).
    params: Callable[[Account], OtpParams]
    # A stored secret opened, from the account's uuid and sealed secret (`Vault.open_sealed`).
    open_sealed: Callable[[str, bytes], bytes]
    # A stored PIN opened, from the account's uuid and sealed PIN (`Vault.open_pin`).
    open_pin: Callable[[str, bytes], str]

    def _query(self, *, trashed: bool = False):
        deleted = Account.deleted_at.is_not(None) if trashed else Account.deleted_at.is_(None)
        return select(Account).where(Account.user_id == self.user.id, deleted)

    def accounts(self, query: ListQuery | None = None) -> list[Account]:
        """The live accounts in list order: favorites first, then the user's order, then by name.

        A `query` narrows and orders the list (all that match: `shown` takes its first page).
        Search is case-insensitive (for ASCII letters on SQLite, whose lower() knows no others)
        and each word must match somewhere.
        """
        query = query or ListQuery()
        return list(db.session.scalars(_listed(*_shape(query)), self._bound(query)))

    def shown(self, query: ListQuery, start: int = 0) -> tuple[list[Account], bool]:
        """The accounts the list shows from `start` up to `query.show`, and whether more match."""
        statement = _listed(*_shape(query)).offset(start).limit(query.show - start + 1)
        accounts = list(db.session.scalars(statement, self._bound(query)))
        return accounts[: query.show - start], len(accounts) > query.show - start

    def count(self, query: ListQuery) -> int:
        """How many live accounts match `query`, shown or not."""
        statement = select(func.count()).select_from(_listed(*_shape(query)).order_by(None).subquery())
        return db.session.scalar(statement, self._bound(query))

    def code_rows(self, query: ListQuery) -> list[CodeRow]:
        """What the codes of the shown time-based accounts need, and nothing else: no account
        objects, labels, groups or icons, as a refresh needs none."""
        rows = db.session.execute(_code_rows(*_shape(query)), self._bound(query))
        return [CodeRow(*row) for row in rows if row.type != OtpType.HOTP.value]

    def clock_rows(self, query: ListQuery) -> tuple[ListState, list[CodeRow]]:
        """`list_state` and `code_rows` at once, in one round trip: the clock needs both at every
        boundary of every open page."""
        state_columns = 4 if query.sort == "recent" else 3
        rows = db.session.connection().execute(_clock(*_shape(query)), self._bound(query)).all()
        shown = [CodeRow(*row[state_columns:]) for row in rows if row.type not in (None, OtpType.HOTP.value)]
        return _state(rows[0][:state_columns]), shown

    def _bound(self, query: ListQuery) -> dict[str, Any]:
        """The values of the statements of `_listed`, for this user and `query`."""
        values: dict[str, Any] = {"user_id": self.user.id, "show": query.show, "group": query.group}
        values.update((f"term{number}", _like(term)) for number, term in enumerate(query.terms))
        return values

    def step_code(self, row: CodeRow) -> Callable[[int], str]:
        """The code of `row` at a time step, its secret (and PIN) opened once for both steps.

        Only this vault's rows open: a secret is sealed for its owner (crypto.py)."""
        secret = self.open_sealed(row.uuid, row.secret_sealed)
        if row.type in (OtpType.MOTP, OtpType.YANDEX) and row.pin_sealed is not None:
            pin = self.open_pin(row.uuid, row.pin_sealed)
            compute = motp_code if row.type == OtpType.MOTP else yandex_code
            return lambda step: compute(secret, pin, step)
        return lambda step: stored_code(secret, row.type, row.algorithm, row.digits, step)

    def clock_tick(
        self,
        rows: Sequence[CodeRow],
        since: int | None,
        step_code: Callable[[CodeRow], Callable[[int], str]] | None = None,
    ) -> ClockTick:
        """What changed in the codes of these rows (`code_rows`) since `since`: only the
        secrets of the periods that changed are opened, by `step_code` (default: this vault's;
        the list of a user others share with opens each shared row with its owner's vault)."""
        step_code = step_code or self.step_code
        now = clock.now()
        periods = {row.period for row in rows}
        changes = {period: change for period in periods if (change := period_change(period, since, now))}
        codes: list[tuple[int, str]] = []
        previews: list[tuple[int, str]] = []
        for row in rows:
            change = changes.get(row.period)
            if change is None or not (change.codes or change.previews):
                continue
            code, step = step_code(row), int(now // row.period)
            if change.codes:
                codes.append((row.id, code(step)))
            if change.previews:
                previews.append((row.id, code(step + 1)))
        cleared = sorted(period for period, change in changes.items() if change.clears)
        return ClockTick(make_clock(periods, now), codes, previews, cleared)

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
        return _state(db.session.execute(_list_state(query.sort == "recent"), {"user_id": self.user.id}).one())

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
