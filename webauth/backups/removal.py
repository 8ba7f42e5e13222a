"""A deleted user's backups go with them: their folder on the server, and their folder on the
instance-wide WebDAV target (docs/backups.md).

Both are the operator's storage, and a backup opens with the user's backup password alone, so
copies there must not outlive the account. The removal runs after the deletion is committed
(a failed deletion removes nothing) and under the user's backup lock, so a run that was writing
finishes first and a run that was waiting then finds no plan and writes nothing. A user's own
WebDAV folder is theirs, not the operator's: what the server put there stays, and the server
forgets its address and password with the account.

A target that cannot be reached keeps its copies: the audit event `backup.remove` and a warning
in the log say which, for the administrator to remove by hand.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from webauth import audit
from webauth.backups import files
from webauth.backups.plan import plan_of
from webauth.backups.run import BackupSettings
from webauth.backups.webdav import WebDavError
from webauth.models import User

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UserBackups:
    """Where a user's backups are, read before the user (and their plan) is deleted."""

    user_id: int
    username: str
    folder: str
    own_webdav: bool


@dataclass(frozen=True)
class Removal:
    files: int = 0
    removed: list[str] = field(default_factory=list)
    # The targets that still hold copies, with why: ["instance-webdav: webdav-unreachable"].
    left: list[str] = field(default_factory=list)


def user_backups(user: User) -> UserBackups | None:
    plan = plan_of(user)
    if plan is None:
        return None
    return UserBackups(user.id, user.username, plan.folder, bool(plan.webdav_url))


def remove(found: UserBackups, settings: BackupSettings) -> Removal:
    """Remove a deleted user's backups and record `backup.remove` (the caller commits)."""
    removed: list[str] = []
    left: list[str] = []
    count = 0
    with files.user_lock(settings.root, found.user_id):
        try:
            count = files.remove_folder(settings.root, found.folder)
            removed.append("folder")
        except OSError as error:
            left.append(f"folder: {error.strerror or type(error).__name__}")
        if settings.webdav is not None:
            try:
                settings.webdav.folder_for(found.folder).remove_folder()
                removed.append("instance-webdav")
            except WebDavError as error:
                left.append(f"instance-webdav: {error}")
    for target in left:
        log.warning("backups of deleted user %s left on %s", found.user_id, target)
    audit.record(
        "backup.remove",
        username=found.username,
        details={"user_id": found.user_id, "files": count, "removed": removed, "left": left,
                 "own_webdav_kept": found.own_webdav},
    )
    return Removal(count, removed, left)
