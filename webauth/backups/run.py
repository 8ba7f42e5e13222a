"""Writing the backups: each user with a backup password gets an Aegis vault in their folder, and
on their WebDAV targets, when their vault changed since the last backup.

`backup_user` does one user in a transaction of its own, which it commits (so a failure of one
never undoes another's record). It never needs the backup password: the vault is sealed under
the user's backup master key and carries the slot made from the password.

Two runs for the same user at once (two app servers' schedulers, cron and "Back up now") take
turns: each holds the user's lock (`files.user_lock`, and on PostgreSQL the plan's row lock,
for app servers on other machines) from reading the plan to committing its outcome. The second
then reads what the first recorded: it finds the vault backed up already, or writes the newer
state under a later name, so retention never deletes the other's file and the record never goes
back in time. Nothing is written to the database before the commit, so on SQLite no write lock
is held while a backup uploads to a slow WebDAV server.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import ObjectDeletedError, StaleDataError

from webauth import audit
from webauth.backups import files
from webauth.backups.plan import master_key, state_digest, webdav_password
from webauth.backups.webdav import WebDavError, WebDavTarget
from webauth.crypto import DecryptionError, Keyring, KeyringError
from webauth.extensions import db
from webauth.models import Account, BackupPlan, User
from webauth.otpauth import AccountSpec
from webauth.transfer.aegis import export_aegis_sealed
from webauth.vault import Vault

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BackupSettings:
    """Where backups go and how many stay: WEBAUTH_BACKUP_* from the app's config."""

    root: Path
    keep: int
    interval_hours: int = 24
    # The instance-wide WebDAV target, if configured: each user's backups go to their folder there.
    webdav: WebDavTarget | None = None

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> BackupSettings:
        url = config["WEBAUTH_BACKUP_WEBDAV_URL"]
        webdav = None
        if url:
            webdav = WebDavTarget(
                url if url.endswith("/") else url + "/",
                config["WEBAUTH_BACKUP_WEBDAV_USERNAME"],
                config["WEBAUTH_BACKUP_WEBDAV_PASSWORD"],
            )
        return cls(
            root=Path(config["WEBAUTH_BACKUP_DIR"]),
            keep=config["WEBAUTH_BACKUP_KEEP"],
            interval_hours=config["WEBAUTH_BACKUP_INTERVAL_HOURS"],
            webdav=webdav,
        )


@dataclass(frozen=True)
class Outcome:
    """What one user's run did: "written", "unchanged", "failed", "no-password", "stopped" (the user
    stopped their backups), or "deleted"
    (the user was deleted while the run waited or ran; their files go with them)."""

    username: str
    result: str
    file: str = ""
    size: int = 0
    accounts: int = 0
    # The kind of the failure (status.FAILURES), also when the folder was written but WebDAV failed.
    error: str | None = None
    targets: list[str] = field(default_factory=list)


def vault_specs(vault: Vault) -> list[AccountSpec]:
    """Every live account with its secret, groups and icon, in list order, in three queries whatever the count."""
    accounts = db.session.scalars(
        select(Account)
        .where(Account.user_id == vault.user.id, Account.deleted_at.is_(None))
        .options(selectinload(Account.groups))  # type: ignore[attr-defined]
        .order_by(Account.position, Account.id)
    ).unique()
    return [vault.spec(account) for account in accounts]


def _webdav_targets(vault: Vault, plan: BackupPlan, settings: BackupSettings) -> list[tuple[str, WebDavTarget]]:
    targets = []
    if settings.webdav is not None:
        targets.append(("instance-webdav", settings.webdav.folder_for(plan.folder)))
    if plan.webdav_url:
        targets.append(("webdav", WebDavTarget(plan.webdav_url, plan.webdav_username, webdav_password(vault, plan))))
    return targets


def _fail(user: User, plan: BackupPlan, kind: str, now: datetime, **result: Any) -> Outcome:
    plan.last_error, plan.last_error_at = kind, now
    audit.record("backup.failure", user=user, details={"kind": kind})
    log.warning("backup of user %s: %s", user.id, kind)
    return Outcome(user.username, result.pop("result", "failed"), error=kind, **result)


def backup_user(user: User, keyring: Keyring, settings: BackupSettings, now: datetime) -> Outcome:
    """Back up `user`'s vault if it changed since the last backup (or a WebDAV upload is owed), and commit.

    The caller's transaction is committed first: nothing of it is held while this waits for the
    user's lock. Committing here is on purpose (the one exception to "the caller owns the
    transaction" in backups): each user's outcome is its own transaction, so one user's failure
    never undoes another's record, and on SQLite no write lock is held across the user's lock
    and the uploads to a slow WebDAV server.
    """
    try:
        user_id, username = user.id, user.username
        db.session.commit()
    except ObjectDeletedError:
        db.session.rollback()
        return Outcome("", "deleted")
    with files.user_lock(settings.root, user_id):
        try:
            with db.session.no_autoflush:
                outcome = _backup_locked(user, keyring, settings, now)
            db.session.commit()
        except (StaleDataError, ObjectDeletedError, IntegrityError):
            # Deleted meanwhile (on SQLite nothing locks the rows: the plan's update matches
            # nothing, or the audit event names a user who is gone): the deletion removes the
            # folder once this run lets go of the lock. Any other failure is an error.
            db.session.rollback()
            if db.session.get(User, user_id) is not None:
                raise
            return Outcome(username, "deleted")
    return outcome


def _backup_locked(user: User, keyring: Keyring, settings: BackupSettings, now: datetime) -> Outcome:
    # On PostgreSQL, the user's row first (FOR KEY SHARE): a deletion waits for this run rather
    # than deadlocking with it over the audit event that names the user.
    alive = select(User.id).where(User.id == user.id).with_for_update(read=True, key_share=True)
    if db.session.scalar(alive) is None:
        return Outcome(user.username, "deleted")
    # A fresh read under the lock: what a run that held it before us recorded. On PostgreSQL the
    # row stays locked until the commit, for runs on other machines.
    plan = db.session.get(BackupPlan, user.id, with_for_update=True, populate_existing=True)
    if plan is None:
        return Outcome(user.username, "no-password")
    if plan.stopped_at is not None:
        return Outcome(user.username, "stopped")
    # Never back in time: a run that waited for another names its file after that one's.
    now = max([now, *(at for at in (plan.last_attempt_at, plan.last_backup_at) if at is not None)])
    plan.last_attempt_at = now
    vault = Vault(user, keyring)
    digest = state_digest(user, plan)
    try:
        folder = files.user_folder(settings.root, plan.folder)
        files.remove_leftovers(folder)
        existing = files.listing(folder)
    except OSError:
        return _fail(user, plan, "folder", now)
    upload_owed = (plan.last_error or "").startswith("webdav")
    latest = existing[-1] if existing else None
    if digest == plan.state_digest and latest is not None and latest.name == plan.last_file and not upload_owed:
        return Outcome(user.username, "unchanged", file=latest.name, size=latest.size)
    try:
        if digest != plan.state_digest or latest is None or latest.name != plan.last_file:
            specs = vault_specs(vault)
            data = export_aegis_sealed(specs, master_key(vault, plan), [plan.slot])
            name = files.file_name(now, {item.name for item in existing})
            files.write_atomically(folder, name, data)
            files.prune(folder, settings.keep)
            plan.last_backup_at, plan.last_file = now, name
            plan.last_size, plan.last_accounts = len(data), len(specs)
            plan.state_digest = digest
            written = True
        else:
            name, data, written = plan.last_file, (folder / plan.last_file).read_bytes(), False
        targets = _webdav_targets(vault, plan, settings)
    except (DecryptionError, KeyringError):
        return _fail(user, plan, "keys", now)
    except OSError:
        return _fail(user, plan, "folder", now)
    done = ["folder"] if written else []
    for label, target in targets:
        try:
            target.upload(name, data)
            target.prune(settings.keep)
        except WebDavError as error:
            if written:
                audit.record("backup", user=user, details=_details(plan, done))
            return _fail(user, plan, error.kind, now, result="written" if written else "failed",
                         file=name, size=len(data), accounts=plan.last_accounts, targets=done)
        done.append(label)
    plan.last_error, plan.last_error_at = None, None
    audit.record("backup", user=user, details=_details(plan, done))
    return Outcome(user.username, "written", name, len(data), plan.last_accounts, None, done)


def _details(plan: BackupPlan, targets: list[str]) -> dict[str, Any]:
    return {"file": plan.last_file, "bytes": plan.last_size, "accounts": plan.last_accounts, "targets": targets}


def planned_users() -> list[User]:
    """Every enabled user with a backup password whose backups are not stopped, in id order."""
    query = (
        select(User)
        .join(BackupPlan, BackupPlan.user_id == User.id)
        .where(User.disabled.is_(False), BackupPlan.stopped_at.is_(None))
    )
    return list(db.session.scalars(query.order_by(User.id)))
