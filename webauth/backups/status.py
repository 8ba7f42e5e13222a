"""What a user is told about their backups: the last one, its size, the next one, a failure in words."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from flask_babel import lazy_gettext as _l

from webauth.backups import files
from webauth.backups.plan import plan_of
from webauth.backups.run import BackupSettings
from webauth.models import User

# Each failure kind a run records, in words for its user.
FAILURES = {
    "folder": _l("The server could not write the backup to its backup folder. Ask your administrator to check it."),
    "keys": _l("The server could not open your keys to seal the backup. Ask your administrator to check the keyring."),
    "webdav-auth": _l("The WebDAV server refused the user name or the password."),
    "webdav-unreachable": _l("The WebDAV server could not be reached."),
    "webdav-refused": _l("The WebDAV server refused the upload (is the address a folder you may write to?)."),
}


@dataclass(frozen=True)
class BackupStatus:
    has_password: bool
    password_set_at: datetime | None = None
    last_backup_at: datetime | None = None
    last_size: int = 0
    last_accounts: int = 0
    # The newest backup in the user's folder, which "Download the latest backup" sends.
    latest: str | None = None
    # Around when the next run is expected (None: at the scheduler's next run, not known yet).
    next_at: datetime | None = None
    failure: str | None = None
    failure_at: datetime | None = None
    webdav_url: str = ""
    webdav_username: str = ""
    instance_webdav: bool = False
    # When the user stopped their backups, keeping the files (None: they run).
    stopped_at: datetime | None = None


def latest_backup(user: User, settings: BackupSettings) -> Path | None:
    """The user's newest backup file in their folder, if there is one."""
    plan = plan_of(user)
    if plan is None:
        return None
    folder = settings.root / plan.folder
    backups = files.listing(folder)
    return folder / backups[-1].name if backups else None


def status_of(user: User, settings: BackupSettings) -> BackupStatus:
    plan = plan_of(user)
    if plan is None:
        return BackupStatus(has_password=False, instance_webdav=settings.webdav is not None)
    latest = latest_backup(user, settings)
    next_at = None
    if plan.last_attempt_at is not None and plan.stopped_at is None:
        next_at = plan.last_attempt_at + timedelta(hours=settings.interval_hours)
    return BackupStatus(
        has_password=True,
        password_set_at=plan.password_set_at,
        last_backup_at=plan.last_backup_at,
        last_size=plan.last_size,
        last_accounts=plan.last_accounts,
        latest=latest.name if latest is not None else None,
        next_at=next_at,
        failure=str(FAILURES.get(plan.last_error, plan.last_error)) if plan.last_error else None,
        failure_at=plan.last_error_at,
        webdav_url=plan.webdav_url,
        webdav_username=plan.webdav_username,
        instance_webdav=settings.webdav is not None,
        stopped_at=plan.stopped_at,
    )
