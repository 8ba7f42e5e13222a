"""Finding backup folders nobody owns any more (docs/backups.md): left by a crash between a user's
deletion and the removal of their backups, or by a version before removals were owed durably.

A folder is an orphan only when all of these hold: its name has the layout of a user's folder
(`<name>-<user id>`, as the plan makes it), it holds something the app writes (a backup or a
temporary file), no backup plan names it, no removal is owed for it already, and no user has
that id. A live user's folder is never one, with or without a plan, and
nothing else in the backup folder or on the WebDAV target is looked at. The check is made again
under the user's backup lock, and then a removal is owed for it (webauth/backups/removal.py),
which deletes only what the app writes (backups and its temporary files), and the folder once
empty.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from sqlalchemy import select

from webauth import audit
from webauth.backups import files, removal
from webauth.backups.run import BackupSettings
from webauth.backups.webdav import WebDavError
from webauth.extensions import db
from webauth.models import BackupPlan, BackupRemoval, User

# The instance WebDAV target's top folder lists one folder per user with a plan (a few hundred
# bytes each): room for some hundred thousand users, still a bounded read.
MAX_TOP_LISTING_BYTES = 64 * 1024 * 1024
# Names asked about per query (SQLite allows 32,766 parameters; far fewer keep each query light).
_CHUNK = 500


@dataclass(frozen=True)
class Orphans:
    """Orphaned folders found, by target; `error` says why the WebDAV target could not be listed."""

    folder: list[str] = field(default_factory=list)
    instance_webdav: list[str] = field(default_factory=list)
    error: str | None = None


def _candidates(names: list[str], target: str) -> list[str]:
    """The names, among `names`, of folders nobody owns, in name order (asked in chunks)."""
    found: list[str] = []
    for start in range(0, len(names), _CHUNK):
        found += _unowned(names[start : start + _CHUNK], target)
    return sorted(found)


def _unowned(names: list[str], target: str) -> list[str]:
    layout = {name: files.folder_user_id(name) for name in names}
    layout = {name: user_id for name, user_id in layout.items() if user_id is not None}
    if not layout:
        return []
    owned = set(db.session.scalars(select(BackupPlan.folder).where(BackupPlan.folder.in_(layout))))
    owed = set(
        db.session.scalars(
            select(BackupRemoval.folder).where(BackupRemoval.folder.in_(layout), BackupRemoval.target == target)
        )
    )
    live = set(db.session.scalars(select(User.id).where(User.id.in_(set(layout.values())))))
    return [name for name, user_id in layout.items() if name not in owned | owed and user_id not in live]


def find(settings: BackupSettings) -> Orphans:
    """The orphaned folders on the server and on the instance-wide WebDAV target (listing only)."""
    local: list[str] = []
    if settings.root.is_dir():
        local = [entry.name for entry in os.scandir(settings.root) if entry.is_dir(follow_symlinks=False)]
    remote: list[str] = []
    error = None
    if settings.webdav is not None:
        try:
            remote = [name for name, is_folder in settings.webdav.entries(MAX_TOP_LISTING_BYTES) if is_folder]
        except WebDavError as failure:
            error = str(failure)
    orphans = [name for name in _candidates(local, removal.FOLDER) if files.holds_backups(settings.root / name)]
    remote_orphans = []
    if settings.webdav is not None:
        for name in _candidates(remote, removal.INSTANCE_WEBDAV):
            try:
                if settings.webdav.folder_for(name).holds_backups():
                    remote_orphans.append(name)
            except WebDavError as failure:
                error = str(failure)
    return Orphans(orphans, remote_orphans, error)


def owe_removals(settings: BackupSettings, orphans: Orphans) -> int:
    """Owe the removal of each orphan, after checking again under its user's lock; returns how many."""
    owed = 0
    for target, names in ((removal.FOLDER, orphans.folder), (removal.INSTANCE_WEBDAV, orphans.instance_webdav)):
        for name in names:
            user_id = files.folder_user_id(name)
            assert user_id is not None  # _candidates kept names with the layout only
            with files.user_lock(settings.root, user_id):
                if _candidates([name], target) != [name]:
                    continue  # a user, a plan or a removal took it meanwhile
                db.session.add(BackupRemoval(user_id=user_id, username="", folder=name, target=target))
                audit.record("backup.orphan", details={"folder": name, "target": target})
                db.session.commit()
                owed += 1
    return owed
