"""The folder target: one folder per user under WEBAUTH_BACKUP_DIR, files named by their UTC time.

A backup is written whole or not at all: into a temporary file (mode 0600 from its creation,
never readable by others even briefly), flushed to the disk, then renamed over its final name,
and the folder itself flushed so the rename survives a power cut. A crash before the rename
leaves the earlier backups as they were; the temporary file it leaves behind is never taken for
a backup, and the next run removes it.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

PREFIX = "webauth-backup-"
SUFFIX = ".json"
# webauth-backup-20261206T031500Z.json, and -2, -3... for a second one in the same second.
_NAME = re.compile(r"webauth-backup-(\d{8}T\d{6}Z)(?:-(\d+))?\.json")
_TEMP = re.compile(r"\.webauth-backup-.*\.tmp")


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
    stamp = at.strftime("%Y%m%dT%H%M%SZ")
    name, number = f"{PREFIX}{stamp}{SUFFIX}", 1
    while name in taken:
        number += 1
        name = f"{PREFIX}{stamp}-{number}{SUFFIX}"
    return name


def is_backup_name(name: str) -> bool:
    return _NAME.fullmatch(name) is not None


def user_folder(root: Path, folder: str) -> Path:
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = root / folder
    path.mkdir(exist_ok=True, mode=0o700)
    return path


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


def write_atomically(folder: Path, name: str, data: bytes) -> Path:
    """Write `data` as `folder/name`, mode 0600, whole or not at all."""
    final = folder / name
    temp = folder / f".{name}.{secrets.token_hex(4)}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, final)
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


def prune(folder: Path, keep: int) -> list[str]:
    """Delete all but the `keep` newest backups; returns the names deleted."""
    backups = listing(folder)
    doomed = backups[: max(0, len(backups) - keep)]
    for item in doomed:
        with contextlib.suppress(FileNotFoundError):
            (folder / item.name).unlink()
    return [item.name for item in doomed]
