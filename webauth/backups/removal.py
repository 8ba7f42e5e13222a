"""Removing backups that must not stay: a deleted user's, a user's who stopped their backups and
chose to delete them, and folders nobody owns any more (webauth/backups/sweep.py); docs/backups.md.

The server folder and the instance-wide WebDAV target are the operator's storage, and a backup
opens with its backup password alone, so copies there must not outlive the account (or the
user's wish). A user's own WebDAV folder is theirs, not the operator's: what the server put there
stays, and the server forgets its address and password with the plan.

A removal is owed durably before it is attempted: `schedule` adds a `BackupRemoval` row in the
transaction that deletes the user or the plan, so a crash or an unreachable WebDAV server never
forgets a file. The local folder is then removed at once (the disk is fast and at hand);
WebDAV waits for the next `flask backups run --all`, so an administrator never waits on a slow or
unreachable server. Each attempt holds the user's backup lock, so a run that was writing
finishes first and a run that was waiting then finds no plan and writes nothing. A row goes once
its target holds none of those backups; a failure keeps it, counts the attempt and says why, and
the next run tries again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from webauth import audit
from webauth.backups import files
from webauth.backups.plan import plan_of
from webauth.backups.run import BackupSettings
from webauth.backups.webdav import WebDavError
from webauth.extensions import db
from webauth.models import BackupPlan, BackupRemoval, User, utcnow

log = logging.getLogger(__name__)

FOLDER, INSTANCE_WEBDAV = "folder", "instance-webdav"


@dataclass(frozen=True)
class UserBackups:
    """Where a user's backups are, read before the user (or their plan) is deleted."""

    user_id: int
    username: str
    folder: str
    own_webdav: bool


@dataclass(frozen=True)
class Attempt:
    """One removal tried: `files` backups went, or `error` says why the row stays for the next run."""

    username: str
    folder: str
    target: str
    files: int = 0
    error: str | None = None


def user_backups(user: User) -> UserBackups | None:
    plan = plan_of(user)
    if plan is None:
        return None
    return UserBackups(user.id, user.username, plan.folder, bool(plan.webdav_url))


def schedule(found: UserBackups, settings: BackupSettings, now: datetime | None = None) -> None:
    """Owe the removal of `found`'s backups from the server folder and the instance-wide WebDAV
    target, in the caller's transaction (the one that deletes the user or the plan)."""
    targets = [FOLDER] + ([INSTANCE_WEBDAV] if settings.webdav is not None else [])
    for target in targets:
        row = db.session.scalar(
            select(BackupRemoval).where(BackupRemoval.folder == found.folder, BackupRemoval.target == target)
        )
        if row is None:
            row = BackupRemoval(user_id=found.user_id, username=found.username, folder=found.folder, target=target)
            db.session.add(row)
        # A newer request covers every backup the older one did, and those made since.
        row.requested_at = now or utcnow()
    audit.record(
        "backup.remove.scheduled",
        username=found.username,
        details={"user_id": found.user_id, "folder": found.folder, "targets": targets,
                 "own_webdav_kept": found.own_webdav},
    )


def stop_and_delete(user: User, settings: BackupSettings) -> UserBackups | None:
    """Stop `user`'s backups and owe the removal of what was written, in the caller's transaction:
    the plan goes (the backup password's slot and master key, the WebDAV address and password),
    so a later start is a new plan under a new password. After the commit, `remove_local_now`.
    """
    found = user_backups(user)
    if found is None:
        return None
    schedule(found, settings)
    db.session.delete(plan_of(user))
    audit.record("backup.stop", user=user, details={"files": "deleted"})
    return found


def pending(folder: str | None = None) -> list[BackupRemoval]:
    query = select(BackupRemoval).order_by(BackupRemoval.id)
    if folder is not None:
        query = query.where(BackupRemoval.folder == folder)
    return list(db.session.scalars(query))


def remove_local_now(found: UserBackups, settings: BackupSettings, now: datetime | None = None) -> bool:
    """Work through the owed removal of `found`'s server folder at once, and commit; True when
    nothing is owed for that user any more (the instance-wide WebDAV target waits for the runner)."""
    for row in pending(found.folder):
        if row.target == FOLDER:
            attempt(row, settings, now or utcnow())
    return not pending(found.folder)


def attempt(row: BackupRemoval, settings: BackupSettings, now: datetime) -> Attempt:
    """Try one owed removal under the user's lock; the row goes when it is done, else records
    why. Commits."""
    row_id, user_id, username, folder, target = row.id, row.user_id, row.username, row.folder, row.target
    db.session.commit()  # nothing of the caller's held while this waits for the lock
    with files.user_lock(settings.root, user_id):
        # On PostgreSQL, a runner on another machine working on this row has it locked: skip it.
        row = db.session.get(BackupRemoval, row_id, populate_existing=True, with_for_update={"skip_locked": True})
        if row is None:  # another runner did it, or is doing it
            return Attempt(username, folder, target)
        # A plan that owns the folder again (the user started anew) keeps the backups made since.
        owned = db.session.scalar(select(BackupPlan.user_id).where(BackupPlan.folder == folder)) is not None
        up_to = row.requested_at if owned else None
        try:
            count = _remove(target, folder, settings, up_to)
        except (OSError, WebDavError, ValueError) as error:
            kind = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
            row.attempts += 1
            row.last_error, row.last_attempt_at = kind[:64], now
            db.session.commit()
            log.warning("backups of user %s left on %s (attempt %d): %s", user_id, target, row.attempts, kind)
            return Attempt(username, folder, target, error=kind)
        db.session.delete(row)
        audit.record(
            "backup.remove",
            username=username,
            details={"user_id": user_id, "folder": folder, "target": target, "files": count, "all": up_to is None},
        )
        db.session.commit()
        return Attempt(username, folder, target, files=count)


def _remove(target: str, folder: str, settings: BackupSettings, up_to: datetime | None) -> int:
    if target == FOLDER:
        return files.remove_backups(settings.root, folder, up_to)
    if target == INSTANCE_WEBDAV:
        if settings.webdav is None:
            raise ValueError("WEBAUTH_BACKUP_WEBDAV_URL is not set any more")
        return settings.webdav.folder_for(folder).remove_backups(up_to)
    raise ValueError(f"unknown target {target!r}")


def run_pending(settings: BackupSettings, now: datetime | None = None) -> list[Attempt]:
    """Try every owed removal once, oldest first (`flask backups run --all` and `sweep`)."""
    ids = [row.id for row in pending()]
    attempts = []
    for row_id in ids:
        row = db.session.get(BackupRemoval, row_id)
        if row is not None:
            attempts.append(attempt(row, settings, now or utcnow()))
    return attempts
