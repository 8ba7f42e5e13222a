"""Envelope encryption of the vault: a keyring of key-encryption keys, per-user data keys.

Every OTP secret is sealed with AES-256-GCM under its user's random data key (DEK), with
associated data naming the user and the account, so a ciphertext moved to another row or
user fails to open. Each DEK is stored wrapped (AES-256-GCM) under a key-encryption key
(KEK) from the keyring, with associated data naming the user and the KEK id. Rotation adds
a new primary KEK and rewraps the DEKs; the sealed secrets never change.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12
SEALED_VERSION = 1


class KeyringError(Exception):
    """The keyring is missing, malformed, or lacks a key that the database needs."""


class DecryptionError(Exception):
    """A ciphertext did not authenticate: wrong key, wrong owner, or tampered data."""


def _wrap_aad(user_id: int, kek_id: str) -> bytes:
    return f"webauth:dek:v1:user={user_id}:kek={kek_id}".encode()


def _secret_aad(user_id: int, account_uuid: str) -> bytes:
    return f"webauth:secret:v1:user={user_id}:account={account_uuid}".encode()


@dataclass
class Keyring:
    """Key-encryption keys by id, and which one wraps new data keys.

    Loaded from `WEBAUTH_KEYS` (JSON) or from a file in the instance folder. The file
    form can change under a running process (rotation by another process): a missing key
    id triggers one reload before failing, and a new data key is wrapped only after checking
    that the file has not changed, so every process wraps under the current primary.
    """

    keys: dict[str, bytes]
    primary: str
    path: Path | None = None
    _loaded_mtime: int | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.path is not None and self.path.exists():
            self._loaded_mtime = self.path.stat().st_mtime_ns
        if self.primary not in self.keys:
            raise KeyringError(f"the primary key {self.primary!r} is not in the keyring")
        for kek_id, key in self.keys.items():
            if len(key) != KEY_BYTES:
                raise KeyringError(f"key {kek_id!r} is not {KEY_BYTES} bytes")

    @classmethod
    def from_json(cls, text: str, path: Path | None = None) -> Keyring:
        try:
            data = json.loads(text)
            keys = {str(k): base64.b64decode(v, validate=True) for k, v in data["keys"].items()}
            return cls(keys=keys, primary=str(data["primary"]), path=path)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            where = str(path) if path else "WEBAUTH_KEYS"
            raise KeyringError(f"{where} is not a valid keyring ({exc.__class__.__name__})") from None

    def to_json(self) -> str:
        keys = {k: base64.b64encode(v).decode() for k, v in self.keys.items()}
        return json.dumps({"primary": self.primary, "keys": keys}, indent=2)

    @classmethod
    def load(cls, path: Path) -> Keyring:
        return cls.from_json(path.read_text(), path=path)

    @classmethod
    def load_or_create(cls, path: Path) -> Keyring:
        """The keyring file, created with one fresh key (mode 0600) if there is none.

        Only for a database that holds no data key yet (keys.py decides): a new keyring cannot
        open data keys wrapped under a lost one. Two processes starting at once create one
        file between them, and both use that one.
        """
        with cls.file_lock(path):
            return cls.load(path) if path.exists() else cls.create(path)

    @classmethod
    def create(cls, path: Path) -> Keyring:
        """A new keyring file with one fresh key; if a file appeared meanwhile, that one, as it is on disk."""
        keyring = cls(keys={"k1": AESGCM.generate_key(256)}, primary="k1", path=path)
        return keyring if keyring.save(exclusive=True) else cls.load(path)

    @staticmethod
    @contextlib.contextmanager
    def file_lock(path: Path) -> Iterator[None]:
        """Hold an exclusive `flock` for the keyring file at `path`, across processes of this machine.

        The lock is on a file beside it (`keyring.json.lock`): `save` replaces the keyring file
        itself, and a lock on a replaced file would no longer exclude anyone.
        """
        fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the last descriptor releases the lock

    def save(self, exclusive: bool = False) -> bool:
        """Write the keyring atomically with mode 0600 (never world-readable, not even briefly),
        and make it durable (the file, then its folder's entry) before returning: a data key
        is wrapped under a new key only once that key cannot be lost to a crash.

        With `exclusive`, only create the file: False when it already exists, and nothing is written.
        """
        if self.path is None:
            raise KeyringError("this keyring comes from WEBAUTH_KEYS; update the variable instead")
        tmp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(self.to_json())
            handle.flush()
            os.fsync(handle.fileno())
        if exclusive:
            try:
                os.link(tmp, self.path)  # creates the name only if it is free, with the whole file behind it
            except FileExistsError:
                return False
            finally:
                os.unlink(tmp)
        else:
            os.replace(tmp, self.path)
        folder = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
        self._loaded_mtime = self.path.stat().st_mtime_ns
        return True

    def reload(self) -> None:
        if self.path is not None and self.path.exists():
            fresh = Keyring.from_json(self.path.read_text(), path=self.path)
            self.keys, self.primary, self._loaded_mtime = fresh.keys, fresh.primary, fresh._loaded_mtime

    def _reload_if_changed(self) -> None:
        """One stat call: cheap enough for the rare moments a data key is wrapped."""
        if self.path is not None and self.path.exists() and self.path.stat().st_mtime_ns != self._loaded_mtime:
            self.reload()

    def key(self, kek_id: str) -> bytes:
        if kek_id not in self.keys:
            self.reload()
        try:
            return self.keys[kek_id]
        except KeyError:
            raise KeyringError(f"key {kek_id!r} is not in the keyring; was it retired too early?") from None

    def add_primary(self) -> str:
        """Add a fresh key and make it the primary; returns its id.

        The id is the time and random characters (`k20261206T180102-3fa9c1`), never "the next
        number": two keyrings that each add a key can never name two different keys alike.
        """
        kek_id = f"k{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
        self.keys[kek_id] = AESGCM.generate_key(256)
        self.primary = kek_id
        return kek_id

    def retire(self, kek_id: str) -> None:
        if kek_id == self.primary:
            raise KeyringError("the primary key cannot be retired; rotate first")
        if kek_id not in self.keys:
            raise KeyringError(f"key {kek_id!r} is not in the keyring")
        del self.keys[kek_id]

    # Data keys -------------------------------------------------------------------------

    def new_data_key(self, user_id: int) -> tuple[str, bytes, bytes]:
        """A fresh DEK for a user: (kek_id, wrapped DEK to store, the DEK itself)."""
        dek = AESGCM.generate_key(256)
        kek_id, wrapped = self.wrap_data_key(user_id, dek)
        return kek_id, wrapped, dek

    def wrap_data_key(self, user_id: int, dek: bytes) -> tuple[str, bytes]:
        self._reload_if_changed()
        nonce = os.urandom(NONCE_BYTES)
        kek_id = self.primary
        wrapped = nonce + AESGCM(self.key(kek_id)).encrypt(nonce, dek, _wrap_aad(user_id, kek_id))
        return kek_id, wrapped

    def unwrap_data_key(self, user_id: int, kek_id: str, wrapped: bytes) -> bytes:
        try:
            nonce, ciphertext = wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:]
            return AESGCM(self.key(kek_id)).decrypt(nonce, ciphertext, _wrap_aad(user_id, kek_id))
        except InvalidTag:
            raise DecryptionError(f"the data key of user {user_id} does not open under key {kek_id!r}") from None


def seal_secret(dek: bytes, user_id: int, account_uuid: str, secret: bytes) -> bytes:
    """`version | nonce | AES-256-GCM(secret)`, bound to the user and the account."""
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(dek).encrypt(nonce, secret, _secret_aad(user_id, account_uuid))
    return bytes([SEALED_VERSION]) + nonce + ciphertext


def open_secret(dek: bytes, user_id: int, account_uuid: str, sealed: bytes) -> bytes:
    return secret_opener(dek, user_id)(account_uuid, sealed)


def secret_opener(dek: bytes, user_id: int) -> Callable[[str, bytes], bytes]:
    """`open_secret` for the secrets of one user, with one AES-GCM context for all of them: the
    code list opens every shown account's secret at each period boundary."""
    aead = AESGCM(dek)

    def open_one(account_uuid: str, sealed: bytes) -> bytes:
        if len(sealed) < 1 + NONCE_BYTES + 16 or sealed[0] != SEALED_VERSION:
            raise DecryptionError("the sealed secret has an unknown format")
        nonce, ciphertext = sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
        try:
            return aead.decrypt(nonce, ciphertext, _secret_aad(user_id, account_uuid))
        except InvalidTag:
            raise DecryptionError("the sealed secret does not open for this user and account") from None

    return open_one
