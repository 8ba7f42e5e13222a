"""Reading the offline copy of a vault that the browser sealed under a PIN, or a passkey.

The browser (static/js/offline-crypto.js) writes the blob; the server never sees the PIN
and never needs to open one. This reader exists so the format in docs/offline-blob.md has a
second, independent implementation: the test suite seals a vault with the JavaScript module
and opens it here, which proves the document, the browser code and standard PBKDF2/AES-GCM
agree. It checks the blob's shape before deriving any key, so a damaged or foreign blob is
reported as such and not as a wrong PIN. Version 2 blobs open with the PIN or with the
output of the passkey's PRF (`prf_output`), which the browser tests obtain from Chromium's
virtual authenticator.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import unicodedata
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

BLOB_FORMAT = "webauth-offline"
BLOB_VERSION = 1
PASSKEY_BLOB_VERSION = 2
PASSKEY_KDF_NAME = "HKDF-SHA256"
PASSKEY_HKDF_INFO = b"webauth-offline 2 passkey key-wrapping key"
PRF_INPUT_BYTES = 32
HKDF_SALT_BYTES = 32
WRAPPED_KEY_BYTES = 48
KDF_NAME = "PBKDF2-SHA256"
CIPHER_NAME = "AES-256-GCM"
MIN_ITERATIONS = 600_000
MAX_ITERATIONS = 10_000_000
SALT_BYTES = 16
NONCE_BYTES = 12
TAG_BYTES = 16


class OfflineBlobError(ValueError):
    """The blob is not an offline copy this reader knows (missing fields, unknown version, bad encoding)."""


class WrongPinError(OfflineBlobError):
    """The PIN does not open the blob, or a sealed byte was altered: AES-GCM cannot tell which."""

    def __init__(self) -> None:
        super().__init__("wrong PIN, or the offline copy was altered")


def _b64(value: Any, field: str) -> bytes:
    if not isinstance(value, str):
        raise OfflineBlobError(f"{field} is not base64")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise OfflineBlobError(f"{field} is not base64") from None


class WrongPasskeyError(OfflineBlobError):
    """The PRF output does not open the blob (another passkey), or a sealed byte was altered."""

    def __init__(self) -> None:
        super().__init__("this passkey does not open the offline copy, or it was altered")


def _associated_data(iterations: int, salt: str) -> bytes:
    """The AES-GCM associated data of docs/offline-blob.md: format, version and KDF, `|`-joined."""
    return "|".join([BLOB_FORMAT, str(BLOB_VERSION), KDF_NAME, str(iterations), salt, CIPHER_NAME]).encode()


def open_offline_blob(blob: dict, pin: str | None = None, *, prf_output: bytes | None = None) -> dict:
    """Decrypt an offline copy with its PIN, or (version 2) with its passkey's PRF output, and
    return the vault JSON object.

    Raises `WrongPinError` (`WrongPasskeyError`) when the PIN (the PRF output) is wrong or the
    blob was tampered with, and `OfflineBlobError` when the blob is not a well-formed offline copy.
    """
    if not isinstance(blob, dict) or blob.get("format") != BLOB_FORMAT:
        raise OfflineBlobError("not a webauth offline copy")
    version = blob.get("version")
    if type(version) is int and version == PASSKEY_BLOB_VERSION:
        return _open_version_2(blob, pin, prf_output)
    if type(version) is not int or version != BLOB_VERSION:
        expected = f"{BLOB_VERSION} or {PASSKEY_BLOB_VERSION}"
        raise OfflineBlobError(f"version {version!r} is not supported (expected {expected})")
    if prf_output is not None:
        raise OfflineBlobError("a version-1 offline copy has no passkey")
    kdf, cipher = blob.get("kdf"), blob.get("cipher")
    if not isinstance(kdf, dict) or kdf.get("name") != KDF_NAME:
        raise OfflineBlobError(f"kdf must be {KDF_NAME}")
    iterations = kdf.get("iterations")
    if type(iterations) is not int or not MIN_ITERATIONS <= iterations <= MAX_ITERATIONS:
        raise OfflineBlobError(f"kdf.iterations must be a whole number from {MIN_ITERATIONS} to {MAX_ITERATIONS}")
    if not isinstance(cipher, dict) or cipher.get("name") != CIPHER_NAME:
        raise OfflineBlobError(f"cipher must be {CIPHER_NAME}")
    salt = _b64(kdf.get("salt"), "kdf.salt")
    nonce = _b64(cipher.get("nonce"), "cipher.nonce")
    ciphertext = _b64(blob.get("ciphertext"), "ciphertext")
    if len(salt) != SALT_BYTES or len(nonce) != NONCE_BYTES or len(ciphertext) < TAG_BYTES:
        raise OfflineBlobError(f"salt must be {SALT_BYTES} bytes, nonce {NONCE_BYTES}, ciphertext at least {TAG_BYTES}")
    if not isinstance(pin, str):
        raise TypeError("the PIN must be a string")
    kdf_impl = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt, iterations=iterations)
    key = kdf_impl.derive(unicodedata.normalize("NFC", pin).encode("utf-8"))
    try:
        plaintext = AESGCM(key).decrypt(nonce, ciphertext, _associated_data(iterations, kdf["salt"]))
    except InvalidTag:
        raise WrongPinError() from None
    vault = json.loads(plaintext.decode("utf-8"))
    if not isinstance(vault, dict):
        raise OfflineBlobError("the sealed content is not a JSON object")
    return vault


# Version 2: the vault key wrapped by the PIN and by a passkey ----------------------------------

_BASE64URL = re.compile(r"[A-Za-z0-9_-]{1,1364}")
_RP_ID = re.compile(r"[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?")


def _exact(value: Any, field: str, length: int) -> bytes:
    data = _b64(value, field)
    if len(data) != length:
        raise OfflineBlobError(f"{field} must be {length} bytes")
    return data


def _slot_aad(slot: dict) -> bytes:
    """The associated data of a key slot (docs/offline-blob.md, "Version 2")."""
    head = [BLOB_FORMAT, str(PASSKEY_BLOB_VERSION), slot["kind"]]
    if slot["kind"] == "pin":
        rest = [KDF_NAME, str(slot["kdf"]["iterations"]), slot["kdf"]["salt"]]
    else:
        rest = [PASSKEY_KDF_NAME, slot["kdf"]["salt"], slot["prf_input"], slot["credential"], slot["rp_id"]]
    return "|".join([*head, *rest, CIPHER_NAME]).encode()


def _checked_slots(blob: dict) -> dict[str, dict]:
    cipher, keys = blob.get("cipher"), blob.get("keys")
    if not isinstance(cipher, dict) or cipher.get("name") != CIPHER_NAME:
        raise OfflineBlobError(f"cipher must be {CIPHER_NAME}")
    _exact(cipher.get("nonce"), "cipher.nonce", NONCE_BYTES)
    if len(_b64(blob.get("ciphertext"), "ciphertext")) < TAG_BYTES:
        raise OfflineBlobError(f"ciphertext must have at least {TAG_BYTES} bytes")
    if not isinstance(keys, list) or not 1 <= len(keys) <= 2:
        raise OfflineBlobError("keys must list one or two key slots")
    slots: dict[str, dict] = {}
    for slot in keys:
        if not isinstance(slot, dict) or slot.get("kind") not in ("pin", "passkey") or slot["kind"] in slots:
            raise OfflineBlobError('keys must hold one "pin" slot and at most one "passkey" slot')
        slots[slot["kind"]] = slot
        _exact(slot.get("nonce"), f"{slot['kind']}.nonce", NONCE_BYTES)
        _exact(slot.get("wrapped"), f"{slot['kind']}.wrapped", WRAPPED_KEY_BYTES)
        if not isinstance(slot.get("kdf"), dict):
            raise OfflineBlobError(f"{slot['kind']}.kdf is missing")
    pin = slots.get("pin")
    if pin is None:
        raise OfflineBlobError('keys must hold a "pin" slot')
    iterations = pin["kdf"].get("iterations")
    if pin["kdf"].get("name") != KDF_NAME:
        raise OfflineBlobError(f"pin.kdf must be {KDF_NAME}")
    if type(iterations) is not int or not MIN_ITERATIONS <= iterations <= MAX_ITERATIONS:
        raise OfflineBlobError(f"pin.kdf.iterations must be a whole number from {MIN_ITERATIONS} to {MAX_ITERATIONS}")
    _exact(pin["kdf"].get("salt"), "pin.kdf.salt", SALT_BYTES)
    passkey = slots.get("passkey")
    if passkey is not None:
        if passkey["kdf"].get("name") != PASSKEY_KDF_NAME:
            raise OfflineBlobError(f"passkey.kdf must be {PASSKEY_KDF_NAME}")
        _exact(passkey["kdf"].get("salt"), "passkey.kdf.salt", HKDF_SALT_BYTES)
        _exact(passkey.get("prf_input"), "passkey.prf_input", PRF_INPUT_BYTES)
        credential, rp_id = passkey.get("credential"), passkey.get("rp_id")
        if not isinstance(credential, str) or not _BASE64URL.fullmatch(credential):
            raise OfflineBlobError("passkey.credential must be a credential id in base64url")
        if not isinstance(rp_id, str) or not _RP_ID.fullmatch(rp_id):
            raise OfflineBlobError("passkey.rp_id must be a host name")
    return slots


def passkey_wrapping_key(prf_output: bytes, salt: bytes) -> bytes:
    """HKDF-SHA256 over the PRF output, with the slot's salt and the documented info string."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=PASSKEY_HKDF_INFO).derive(prf_output)


def _open_version_2(blob: dict, pin: str | None, prf_output: bytes | None) -> dict:
    slots = _checked_slots(blob)
    if (pin is None) == (prf_output is None):
        raise TypeError("give the PIN or the PRF output, one of them")
    if pin is not None:
        slot, wrong = slots["pin"], WrongPinError
        if not isinstance(pin, str):
            raise TypeError("the PIN must be a string")
        kdf = PBKDF2HMAC(
            algorithm=hashes.SHA256(), length=32, salt=_b64(slot["kdf"]["salt"], "salt"),
            iterations=slot["kdf"]["iterations"],
        )
        wrapping_key = kdf.derive(unicodedata.normalize("NFC", pin).encode("utf-8"))
    else:
        slot, wrong = slots.get("passkey"), WrongPasskeyError
        if slot is None:
            raise OfflineBlobError("this offline copy has no passkey slot")
        wrapping_key = passkey_wrapping_key(prf_output, _b64(slot["kdf"]["salt"], "salt"))
    try:
        vault_key = AESGCM(wrapping_key).decrypt(_b64(slot["nonce"], "nonce"), _b64(slot["wrapped"], "wrapped"),
                                                 _slot_aad(slot))
        plaintext = AESGCM(vault_key).decrypt(
            _b64(blob["cipher"]["nonce"], "cipher.nonce"),
            _b64(blob["ciphertext"], "ciphertext"),
            "|".join([BLOB_FORMAT, str(PASSKEY_BLOB_VERSION), "vault", CIPHER_NAME]).encode(),
        )
    except InvalidTag:
        raise wrong() from None
    vault = json.loads(plaintext.decode("utf-8"))
    if not isinstance(vault, dict):
        raise OfflineBlobError("the sealed content is not a JSON object")
    return vault
