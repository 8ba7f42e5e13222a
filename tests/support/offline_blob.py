"""Reading the offline copy of a vault that the browser sealed under a PIN.

The browser (static/js/offline-crypto.js) writes the blob; the server never sees the PIN
and never needs to open one. This reader exists so the format in docs/offline-blob.md has a
second, independent implementation: the test suite seals a vault with the JavaScript module
and opens it here, which proves the document, the browser code and standard PBKDF2/AES-GCM
agree. It checks the blob's shape before deriving any key, so a damaged or foreign blob is
reported as such and not as a wrong PIN.
"""

from __future__ import annotations

import base64
import binascii
import json
import unicodedata
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

BLOB_FORMAT = "webauth-offline"
BLOB_VERSION = 1
KDF_NAME = "PBKDF2-SHA256"
CIPHER_NAME = "AES-256-GCM"
MIN_ITERATIONS = 600_000
MAX_ITERATIONS = 10_000_000
SALT_BYTES = 16
NONCE_BYTES = 12
TAG_BYTES = 16


class OfflineBlobError(ValueError):
    """The blob is not a version-1 offline copy (missing fields, unknown version, bad encoding)."""


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


def _associated_data(iterations: int, salt: str) -> bytes:
    """The AES-GCM associated data of docs/offline-blob.md: format, version and KDF, `|`-joined."""
    return "|".join([BLOB_FORMAT, str(BLOB_VERSION), KDF_NAME, str(iterations), salt, CIPHER_NAME]).encode()


def open_offline_blob(blob: dict, pin: str) -> dict:
    """Decrypt an offline copy with its PIN and return the vault JSON object.

    Raises `WrongPinError` when the PIN is wrong or the blob was tampered with, and
    `OfflineBlobError` when the blob is not a well-formed version-1 offline copy.
    """
    if not isinstance(blob, dict) or blob.get("format") != BLOB_FORMAT:
        raise OfflineBlobError("not a webauth offline copy")
    version = blob.get("version")
    if type(version) is not int or version != BLOB_VERSION:
        raise OfflineBlobError(f"version {version!r} is not supported (expected {BLOB_VERSION})")
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
