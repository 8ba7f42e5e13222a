"""An Aegis vault reader written for the tests from Aegis's own description of its format
(the vault format document in the beemdevelopment/Aegis repository), independent of webauth's importer.

A password slot holds the master key sealed with AES-256-GCM under scrypt(password, salt, N, r, p,
32 bytes); the header's `params` give the nonce and tag with which the master key seals the
base64 `db`. Codes are computed here from RFC 4226 and RFC 6238, not with webauth.otp.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt


def open_vault(data: bytes, password: str) -> dict[str, Any]:
    """The decrypted `db` object of an Aegis vault file; raises if no password slot opens."""
    vault = json.loads(data)
    assert vault["version"] == 1
    header = vault["header"]
    for slot in header["slots"]:
        if slot["type"] != 1:
            continue
        derived = Scrypt(salt=bytes.fromhex(slot["salt"]), length=32, n=slot["n"], r=slot["r"], p=slot["p"]).derive(
            password.encode("utf-8")
        )
        key_params = slot["key_params"]
        try:
            master_key = AESGCM(derived).decrypt(
                bytes.fromhex(key_params["nonce"]),
                bytes.fromhex(slot["key"]) + bytes.fromhex(key_params["tag"]),
                None,
            )
        except Exception:  # noqa: S112 (the next slot may open)
            continue
        params = header["params"]
        plain = AESGCM(master_key).decrypt(
            bytes.fromhex(params["nonce"]), base64.b64decode(vault["db"]) + bytes.fromhex(params["tag"]), None
        )
        return json.loads(plain)
    raise ValueError("no password slot opens with this password")


def _hotp(secret: bytes, counter: int, digits: int, digest: str) -> str:
    mac = hmac.new(secret, counter.to_bytes(8, "big"), digest).digest()
    offset = mac[-1] & 0x0F
    value = int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def entry_code(entry: dict[str, Any], at: float) -> str:
    """The code an Aegis entry gives at `at` (HOTP: at its stored counter)."""
    info = entry["info"]
    digest = {"SHA1": "sha1", "SHA256": "sha256", "SHA512": "sha512", "MD5": "md5"}[info["algo"]]
    text = info["secret"].upper()
    secret = base64.b32decode(text + "=" * (-len(text) % 8))
    if entry["type"] == "hotp":
        return _hotp(secret, info["counter"], info["digits"], digest)
    if entry["type"] == "totp":
        return _hotp(secret, int(at) // info["period"], info["digits"], digest)
    if entry["type"] == "motp":  # MD5 of the 10 s step, the hex secret and the PIN; 6 hex digits
        return hashlib.md5(
            f"{int(at) // info['period']}{secret.hex()}{info['pin']}".encode(), usedforsecurity=False
        ).hexdigest()[:6]
    raise ValueError(f"no code for {entry['type']}")


def by_label(db: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """The entries by (issuer, name), each with its group names in place of group uuids."""
    groups = {group["uuid"]: group["name"] for group in db["groups"]}
    return {
        (entry["issuer"], entry["name"]): {**entry, "group_names": sorted(groups[g] for g in entry["groups"])}
        for entry in db["entries"]
    }
