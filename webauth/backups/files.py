"""The folder target: one folder per user under WEBAUTH_BACKUP_DIR, files named by their UTC time.

A backup is written whole or not at all: into a temporary file (mode 0600 from its creation,
never readable by others even briefly), flushed to the disk, then renamed over its final name,
and the folder itself flushed so the rename survives a power cut. A crash before the rename
leaves the earlier backups as they were; the temporary file it leaves behind is never taken for
a backup, and the next run removes it.

`user_lock` keeps two runs for the same user (two app servers' schedulers, cron and "Back up
now") from interleaving: one writes, prunes and records its outcome, then the other starts.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

PREFIX = "webauth-backup-"
SUFFIX = ".json"
# webauth-backup-20261206T031500Z.json, and -2, -3... for a second one in the same second.
_NAME = re.compile(r"webauth-backup-(\d{8}T\d{6}Z)(?:-(\d+))?\.json")
_TEMP = re.compile(r"\.webauth-backup-.*\.tmp")
# A user's folder, as plan._folder_name makes it: their name made safe, a dash, their user id.
_FOLDER = re.compile(r"(?![.-])[A-Za-z0-9._-]{1,64}-(\d{1,18})")


@dataclass(frozen=True)
class BackupFile:
    name: str
    size: int

    @property
    def sort_key(self) -> tuple[str, int]:
        return name_key(self.name)


def name_key(name: str) -> tuple[str, int]:
    """Oldest first: by the UTC time in the name, then by the number of a second backup in the same second."""
    match = _NAME.fullmatch(name)
    if match is None:
        raise ValueError(f"{name!r} is not a backup's name")
    return match.group(1), int(match.group(2) or 1)


def file_name(at: datetime, taken: set[str]) -> str:
    """The file name of a backup made at `at` (UTC), unique among `taken`."""
    stamp = stamp_of(at)
    name, number = f"{PREFIX}{stamp}{SUFFIX}", 1
    while name in taken:
        number += 1
        name = f"{PREFIX}{stamp}-{number}{SUFFIX}"
    return name


def is_backup_name(name: str) -> bool:
    return _NAME.fullmatch(name) is not None


def stamp_of(at: datetime) -> str:
    """The UTC time as backup names carry it (compare with `name_key(name)[0]`)."""
    return at.strftime("%Y%m%dT%H%M%SZ")


def folder_user_id(name: str) -> int | None:
    """The user id a folder's name ends with, when the name has the layout of a user's folder; else None."""
    match = _FOLDER.fullmatch(name)
    return int(match.group(1)) if match else None


def user_folder(root: Path, folder: str) -> Path:
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = root / folder
    path.mkdir(exist_ok=True, mode=0o700)
    return path


@contextlib.contextmanager
def user_lock(root: Path, user_id: int) -> Iterator[None]:
    """Hold an exclusive `flock` on the user's lock file (`root/.locks/user-ID.lock`), across the
    processes of this machine, for as long as the block runs.

    The lock is a file of its own, beside the user's folder, so removing the folder (a deleted
    user) never frees it. A root the server cannot write gives no lock: the run then fails on
    the folder anyway, writing nothing.
    """
    try:
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        locks = root / ".locks"
        locks.mkdir(exist_ok=True, mode=0o700)
        fd = os.open(locks / f"user-{user_id}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def listing(folder: Path) -> list[BackupFile]:
    """The folder's backups, oldest first (temporary files are not backups)."""
    if not folder.is_dir():
        return []
    found = []
    for entry in os.scandir(folder):
        if entry.is_file(follow_symlinks=False) and is_backup_name(entry.name):
            found.append(BackupFile(entry.name, entry.stat().st_size))
    return sorted(found, key=lambda item: item.sort_key)


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(folder: Path, name: str, data: bytes, *, replace: bool = True) -> Path:
    """Write `data` as `folder/name`, mode 0600, whole or not at all.

    Without `replace`, FileExistsError when `folder/name` exists, even when it appeared while
    this was written: the file is linked into place, which never overwrites.
    """
    final = folder / name
    temp = folder / f".{name}.{secrets.token_hex(4)}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(temp, final)
        else:
            os.link(temp, final)
            temp.unlink()
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    _fsync_folder(folder)
    return final


def remove_leftovers(folder: Path) -> int:
    """Delete temporary files an interrupted run left behind; returns how many."""
    removed = 0
    for entry in os.scandir(folder):
        if entry.is_file(follow_symlinks=False) and _TEMP.fullmatch(entry.name):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
                removed += 1
    return removed


def holds_backups(path: Path) -> bool:
    """Whether the folder holds anything the app writes: a backup, or a run's temporary file."""
    if not path.is_dir() or path.is_symlink():
        return False
    return any(
        entry.is_file(follow_symlinks=False) and (is_backup_name(entry.name) or _TEMP.fullmatch(entry.name))
        for entry in os.scandir(path)
    )


def remove_backups(root: Path, folder: str, up_to: datetime | None = None) -> int:
    """Delete a user's backups under `root`, and their folder once it holds nothing else; returns
    how many backups went.

    Only what the app writes goes: backups (and, with the whole folder, the temporary files of an
    interrupted run). Anything else someone put there stays, and the folder with it. With `up_to`,
    only the backups made up to that time (the folder belongs to a newer plan, which keeps its own).
    """
    if folder_user_id(folder) is None:
        raise ValueError(f"{folder!r} is not a user's backup folder")
    path = root / folder
    if not path.is_dir() or path.is_symlink():
        return 0
    limit = stamp_of(up_to) if up_to is not None else None
    removed = 0
    for entry in os.scandir(path):
        if not entry.is_file(follow_symlinks=False):
            continue
        if is_backup_name(entry.name):
            if limit is not None and name_key(entry.name)[0] > limit:
                continue
        elif limit is not None or not _TEMP.fullmatch(entry.name):
            continue
        with contextlib.suppress(FileNotFoundError):
            os.unlink(entry.path)
            removed += is_backup_name(entry.name)
    if limit is None:
        with contextlib.suppress(FileNotFoundError):
            if not any(path.iterdir()):
                path.rmdir()
    return removed


def prune(folder: Path, keep: int) -> list[str]:
    """Delete all but the `keep` newest backups; returns the names deleted."""
    backups = listing(folder)
    doomed = backups[: max(0, len(backups) - keep)]
    for item in doomed:
        with contextlib.suppress(FileNotFoundError):
            (folder / item.name).unlink()
    return [item.name for item in doomed]
