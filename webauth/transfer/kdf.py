"""Password-based key derivation for the encrypted import formats, paid for before it starts.

Every importer derives its keys here, through an `Attempt`: one password tried on one file.
An attempt adds up the cost of every derivation it will run (all the password slots of an
Aegis vault, the two salts of a 2FAS backup) against the budgets of `limits.py`, and refuses
the file with `TooMuchWork` before the first key is derived when the total is beyond them. A
file's parameters are chosen by whoever wrote it, so they are checked like any other input:
Argon2id by its memory, its passes times its memory, and its lanes; scrypt by N*r*p (its
memory is 128*N*r bytes); PBKDF2 by its iterations.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass

import nacl.bindings as sodium
import nacl.exceptions
from argon2.exceptions import HashingError
from argon2.low_level import Type, hash_secret_raw
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt as _ScryptKdf
from flask_babel import gettext as _

from webauth.transfer.base import TooMuchWork, TransferError
from webauth.transfer.limits import (
    MAX_ARGON2_LANES,
    MAX_ARGON2_WORK_BYTES,
    MAX_KDF_MEMORY_BYTES,
    MAX_PBKDF2_ITERATIONS,
    MAX_SCRYPT_WORK,
)

KEY_BYTES = 32
_MIB = 2**20


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


@dataclass(frozen=True)
class Argon2id:
    """Argon2id v1.3; libsodium's `crypto_pwhash` is this with one lane and memory in bytes."""

    memory_kib: int
    passes: int
    lanes: int = 1

    @property
    def memory_bytes(self) -> int:
        return self.memory_kib * 1024

    def __str__(self) -> str:
        passes, lanes = _plural(self.passes, "pass", "passes"), _plural(self.lanes, "lane", "lanes")
        return f"Argon2id with {self.memory_bytes / _MIB:g} MiB, {passes} and {lanes}"


@dataclass(frozen=True)
class Scrypt:
    n: int
    r: int
    p: int

    @property
    def memory_bytes(self) -> int:
        return 128 * self.n * self.r

    @property
    def work(self) -> int:
        return self.n * self.r * self.p

    def __str__(self) -> str:
        return f"scrypt with N={self.n}, r={self.r}, p={self.p}"


@dataclass(frozen=True)
class Pbkdf2:
    hash_name: str  # a hashlib name: "sha1", "sha256"
    iterations: int

    def __str__(self) -> str:
        return f"PBKDF2-{self.hash_name.upper()} with {self.iterations:,} iterations"


Params = Argon2id | Scrypt | Pbkdf2


class Attempt:
    """The key derivations of one password attempt on one file, counted against the budget.

    `reserve` every derivation the attempt may run before running any; `derive` reserves what
    was not reserved yet. `what` names the file in messages ("This Aegis vault"); `advice`, when
    given, tells the user how to get a file the server can open.
    """

    def __init__(self, what: str, advice: str = "") -> None:
        self._what = what
        self._advice = advice
        self._planned: Counter[Params] = Counter()  # every derivation paid for, run or not
        self._reserved: Counter[Params] = Counter()  # those paid for and not run yet

    def reserve(self, *params: Params) -> None:
        """Count `params` against the budget, or `TooMuchWork` (and nothing counted) beyond it."""
        planned = self._planned + Counter(params)
        argon2 = [item for item in planned.elements() if isinstance(item, Argon2id)]
        scrypt = [item for item in planned.elements() if isinstance(item, Scrypt)]
        pbkdf2 = [item for item in planned.elements() if isinstance(item, Pbkdf2)]
        memory_mib = MAX_KDF_MEMORY_BYTES // _MIB
        if any(item.memory_bytes > MAX_KDF_MEMORY_BYTES or item.lanes > MAX_ARGON2_LANES for item in argon2):
            self._refuse(planned, f"at most {memory_mib} MiB of memory and {MAX_ARGON2_LANES} lanes")
        if sum(item.memory_bytes * item.passes for item in argon2) > MAX_ARGON2_WORK_BYTES:
            passes = MAX_ARGON2_WORK_BYTES // MAX_KDF_MEMORY_BYTES
            self._refuse(planned, f"at most {memory_mib} MiB with {passes} passes, or as much memory times passes")
        if any(item.memory_bytes > MAX_KDF_MEMORY_BYTES for item in scrypt) or (
            sum(item.work for item in scrypt) > MAX_SCRYPT_WORK
        ):
            self._refuse(planned, f"at most N*r*p = {MAX_SCRYPT_WORK:,} in all")
        if sum(item.iterations for item in pbkdf2) > MAX_PBKDF2_ITERATIONS:
            self._refuse(planned, f"at most {MAX_PBKDF2_ITERATIONS:,} iterations in all")
        self._planned = planned
        self._reserved.update(params)

    def derive(self, params: Params, password: bytes, salt: bytes) -> bytes:
        """A 32-byte key from `password`; reserved first if it was not."""
        if self._reserved[params] == 0:
            self.reserve(params)
        self._reserved[params] -= 1
        return _derive(params, password, salt)

    def _refuse(self, planned: Counter[Params], limit: str) -> None:
        kinds = [f"{count} x {item}" if count > 1 else str(item) for item, count in planned.most_common()]
        asked = ", ".join(kinds[:3]) + (f" and {len(kinds) - 3} more" if len(kinds) > 3 else "")
        message = _(
            "%(what)s asks for more work than this server allows: its key derivation (%(asked)s)"
            " is beyond what one attempt may use (%(limit)s).",
            what=self._what,
            asked=asked,
            limit=limit,
        )
        raise TooMuchWork(f"{message} {self._advice}" if self._advice else message)


def derive_once(params: Params, password: bytes, salt: bytes, what: str) -> bytes:
    """The key of a format that derives one key per attempt."""
    return Attempt(what).derive(params, password, salt)


def _derive(params: Params, password: bytes, salt: bytes) -> bytes:
    """The derivation itself; only `Attempt.derive` calls it, after the budget allowed it."""
    try:
        if isinstance(params, Argon2id) and params.lanes == 1 and len(salt) == sodium.crypto_pwhash_SALTBYTES:
            # libsodium's Argon2id is optimised (about twice as fast here as the reference code), but
            # takes one lane and a 16-byte salt only.
            return sodium.crypto_pwhash_alg(
                KEY_BYTES, password, salt, params.passes, params.memory_bytes, sodium.crypto_pwhash_ALG_ARGON2ID13
            )
        if isinstance(params, Argon2id):
            return hash_secret_raw(password, salt, params.passes, params.memory_kib, params.lanes, KEY_BYTES, Type.ID)
        if isinstance(params, Scrypt):
            return _ScryptKdf(salt=salt, length=KEY_BYTES, n=params.n, r=params.r, p=params.p).derive(password)
        return hashlib.pbkdf2_hmac(params.hash_name, password, salt, params.iterations, KEY_BYTES)
    except (HashingError, ValueError, nacl.exceptions.CryptoError):
        raise TransferError(_("The file's key derivation parameters are invalid.")) from None
