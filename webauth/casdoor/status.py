"""What a sync's outcome and a user's sync status are called, in words for the page.

`sync.sync_user` answers with a `SyncReport` (an `Outcome`, and for a failure an `ErrorKind`);
the link row keeps the last one, and `status_of` reads it back as the status line above the
code list (`SyncStatus.words`, `notes`, the kept-both conflicts).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from flask_babel import format_timedelta, ngettext
from flask_babel import gettext as _
from sqlalchemy import select

from webauth.extensions import db
from webauth.models import CasdoorLink, CasdoorMark, User, utcnow


class Outcome(StrEnum):
    OK = "ok"
    FAILED = "error"
    BUSY = "busy"  # another sync of this user held the lease for longer than we waited
    WAITING = "waiting"  # an automatic sync skipped: backing off after failures, or one just ran
    NOT_LINKED = "not-linked"


class ErrorKind(StrEnum):
    """Why a sync failed; `error_message` says it in words."""

    UNREACHABLE = "unreachable"
    TIMEOUT = "timeout"
    SERVER = "server"
    SESSION_EXPIRED = "session-expired"
    MFA_HIDDEN = "mfa-hidden"
    PERMISSION = "permission"
    REJECTED = "rejected"
    NOT_STORED = "not-stored"
    CHANGING = "changing"
    INTERNAL = "internal"


@dataclass(frozen=True)
class SyncReport:
    """The outcome of one call to `sync_user`."""

    outcome: Outcome
    error: ErrorKind | None = None
    detail: str = ""
    changed_local: bool = False
    summary: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK

    @property
    def message(self) -> str:
        if self.error is not None:
            return error_message(self.error, self.detail)
        return {
            Outcome.OK: _("Synced with Casdoor."),
            Outcome.BUSY: _("Another sync of this account is running; it will bring the changes."),
            Outcome.WAITING: _("Waiting before the next automatic sync."),
            Outcome.NOT_LINKED: _("This account is not connected to Casdoor."),
        }.get(self.outcome, "")


def error_message(kind: ErrorKind | str, detail: str = "") -> str:
    """A failed sync, in words for the user."""
    messages = {
        ErrorKind.UNREACHABLE: _("Casdoor could not be reached."),
        ErrorKind.TIMEOUT: _("Casdoor did not answer in time."),
        ErrorKind.SERVER: _("Casdoor answered with an error or with something webauth could not read."),
        ErrorKind.SESSION_EXPIRED: _("Your Casdoor session has expired; sign in with Casdoor again."),
        ErrorKind.MFA_HIDDEN: _(
            'The organization does not let users see MFA accounts; its administrator can add the "MFA accounts" '
            "account item in Casdoor."
        ),
        ErrorKind.PERMISSION: _("Casdoor did not allow webauth to read or change your MFA accounts."),
        ErrorKind.REJECTED: _("Casdoor refused the change: %(reason)s", reason=detail or _("no reason given")),
        ErrorKind.NOT_STORED: _(
            "Casdoor did not keep the change; the organization may not let users edit their MFA accounts."
        ),
        ErrorKind.CHANGING: _("Your MFA accounts kept changing during the sync; it will be tried again."),
        ErrorKind.INTERNAL: _("The sync failed because of an error in webauth; it has been logged."),
    }
    try:
        return messages[ErrorKind(kind)]
    except ValueError:
        return messages[ErrorKind.INTERNAL]


@dataclass(frozen=True)
class SyncStatus:
    """What the status line shows about a user's sync."""

    last_attempt_at: datetime | None
    last_success_at: datetime | None
    result: str | None
    error: str | None
    detail: str
    summary: Mapping[str, Any]
    next_attempt_at: datetime | None
    running: bool
    signed_in: bool

    @property
    def failed(self) -> bool:
        return self.result == "error"

    @property
    def error_text(self) -> str:
        return error_message(self.error or ErrorKind.INTERNAL, self.detail) if self.failed else ""

    @property
    def conflicts(self) -> list[Mapping[str, str]]:
        return list(self.summary.get("conflicts") or [])

    def words(self) -> str:
        """One sentence about the last sync, for the status line."""
        now = utcnow()
        if self.running and self.last_attempt_at is None:
            return _("Syncing with Casdoor…")
        if self.failed:
            text = _(
                "The last sync failed %(when)s: %(reason)s",
                when=_ago(self.last_attempt_at, now),
                reason=self.error_text,
            )
            if self.next_attempt_at is not None and self.next_attempt_at > now:
                wait = format_timedelta(self.next_attempt_at - now, threshold=1.1)
                text += " " + _("Next automatic try in %(wait)s.", wait=wait)
            return text
        if self.last_success_at is None:
            return _("Not synced with Casdoor yet.")
        text = _("Synced with Casdoor %(when)s.", when=_ago(self.last_success_at, now))
        changes = []
        if added := self.summary.get("added_here"):
            changes.append(ngettext("%(num)d account added here", "%(num)d accounts added here", added))
        if changed := self.summary.get("changed_here"):
            changes.append(ngettext("%(num)d account changed here", "%(num)d accounts changed here", changed))
        if trashed := self.summary.get("trashed_here"):
            changes.append(
                ngettext("%(num)d account moved to the trash", "%(num)d accounts moved to the trash", trashed)
            )
        if changes:
            text += " " + _("Last changes: %(changes)s.", changes=", ".join(changes))
        return text

    def notes(self) -> list[str]:
        """Lasting facts about the accounts worth telling beside the last result."""
        notes = []
        if count := self.summary.get("parameters_only"):
            notes.append(
                ngettext(
                    "%(num)d account uses settings Casdoor cannot store; Casdoor keeps only its secret.",
                    "%(num)d accounts use settings Casdoor cannot store; Casdoor keeps only their secrets.",
                    count,
                )
            )
        if count := self.summary.get("not_synced"):
            notes.append(
                ngettext(
                    "%(num)d account is not synced: its issuer, name or secret is longer than Casdoor allows.",
                    "%(num)d accounts are not synced: their issuer, name or secret is longer than Casdoor allows.",
                    count,
                )
            )
        if count := self.summary.get("not_synced_type"):
            notes.append(
                ngettext(
                    "%(num)d mOTP or Yandex account is kept here only: Casdoor cannot hold its type.",
                    "%(num)d mOTP or Yandex accounts are kept here only: Casdoor cannot hold their type.",
                    count,
                )
            )
        if count := self.summary.get("unreadable_in_casdoor"):
            notes.append(
                ngettext(
                    "%(num)d entry in Casdoor could not be read here; it is left as it is.",
                    "%(num)d entries in Casdoor could not be read here; they are left as they are.",
                    count,
                )
            )
        return notes


def _ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return _("never")
    return format_timedelta(moment - now, add_direction=True, threshold=1.1)


def status_of(user: User) -> SyncStatus | None:
    link = db.session.get(CasdoorLink, user.id)
    if link is None:
        return None
    now = utcnow()
    return SyncStatus(
        last_attempt_at=link.last_attempt_at,
        last_success_at=link.last_success_at,
        result=link.last_result,
        error=link.last_error,
        detail=link.last_detail or "",
        summary=link.last_summary or {},
        next_attempt_at=link.next_attempt_at,
        running=link.locked_until is not None and link.locked_until > now,
        signed_in=link.refresh_token_sealed is not None
        or (link.access_expires_at is not None and link.access_expires_at > now),
    )


def dismiss_conflicts(user: User) -> None:
    link = db.session.get(CasdoorLink, user.id)
    if link is not None and (link.last_summary or {}).get("conflicts"):
        link.last_summary = {**link.last_summary, "conflicts": [], "conflicts_at": None}


def marks_of(user: User) -> dict[int, str]:
    """Account id → mark reason, for the code list."""
    rows = db.session.execute(select(CasdoorMark.account_id, CasdoorMark.reason).where(CasdoorMark.user_id == user.id))
    return dict(rows.all())
