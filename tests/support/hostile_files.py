"""Files built to exhaust an importing server, and a way to measure what reading one costs.

Each builder writes a file the way its app lays it out, with the costly part chosen by the
attacker: the encrypted payload is random bytes, since a refusal must come before anything
is derived or decrypted. `measured` runs a call in a forked child, so its CPU time and the
peak memory it adds are the call's alone, C allocations (SQLite, Argon2, scrypt) included.
"""

from __future__ import annotations

import base64
import gc
import io
import json
import multiprocessing
import os
import resource
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import nacl.bindings as sodium
from PIL import Image

PASSWORD = "correct horse"
SECRET = "JBSWY3DPEHPK3PXP"


# Hostile files ------------------------------------------------------------------------------


def microsoft_with_generated_secret(rows: int = 3, blob_bytes: int = 50_000_000) -> bytes:
    """A PhoneFactor database whose secret column is computed on every read: `blob_bytes` of
    zeroes, hex-encoded (twice as many characters), in a single virtual-machine step per row."""
    connection = sqlite3.connect(":memory:")
    try:
        connection.execute(
            "CREATE TABLE accounts (_id INTEGER PRIMARY KEY, name TEXT, username TEXT, account_type INTEGER,"
            f" oath_secret_key TEXT GENERATED ALWAYS AS (hex(zeroblob({blob_bytes}))) VIRTUAL)"
        )
        connection.executemany(
            "INSERT INTO accounts (name, username, account_type) VALUES (?, ?, 0)",
            [(f"Issuer {i}", f"user{i}") for i in range(rows)],
        )
        return connection.serialize()
    finally:
        connection.close()


def microsoft_plain(columns: str, rows: list[tuple[object, ...]]) -> bytes:
    """A database whose `accounts` table is created as `columns` says, with `rows` in it."""
    connection = sqlite3.connect(":memory:")
    try:
        connection.execute(f"CREATE TABLE accounts ({columns})")
        connection.executemany(
            "INSERT INTO accounts (name, username, oath_secret_key, account_type) VALUES (?, ?, ?, ?)", rows
        )
        return connection.serialize()
    finally:
        connection.close()


def aegis_with_costly_slots(slots: int = 8, n: int = 2**18, r: int = 8, p: int = 16) -> bytes:
    """An encrypted Aegis vault with `slots` password slots, each asking for scrypt(N, r, p)."""
    password_slots = [
        {
            "type": 1,
            "uuid": str(uuid.uuid4()),
            "key": os.urandom(32).hex(),
            "key_params": {"nonce": os.urandom(12).hex(), "tag": os.urandom(16).hex()},
            "n": n,
            "r": r,
            "p": p,
            "salt": os.urandom(32).hex(),
            "repaired": True,
        }
        for _ in range(slots)
    ]
    header = {"slots": password_slots, "params": {"nonce": os.urandom(12).hex(), "tag": os.urandom(16).hex()}}
    return json.dumps({"version": 1, "header": header, "db": base64.b64encode(os.urandom(64)).decode()}).encode()


def ente_export(mem_limit: int, ops_limit: int, plaintext: bytes | None = None) -> bytes:
    """An encrypted Ente Auth export with these Argon2id parameters. With `plaintext` it is real
    (sealed under PASSWORD, as Ente does); without, its payload is random bytes."""
    salt = os.urandom(sodium.crypto_pwhash_SALTBYTES)
    if plaintext is None:
        header, ciphertext = os.urandom(24), os.urandom(64)
    else:
        key = sodium.crypto_pwhash_alg(
            32, PASSWORD.encode(), salt, ops_limit, mem_limit, sodium.crypto_pwhash_ALG_ARGON2ID13
        )
        state = sodium.crypto_secretstream_xchacha20poly1305_state()
        header = sodium.crypto_secretstream_xchacha20poly1305_init_push(state, key)
        ciphertext = sodium.crypto_secretstream_xchacha20poly1305_push(
            state, plaintext, None, sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL
        )
    return json.dumps(
        {
            "version": 1,
            "kdfParams": {"memLimit": mem_limit, "opsLimit": ops_limit, "salt": base64.b64encode(salt).decode()},
            "encryptedData": base64.b64encode(ciphertext).decode(),
            "encryptionNonce": base64.b64encode(header).decode(),
        }
    ).encode()


def _enc_string() -> str:
    return "2." + "|".join(base64.b64encode(os.urandom(size)).decode() for size in (16, 32, 32))


def bitwarden_protected(kdf: dict[str, Any]) -> bytes:
    """A password-protected Bitwarden export naming the key derivation `kdf`; random payload."""
    doc = {
        "encrypted": True,
        "passwordProtected": True,
        "salt": base64.b64encode(os.urandom(16)).decode(),
        "kdfType": 1,
        "kdfIterations": 3,
        "kdfMemory": 64,
        "kdfParallelism": 4,
        **kdf,
        "encKeyValidation_DO_NOT_EDIT": _enc_string(),
        "data": _enc_string(),
    }
    return json.dumps(doc).encode()


def png(width: int, height: int, mode: str = "RGB") -> bytes:
    """A PNG of one colour: a few bytes on disk, however many pixels it decodes to."""
    out = io.BytesIO()
    Image.new(mode, (width, height)).save(out, "PNG", optimize=True)
    return out.getvalue()


def aegis_with_icons(count: int, icon: bytes) -> bytes:
    """A plain Aegis vault of `count` accounts, each with `icon`."""
    entries = [
        {
            "type": "totp",
            "uuid": str(uuid.uuid4()),
            "name": f"user{i}@example.com",
            "issuer": f"Issuer {i}",
            "icon": base64.b64encode(icon).decode(),
            "icon_mime": "image/png",
            "info": {"secret": SECRET, "algo": "SHA1", "digits": 6, "period": 30},
        }
        for i in range(count)
    ]
    db = {"version": 3, "entries": entries, "groups": []}
    return json.dumps({"version": 1, "header": {"slots": None, "params": None}, "db": db}).encode()


# Measuring ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cost:
    cpu_seconds: float
    extra_memory_bytes: int
    outcome: str  # "ok", or the exception's type and message


def _run_and_report(connection: Any, call: Callable[[], object]) -> None:
    gc.collect()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.process_time()
    try:
        call()
        outcome = "ok"
    except Exception as exc:  # the outcome is reported, whatever it is
        outcome = f"{type(exc).__name__}: {exc}"
    cpu = time.process_time() - start
    connection.send(Cost(cpu, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024, outcome))


def measured(call: Callable[[], object], timeout: float = 120) -> Cost:
    """CPU time and peak extra memory (ru_maxrss, in a forked child) of `call()`, and its outcome."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_run_and_report, args=(sender, call))
    child.start()
    try:
        if not receiver.poll(timeout):
            raise AssertionError(f"the call did not finish within {timeout} s")
        return receiver.recv()
    finally:
        child.kill()
        child.join()
