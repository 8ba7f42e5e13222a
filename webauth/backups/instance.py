"""The administrator's backup of a whole instance: a consistent snapshot of the SQLite database
and the keyring, in one file encrypted under a passphrase; and its restore into an empty instance.

The database and the keyring together open every vault, so the file is sealed as a whole:
scrypt(passphrase) (N=2^15, r=8, p=1) keys AES-256-GCM over a zip of the two, with the header
as associated data. The snapshot comes from SQLite's online backup API, consistent while the
app keeps serving. PostgreSQL has its own tool for that (`pg_dump`); `database_kind` lets the
command say so.

File layout: the line `WEBAUTH-INSTANCE-BACKUP-1`, a JSON header line (kdf, salt, nonce), then
the sealed zip (`webauth.db`, `keyring.json`, `manifest.json`).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sqlite3
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from webauth.backups import files
from webauth.crypto import Keyring

MAGIC = b"WEBAUTH-INSTANCE-BACKUP-1\n"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
MIN_PASSPHRASE = 12
MAX_HEADER = 4096
# Files the app makes in an instance folder on its first start: a folder holding only these is empty.
FRESH_FILES = {"webauth.db", "webauth.db-wal", "webauth.db-shm", "secret_key", "keyring.json", "keyring.json.lock"}


class InstanceBackupError(Exception):
    """The backup or restore cannot go on; the message says why, for the operator."""


@dataclass(frozen=True)
class Restored:
    database: Path
    keyring: Path
    manifest: dict


def sqlite_path(database_url: str) -> Path | None:
    """The database file of a SQLite URL, or None for any other database."""
    prefix = "sqlite:///"
    if not database_url.startswith(prefix):
        return None
    return Path(database_url[len(prefix):].split("?", 1)[0])


def _key(passphrase: str, salt: bytes) -> bytes:
    return Scrypt(salt=salt, length=32, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P).derive(passphrase.encode("utf-8"))


def snapshot(database: Path) -> bytes:
    """A consistent copy of a live SQLite database, through SQLite's online backup API."""
    with tempfile.TemporaryDirectory(prefix="webauth-snapshot-") as folder:
        copy = Path(folder) / "snapshot.db"
        source = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
        target = sqlite3.connect(copy)
        try:
            source.backup(target)
            target.execute("PRAGMA journal_mode=DELETE")
        finally:
            target.close()
            source.close()
        return copy.read_bytes()


def write_backup(database: Path, keyring_json: str, passphrase: str, now: datetime | None = None) -> bytes:
    """The encrypted instance backup, as bytes to write."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise InstanceBackupError(f"the passphrase needs at least {MIN_PASSPHRASE} characters")
    if not database.is_file():
        raise InstanceBackupError(f"the database {database} does not exist")
    manifest = {"created": (now or datetime.now(UTC)).isoformat(), "database": "sqlite", "format": 1}
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("webauth.db", snapshot(database))
        archive.writestr("keyring.json", keyring_json)
        archive.writestr("manifest.json", json.dumps(manifest))
    salt, nonce = os.urandom(16), os.urandom(12)
    header = json.dumps(
        {"kdf": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P, "salt": salt.hex(), "nonce": nonce.hex()}
    ).encode() + b"\n"
    sealed = AESGCM(_key(passphrase, salt)).encrypt(nonce, packed.getvalue(), MAGIC + header)
    return MAGIC + header + sealed


def open_backup(data: bytes, passphrase: str) -> dict[str, bytes]:
    """The files inside an instance backup: webauth.db, keyring.json, manifest.json."""
    if not data.startswith(MAGIC):
        raise InstanceBackupError("this is not a webauth instance backup")
    end = data.find(b"\n", len(MAGIC), len(MAGIC) + MAX_HEADER)
    if end < 0:
        raise InstanceBackupError("the backup's header is damaged")
    header_line = data[len(MAGIC) : end + 1]
    try:
        header = json.loads(header_line)
        salt, nonce = bytes.fromhex(header["salt"]), bytes.fromhex(header["nonce"])
        params = (header["kdf"], header["n"], header["r"], header["p"])
    except (ValueError, KeyError, TypeError):
        raise InstanceBackupError("the backup's header is damaged") from None
    if params != ("scrypt", SCRYPT_N, SCRYPT_R, SCRYPT_P) or len(nonce) != 12:
        raise InstanceBackupError("the backup was written with parameters this version does not read")
    try:
        packed = AESGCM(_key(passphrase, salt)).decrypt(nonce, data[end + 1 :], MAGIC + header_line)
    except InvalidTag:
        raise InstanceBackupError("wrong passphrase, or the backup was altered or damaged") from None
    with zipfile.ZipFile(io.BytesIO(packed)) as archive:
        names = set(archive.namelist())
        if not {"webauth.db", "keyring.json", "manifest.json"} <= names:
            raise InstanceBackupError("the backup lacks its database or its keyring")
        return {name: archive.read(name) for name in ("webauth.db", "keyring.json", "manifest.json")}


def _is_empty_database(path: Path) -> bool:
    if not path.exists() or path.stat().st_size == 0:
        return True
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return connection.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0] == 0
    finally:
        connection.close()


def write_private(path: Path, data: bytes, *, replace: bool = True) -> None:
    """Write `data` as `path`, mode 0600, whole or not at all (as the scheduled backups' files).

    Without `replace`, FileExistsError if `path` exists, even if another run wrote it meanwhile.
    """
    files.write_atomically(path.parent, path.name, data, replace=replace)


def restore(data: bytes, passphrase: str, instance: Path, database: Path) -> Restored:
    """Put a backup's database and keyring into `instance`, which must hold no data yet.

    Refused when the database has any table, or when the folder holds anything but what the
    app makes on its first start (an empty database, a secret key, a keyring with no data under it).
    """
    others = sorted(entry.name for entry in instance.iterdir() if entry.name not in FRESH_FILES)
    if others or not _is_empty_database(database):
        raise InstanceBackupError(
            f"the instance folder {instance} is not empty: restore into a new, empty folder "
            "(set WEBAUTH_INSTANCE_PATH to it)"
        )
    contents = open_backup(data, passphrase)
    keyring = instance / "keyring.json"
    for leftover in (database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm")):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()
    write_private(database, contents["webauth.db"])
    with Keyring.file_lock(keyring):  # as any process that would create or rotate it
        write_private(keyring, contents["keyring.json"])
    return Restored(database, keyring, json.loads(contents["manifest.json"]))
