"""Administration: who is an administrator, users and their sessions, sign-in history, the audit log.

The admin console, each user's own "sign-ins and sessions" page and the CLI call these
functions; none of them query the models directly. Every change writes its audit event in
the same transaction, which the caller commits (only `delete_user` commits itself, and says
why). Nothing here opens a secret: a user is shown with counts and dates,
never with the contents of their vault.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from math import ceil
from typing import Any, Generic, TypeVar

from flask import Flask, current_app
from flask_babel import gettext as _
from sqlalchemy import ColumnElement, and_, delete, func, or_, select
from sqlalchemy.orm import aliased

from webauth import audit, offline, settings, users
from webauth.backups import removal
from webauth.backups.run import BackupSettings
from webauth.extensions import db
from webauth.models import Account, AuditEvent, OfflineDevice, SessionRecord, User, utcnow

T = TypeVar("T")

USERS_PER_PAGE = 25
SIGNINS_PER_PAGE = 20
AUDIT_PER_PAGE = 50
SIGNIN_EVENTS = ("signin.success", "signin.failure")
EVENT_FILTER = re.compile(r"[a-z0-9_]+(\.[a-z0-9_]+)*(\.\*)?")
# Spreadsheets run a cell starting with one of these as a formula (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class AdminError(ValueError):
    """An action the console refuses, with a message for the administrator; `field` names the input."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(LookupError):
    """No such user, session or device (one of another user counts as none)."""


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a numbered list."""

    items: list[T]
    number: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def _page_number(number: int, total: int, per_page: int) -> int:
    """A page that exists: past the end means the last page, before the start the first."""
    return min(max(number, 1), max(1, ceil(total / per_page)))


def _like(text: str) -> str:
    """A LIKE pattern finding `text` anywhere, with LIKE's own wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# Who is an administrator ------------------------------------------------------------------


def has_admin_role(user: User) -> bool:
    """The local admin flag (also set from Casdoor's `isAdmin`), or a name in WEBAUTH_ADMINS.

    Who can hold such a name decides who becomes an administrator by it:
    - a local name (no "/") only through an operator: the set-up page, `flask users create`,
      or a user made before the name was listed; open registration and the proxy's user
      creation refuse it (users.is_configured_admin_name);
    - a Casdoor name `organization/name` only by that organization's user of that name, and
      it counts only while the organization is trusted with administrators here
      (users.admin_organizations), the same rule as for `isAdmin`.
    """
    if user.is_admin:
        return True
    if user.username not in current_app.config["WEBAUTH_ADMINS"]:
        return False
    organization, slash, _name = user.username.partition("/")
    return not slash or organization in users.admin_organizations()


def is_admin(user: Any) -> bool:
    """Whether `user` (maybe Flask-Login's anonymous user) may use the console now."""
    return bool(user is not None and user.is_authenticated and not user.disabled and has_admin_role(user))


# The Casdoor sync hook -------------------------------------------------------------------


@dataclass(frozen=True)
class SyncResult:
    """The outcome of one user's sync, as the console shows it."""

    ok: bool
    at: datetime | None
    message: str = ""


@dataclass(frozen=True)
class SyncHooks:
    """What the Casdoor sync offers the console; without it the console shows no sync at all.

    `last_results(user_ids)` maps the ids of users that have synced to their last result.
    `force(user)` syncs one user now and returns the result (a failure is a result, not an
    exception).
    """

    last_results: Callable[[Sequence[int]], Mapping[int, SyncResult]]
    force: Callable[[User], SyncResult]


_SYNC_HOOKS = "webauth.admin.sync_hooks"


def provide_sync_hooks(app: Flask, hooks: SyncHooks) -> None:
    """Called by the sync feature when it is set up: the console then shows its column and button."""
    app.extensions[_SYNC_HOOKS] = hooks


def sync_hooks() -> SyncHooks | None:
    return current_app.extensions.get(_SYNC_HOOKS)


def can_sync(user: User) -> bool:
    return sync_hooks() is not None and user.oidc_subject is not None


def force_sync(user: User) -> SyncResult:
    hooks = sync_hooks()
    if hooks is None or user.oidc_subject is None:
        raise NotFound(user.id)
    result = hooks.force(user)
    audit.record("admin.user.sync", user=user, details={"ok": result.ok})
    return result


# Users -------------------------------------------------------------------------------------


def live_session_clause(now: datetime) -> ColumnElement[bool]:
    """Sessions that `users.session_record` would still accept (the same rules, in SQL)."""
    clauses = [
        SessionRecord.revoked_at.is_(None),
        SessionRecord.expires_at > now,
        SessionRecord.created_at > now - settings.session_lifetime(),
    ]
    idle = settings.idle_lock()
    if idle is not None:
        clauses.append(SessionRecord.last_seen_at >= now - idle - users.LAST_SEEN_RESOLUTION)
    return and_(*clauses)


@dataclass(frozen=True)
class UserRow:
    """One line of the users list: counts and dates, never an account's contents."""

    user: User
    admin: bool
    accounts: int
    sessions: int
    offline_devices: int
    sync: SyncResult | None


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(user_id)
    return user


def list_users(search: str = "", page: int = 1, per_page: int = USERS_PER_PAGE) -> Page[UserRow]:
    """Users whose username or display name contains `search`, by username, one page."""
    now = utcnow()
    accounts = (
        select(func.count(Account.id))
        .where(Account.user_id == User.id, Account.deleted_at.is_(None))
        .correlate(User)
        .scalar_subquery()
    )
    sessions = (
        select(func.count(SessionRecord.id))
        .where(SessionRecord.user_id == User.id, live_session_clause(now))
        .correlate(User)
        .scalar_subquery()
    )
    query = select(User, accounts, sessions)
    search = search.strip()
    if search:
        pattern = _like(search.lower())
        query = query.where(
            or_(
                func.lower(User.username).like(pattern, escape="\\"),
                func.lower(User.display_name).like(pattern, escape="\\"),
            )
        )
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    number = _page_number(page, total, per_page)
    rows = db.session.execute(
        query.order_by(func.lower(User.username), User.id).limit(per_page).offset((number - 1) * per_page)
    ).all()
    ids = [user.id for user, _a, _s in rows]
    offline = _offline_devices(ids)
    hooks = sync_hooks()
    synced = hooks.last_results(ids) if hooks is not None and ids else {}
    items = [
        UserRow(user, has_admin_role(user), count, live, offline.get(user.id, 0), synced.get(user.id))
        for user, count, live in rows
    ]
    return Page(items, number, per_page, total)


def _offline_devices(user_ids: Sequence[int]) -> dict[int, int]:
    """How many devices of each user hold an offline copy (users with none are left out)."""
    if not user_ids:
        return {}
    rows = db.session.execute(
        select(OfflineDevice.user_id, func.count(OfflineDevice.id))
        .where(OfflineDevice.user_id.in_(user_ids), OfflineDevice.ended_at.is_(None))
        .group_by(OfflineDevice.user_id)
    ).all()
    return {user_id: count for user_id, count in rows}


def account_count(user: User) -> int:
    """The user's accounts, not counting the trash."""
    query = select(func.count(Account.id)).where(Account.user_id == user.id, Account.deleted_at.is_(None))
    return db.session.scalar(query) or 0


def set_disabled(user: User, disabled: bool, actor: User) -> int:
    """Disable or enable a user; disabling also ends all their sessions. Returns sessions ended.

    The accounts they share are hidden from their recipients meanwhile (sharing/received.py).
    The user's next request, in any process, is refused: `users.session_record` checks the
    flag and the sessions on every request.
    """
    if user.id == actor.id:
        raise AdminError(_("You cannot disable or enable your own account."))
    if user.disabled == disabled:
        return 0
    user.disabled = disabled
    ended = users.end_sessions(user.id) if disabled else 0
    event = "admin.user.disable" if disabled else "admin.user.enable"
    audit.record(event, user=user, details={"sessions_ended": ended} if disabled else {})
    return ended


def password_resettable(user: User) -> bool:
    """Whether a reset here makes sense: not for a Casdoor-only user, whose password lives in Casdoor.

    Giving such a user a local password would also change who decides their role
    (users.apply_casdoor_claims), which a password reset should not do on the side.
    """
    return bool(user.password_hash) or not user.oidc_subject


def reset_password(user: User, password: str, actor: User) -> int:
    """An administrator resets another user's password; it must be changed at their next sign-in.

    Returns how many of the user's sessions ended. Their own password an administrator changes
    on their account page, with the current one.
    """
    if user.id == actor.id:
        raise AdminError(_("Change your own password on your account page."))
    if not password_resettable(user):
        raise AdminError(_("This user signs in with Casdoor: reset their password in Casdoor."))
    return users.reset_password(user, password, by="admin")


@dataclass(frozen=True)
class Deleted:
    accounts: int
    # Some of the user's backups wait for the next backup run to be removed (a WebDAV target, or
    # a folder that could not be removed at once): `flask backups run --all` does it, retrying.
    backups_pending: bool = False


def delete_user(user: User, confirmation: str, actor: User) -> Deleted:
    """Delete a user and their whole vault, once the administrator has typed the username.

    The database removes the accounts and sessions (ON DELETE CASCADE) and keeps the audit
    trail, whose events lose their user id but keep the name. The removal of the user's backups
    is owed in the same transaction; once that is committed, their folder on the server goes at
    once, and the instance-wide WebDAV copies at the next backup run, so the deletion never waits
    on a WebDAV server (webauth/backups/removal.py).

    The one commit here is on purpose, before the folder is removed: files cannot roll back, so
    they go only once the deletion (and the removal owed) is durable; a deletion that failed to
    commit must not have taken the user's backups with it.
    """
    if user.id == actor.id:
        raise AdminError(_("You cannot delete your own account."))
    if confirmation.strip() != user.username:
        raise AdminError(_("Type the username, %(name)s, to confirm.", name=user.username), field="confirmation")
    accounts = db.session.scalar(select(func.count(Account.id)).where(Account.user_id == user.id)) or 0
    user_id, username = user.id, user.username
    backups = removal.user_backups(user)
    settings = BackupSettings.from_config(current_app.config)
    if backups is not None:
        removal.schedule(backups, settings)
    db.session.execute(delete(User).where(User.id == user_id))
    audit.record("admin.user.delete", username=username, details={"user_id": user_id, "accounts": accounts})
    db.session.commit()
    if backups is None:
        return Deleted(accounts)
    return Deleted(accounts, backups_pending=not removal.remove_local_now(backups, settings))


# Sessions ----------------------------------------------------------------------------------


def active_sessions(user: User) -> list[SessionRecord]:
    """The user's live sessions, the most recently used first."""
    return list(
        db.session.scalars(
            select(SessionRecord)
            .where(SessionRecord.user_id == user.id, live_session_clause(utcnow()))
            .order_by(SessionRecord.last_seen_at.desc(), SessionRecord.id.desc())
        )
    )


def revoke_session(user: User, session_id: int, *, event: str) -> None:
    """End one of `user`'s sessions; an id belonging to someone else is `NotFound`.

    `event` says who did it: `admin.session.revoke` from the console, `session.revoke` by the
    user, `session.lock` by the idle lock.
    """
    record = db.session.scalar(
        select(SessionRecord).where(SessionRecord.id == session_id, SessionRecord.user_id == user.id)
    )
    if record is None:
        raise NotFound(session_id)
    if record.revoked_at is None:
        record.revoked_at = utcnow()
    audit.record(event, user=user, details={"session": record.id, "method": record.method})


def revoke_sessions(user: User, *, event: str, keep: int | None = None) -> int:
    """End all of `user`'s sessions but `keep`; returns how many were still open."""
    ended = users.end_sessions(user.id, keep)
    audit.record(event, user=user, details={"count": ended})
    return ended


def end_offline_device(user: User, device_uuid: str) -> None:
    """End a device's offline copy: it may no longer refresh, and wipes the copy when next online."""
    device = offline.active_device(user, device_uuid)
    if device is None:
        raise NotFound(device_uuid)
    offline.end_device(device, user, "revoked")


# Sign-in history ---------------------------------------------------------------------------


def signin_history(user: User, page: int = 1, per_page: int = SIGNINS_PER_PAGE) -> Page[AuditEvent]:
    """The user's sign-ins, newest first: successes, and failures under their name.

    A wrong password is recorded without a user id (the name typed may not exist), so
    failures are matched by name, from the day this user was created on.
    """
    mine = and_(
        AuditEvent.event.in_(SIGNIN_EVENTS),
        or_(
            AuditEvent.user_id == user.id,
            and_(
                AuditEvent.user_id.is_(None),
                AuditEvent.username == user.username,
                AuditEvent.at >= user.created_at,
            ),
        ),
    )
    total = db.session.scalar(select(func.count(AuditEvent.id)).where(mine)) or 0
    number = _page_number(page, total, per_page)
    items = db.session.scalars(
        select(AuditEvent)
        .where(mine)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(per_page)
        .offset((number - 1) * per_page)
    )
    return Page(list(items), number, per_page, total)


# The audit log -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilter:
    """What the audit log shows: a user (subject or actor, by part of the name), a type, dates.

    `event` is an event name (`signin.failure`) or a family (`signin.*`). `since` and `until`
    are days in UTC, both included.
    """

    user: str = ""
    event: str = ""
    since: date | None = None
    until: date | None = None

    def __post_init__(self) -> None:
        if self.event and not (len(self.event) <= 64 and EVENT_FILTER.fullmatch(self.event)):
            raise AdminError(_("There is no event type %(name)s.", name=self.event), field="event")
        if self.since and self.until and self.since > self.until:
            raise AdminError(_("The start date is after the end date."), field="until")

    def clauses(self, actor: Any) -> list[ColumnElement[bool]]:
        clauses: list[ColumnElement[bool]] = []
        if self.user.strip():
            pattern = _like(self.user.strip().lower())
            clauses.append(
                or_(
                    func.lower(AuditEvent.username).like(pattern, escape="\\"),
                    func.lower(actor.username).like(pattern, escape="\\"),
                )
            )
        if self.event.endswith(".*"):
            clauses.append(AuditEvent.event.like(self.event[:-1].replace("_", "\\_") + "%", escape="\\"))
        elif self.event:
            clauses.append(AuditEvent.event == self.event)
        if self.since:
            clauses.append(AuditEvent.at >= datetime.combine(self.since, time.min, UTC))
        if self.until:
            clauses.append(AuditEvent.at < datetime.combine(self.until + timedelta(days=1), time.min, UTC))
        return clauses

    def as_details(self) -> dict[str, str]:
        """What was set, as strings: the details of an export's audit event, and the query of links."""
        values = {"user": self.user.strip(), "event": self.event, "since": self.since, "until": self.until}
        return {name: str(value) for name, value in values.items() if value}


@dataclass(frozen=True)
class AuditRow:
    event: AuditEvent
    actor: str  # the actor's username, "" when nobody was signed in or the actor was deleted


@dataclass(frozen=True)
class AuditPage:
    """A stretch of the log, newest first; `newer` and `older` say whether more lies each way."""

    rows: list[AuditRow]
    newer: bool
    older: bool
    filters: AuditFilter = field(default_factory=AuditFilter)

    @property
    def first_id(self) -> int | None:
        return self.rows[0].event.id if self.rows else None

    @property
    def last_id(self) -> int | None:
        return self.rows[-1].event.id if self.rows else None


def _audit_query(filters: AuditFilter):
    actor = aliased(User)
    query = (
        select(AuditEvent, actor.username)
        .outerjoin(actor, actor.id == AuditEvent.actor_id)
        .where(*filters.clauses(actor))
    )
    return query


def audit_page(
    filters: AuditFilter, *, before: int | None = None, after: int | None = None, per_page: int = AUDIT_PER_PAGE
) -> AuditPage:
    """Events matching `filters`, newest first, older than `before` or newer than `after`.

    Paging by id keeps a page stable while new events arrive, and costs the same on the
    millionth event as on the first.
    """
    query = _audit_query(filters)
    if after is not None:
        rows = db.session.execute(
            query.where(AuditEvent.id > after).order_by(AuditEvent.id.asc()).limit(per_page + 1)
        ).all()
        newer = len(rows) > per_page
        rows = list(reversed(rows[:per_page]))
        older = True
    else:
        if before is not None:
            query = query.where(AuditEvent.id < before)
        rows = db.session.execute(query.order_by(AuditEvent.id.desc()).limit(per_page + 1)).all()
        older = len(rows) > per_page
        rows = rows[:per_page]
        newer = before is not None
    items = [AuditRow(event, actor or "") for event, actor in rows]
    if after is not None and not items:
        return audit_page(filters, per_page=per_page)
    return AuditPage(items, newer=newer and bool(items), older=older, filters=filters)


def event_types() -> list[str]:
    """The event types the log holds, for the filter's choices."""
    return sorted(db.session.scalars(select(AuditEvent.event).distinct()))


CSV_COLUMNS = ("time", "event", "user", "user_id", "actor", "actor_id", "ip", "user_agent", "details")


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def audit_csv(filters: AuditFilter, batch: int = 500) -> Iterator[str]:
    """The matching events as CSV text, oldest first, in chunks of `batch` rows.

    Usernames and user agents come from whoever knocked on the sign-in page, so a cell a
    spreadsheet would run as a formula gets a leading apostrophe.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    query = _audit_query(filters).order_by(AuditEvent.id.asc()).execution_options(yield_per=batch)
    for count, (event, actor) in enumerate(db.session.execute(query), start=1):
        writer.writerow(
            [
                event.at.astimezone(UTC).isoformat(timespec="seconds"),
                _cell(event.event),
                _cell(event.username),
                event.user_id or "",
                _cell(actor),
                event.actor_id or "",
                _cell(event.ip),
                _cell(event.user_agent),
                json.dumps(event.details or {}, sort_keys=True, ensure_ascii=False),
            ]
        )
        if count % batch == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def record_export(filters: AuditFilter, target: str) -> None:
    """Audit an export of the audit log; the caller commits it before the stream starts (a stream cannot roll back)."""
    audit.record("audit.export", details={"to": target, **filters.as_details()})


@dataclass(frozen=True)
class PruneResult:
    cutoff: datetime
    events: int
    sessions: int


def prune(days: int | None = None) -> PruneResult | None:
    """Delete audit events older than the retention period, and sessions that ended before it.

    `days` defaults to WEBAUTH_AUDIT_RETENTION_DAYS; 0 or less keeps everything (None is
    returned). The prune itself is audited, after the deletion, so its record stays.
    """
    days = current_app.config["WEBAUTH_AUDIT_RETENTION_DAYS"] if days is None else days
    if days <= 0:
        return None
    cutoff = utcnow() - timedelta(days=days)
    events = db.session.execute(delete(AuditEvent).where(AuditEvent.at < cutoff)).rowcount
    sessions = db.session.execute(
        delete(SessionRecord).where(or_(SessionRecord.revoked_at < cutoff, SessionRecord.expires_at < cutoff))
    ).rowcount
    audit.record("audit.prune", details={"days": days, "events": events, "sessions": sessions})
    return PruneResult(cutoff, events, sessions)
