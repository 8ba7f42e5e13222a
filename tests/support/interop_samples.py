"""Write the interop samples of `tests/fixtures/interop/` from each format's public description.

Run `python -m tests.support.interop_samples` (or `make interop-samples`) to write them again.

Why generated: the exports other apps' test suites publish (Aegis's `app/src/test/resources`,
extract_otp_secrets' test data) are GPL-3.0 and cannot ship in this MIT project (SOURCES.md).
These files hold the same accounts (`expected.json`), in the structure and with the quirks those
apps write: andOTP's `=` padding, FreeOTP+'s signed secret bytes and counters one lower, Ente's
lowercase algorithm and stray `period` on an HOTP line, Google's negative batch id and escaped
base64, Aegis's biometric slot beside the password slot, Microsoft's Android Room database.

Nothing here imports webauth: the importers are checked against files written independently of
them. The "random" salts, nonces, keys and ids come from SHAKE-256 of a fixed label, so the script
writes the same bytes every time (tests/transfer/test_interop_samples.py checks that it does).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import sqlite3
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import qrcode
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from PIL import Image, ImageDraw

INTEROP = Path(__file__).resolve().parents[1] / "fixtures" / "interop"
PASSWORD = "test"  # the password of the encrypted samples (expected.json says so too)

# The seven accounts every sample holds (or a subset of): `vectors` of expected.json.
VECTORS: list[dict[str, Any]] = json.loads((INTEROP / "expected.json").read_text(encoding="utf-8"))["vectors"]

# 2FAS seals this constant text beside the services to check a password (the app's `reference`).
TWOFAS_REFERENCE = (
    "tRViSsLKzd86Hprh4ceC2OP7xazn4rrt4xhfEUbOjxLX8Rc3mkISXE0lWbmnWfggogbBJhtYgpK6fMl1D6mtsy92R3HkdGfwuXbzLe"
    "bqVFJsR7IZ2w58t938iymwG4824igYy1wi6n2WDpO1Q1P69zwJGs2F5a1qP4MyIiDSD7NCV2OvidXQCBnDlGfmz0f1BQySRkkt4ryi"
    "JeCjD2o4QsveJ9uDBUn8ELyOrESv5R5DMDkD4iAF8TXU7KyoJujd"
)


def fixed_bytes(label: str, size: int) -> bytes:
    """Bytes that look random and are the same on every run: test data only, never a real key."""
    return hashlib.shake_256(f"webauth interop sample: {label}".encode()).digest(size)


def fixed_uuid(label: str) -> str:
    return str(uuid.UUID(bytes=fixed_bytes(label, 16), version=4))


def by_type(kind: str) -> list[dict[str, Any]]:
    return [vector for vector in VECTORS if vector["type"] == kind]


def otpauth_uri(vector: dict[str, Any], *, algorithm: str | None = None, extra: str = "") -> str:
    """The URI most apps write: `Issuer:name` label with %20, issuer parameter with `+` for spaces."""
    label = f"{quote(vector['issuer'], safe='')}:{quote(vector['name'], safe='')}"
    moving = f"counter={vector['counter']}" if vector["type"] == "hotp" else f"period={vector['period']}"
    return (
        f"otpauth://{vector['type']}/{label}?secret={vector['secret']}&issuer={quote_plus(vector['issuer'])}"
        f"&algorithm={algorithm or vector['algorithm']}&digits={vector['digits']}&{moving}{extra}"
    )


def dumps(document: Any, indent: int | None = None) -> bytes:
    """JSON as the apps write it: UTF-8, no ASCII escapes, compact unless indented."""
    separators = (",", ":") if indent is None else (",", ": ")
    return json.dumps(document, ensure_ascii=False, indent=indent, separators=separators).encode()


# otpauth URI list ------------------------------------------------------------------------------


def plain_txt() -> bytes:
    return "".join(otpauth_uri(vector) + "\n" for vector in VECTORS).encode()


# Aegis -------------------------------------------------------------------------------------------


def _aegis_entry(vector: dict[str, Any], db_version: int) -> dict[str, Any]:
    info: dict[str, Any] = {"secret": vector["secret"], "algo": vector["algorithm"], "digits": vector["digits"]}
    info.update({"counter": vector["counter"]} if vector["type"] == "hotp" else {"period": vector["period"]})
    entry: dict[str, Any] = {
        "type": vector["type"],
        "uuid": fixed_uuid(f"aegis {db_version} {vector['secret']}"),
        "name": vector["name"],
        "issuer": vector["issuer"],
    }
    if db_version >= 2:
        entry.update({"note": "", "favorite": False})
    entry["icon"] = None
    if db_version >= 3:
        entry.update({"icon_mime": None, "icon_hash": None})
    entry["info"] = info
    if db_version >= 3:
        entry["groups"] = []
    return entry


def _aegis_db(db_version: int) -> dict[str, Any]:
    db: dict[str, Any] = {"version": db_version, "entries": [_aegis_entry(v, db_version) for v in VECTORS]}
    if db_version >= 3:
        db["groups"] = []
    return db


def aegis_plain() -> bytes:
    """An unencrypted Aegis export, database version 1 (as Aegis 1.x wrote it)."""
    vault = {"version": 1, "header": {"slots": None, "params": None}, "db": _aegis_db(1)}
    return dumps(vault, indent=4)


def _gcm(key: bytes, nonce: bytes, plaintext: bytes) -> tuple[bytes, bytes]:
    """AES-GCM ciphertext and tag, apart, as Aegis stores them."""
    sealed = AESGCM(key).encrypt(nonce, plaintext, None)
    return sealed[:-16], sealed[-16:]


def aegis_encrypted() -> bytes:
    """An encrypted Aegis export, database version 3, with a password slot and a biometric slot.

    The master key seals the database (AES-256-GCM); the password slot holds the master key sealed
    under scrypt(password, salt, N=32768, r=8, p=1). A biometric slot's key lives in the phone's
    keystore, so an importer can only skip it.
    """
    master_key = fixed_bytes("aegis master key", 32)
    salt = fixed_bytes("aegis slot salt", 32)
    slot_key = Scrypt(salt=salt, length=32, n=32768, r=8, p=1).derive(PASSWORD.encode())
    slot_nonce = fixed_bytes("aegis slot nonce", 12)
    sealed_key, key_tag = _gcm(slot_key, slot_nonce, master_key)
    bio_sealed, bio_tag = _gcm(fixed_bytes("aegis biometric key", 32), fixed_bytes("aegis bio nonce", 12), master_key)
    db_nonce = fixed_bytes("aegis db nonce", 12)
    db_sealed, db_tag = _gcm(master_key, db_nonce, dumps(_aegis_db(3)))
    vault = {
        "version": 1,
        "header": {
            "slots": [
                {
                    "type": 1,
                    "uuid": fixed_uuid("aegis password slot"),
                    "key": sealed_key.hex(),
                    "key_params": {"nonce": slot_nonce.hex(), "tag": key_tag.hex()},
                    "n": 32768,
                    "r": 8,
                    "p": 1,
                    "salt": salt.hex(),
                    "repaired": True,
                    "is_backup": False,
                },
                {
                    "type": 2,
                    "uuid": fixed_uuid("aegis biometric slot"),
                    "key": bio_sealed.hex(),
                    "key_params": {"nonce": fixed_bytes("aegis bio nonce", 12).hex(), "tag": bio_tag.hex()},
                },
            ],
            "params": {"nonce": db_nonce.hex(), "tag": db_tag.hex()},
        },
        "db": base64.b64encode(db_sealed).decode(),
    }
    return dumps(vault, indent=4)


# 2FAS --------------------------------------------------------------------------------------------

_TWOFAS_COLORS = {"Deno": "Yellow", "Issuu": "Brown", "Air Canada": "Orange", "WWE": "Default", "Boeing": "Pink"}
_TWOFAS_TIME = 1_767_225_600_000  # 2026-01-01T00:00:00Z, in milliseconds as 2FAS writes times


def _twofas_services() -> list[dict[str, Any]]:
    """Schema 4 services: one TOTP, the three HOTP and the Steam account (2FAS's own sample has five)."""
    chosen = [VECTORS[0], *by_type("hotp"), *by_type("steam")]
    services = []
    for position, vector in enumerate(chosen):
        otp: dict[str, Any] = {
            "link": otpauth_uri(vector),
            "label": vector["name"],
            "account": vector["name"],
            "issuer": vector["issuer"],
            "digits": vector["digits"],
        }
        if vector["type"] == "hotp":
            otp.update({"algorithm": vector["algorithm"], "counter": vector["counter"]})
        else:
            otp.update({"period": vector["period"], "algorithm": vector["algorithm"]})
        otp.update({"tokenType": vector["type"].upper(), "source": "Link"})
        services.append({
            "name": vector["issuer"],
            "secret": vector["secret"],
            "updatedAt": _TWOFAS_TIME + 1000 * position,
            "otp": otp,
            "order": {"position": position},
            "icon": {
                "selected": "Label",
                "label": {"text": vector["issuer"][:2].upper(), "backgroundColor": _TWOFAS_COLORS[vector["issuer"]]},
                "iconCollection": {"id": fixed_uuid("2fas icon collection")},
            },
        })
    return services


def _twofas_document(services: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "services": services,
        "groups": [],
        "updatedAt": _TWOFAS_TIME + 60_000,
        "schemaVersion": 4,
        "appVersionCode": 5000009,
        "appVersionName": "5.1.0",
        "appOrigin": "android",
    }


def twofas_plain() -> bytes:
    return dumps(_twofas_document(_twofas_services()))


def twofas_encrypted() -> bytes:
    """`servicesEncrypted` and `reference`, each `base64(ciphertext+tag):base64(salt):base64(iv)`.

    One key, PBKDF2-HMAC-SHA256(password, salt, 10000 rounds, 32 bytes), seals both with AES-GCM.
    """
    salt = fixed_bytes("2fas salt", 256)
    key = PBKDF2HMAC(hashes.SHA256(), 32, salt, 10_000).derive(PASSWORD.encode())

    def sealed(label: str, plaintext: bytes) -> str:
        iv = fixed_bytes(f"2fas iv {label}", 12)
        parts = (AESGCM(key).encrypt(iv, plaintext, None), salt, iv)
        return ":".join(base64.b64encode(part).decode() for part in parts)

    document = _twofas_document([])
    document["servicesEncrypted"] = sealed("services", dumps(_twofas_services()))
    document["reference"] = sealed("reference", TWOFAS_REFERENCE.encode())
    return dumps(document)


# andOTP ------------------------------------------------------------------------------------------


def andotp_plain() -> bytes:
    """andOTP's plain backup: secrets keep base32's `=` padding; Steam has no algorithm of its own."""
    entries = []
    for number, vector in enumerate(VECTORS):
        entry: dict[str, Any] = {
            "secret": vector["secret"] + "=" * (-len(vector["secret"]) % 8),
            "issuer": vector["issuer"],
            "label": vector["name"],
            "digits": vector["digits"],
            "type": vector["type"].upper(),
            "algorithm": vector["algorithm"],
            "thumbnail": "Default",
            "last_used": _TWOFAS_TIME + 4000 * number,
            "used_frequency": 0,
        }
        if vector["type"] == "hotp":
            entry["counter"] = vector["counter"]
        elif vector["type"] == "totp":
            entry["period"] = vector["period"]
        entry["tags"] = []
        entries.append(entry)
    return dumps(entries)


# Bitwarden ---------------------------------------------------------------------------------------


def _bitwarden_item(name: str, totp: str, username: str | None) -> dict[str, Any]:
    return {
        "passwordHistory": None,
        "revisionDate": "2026-01-01T00:00:00.000Z",
        "creationDate": "2026-01-01T00:00:00.000Z",
        "deletedDate": None,
        "id": fixed_uuid(f"bitwarden {name}"),
        "organizationId": None,
        "folderId": None,
        "type": 1,
        "reprompt": 0,
        "name": name,
        "notes": None,
        "favorite": False,
        "login": {
            "fido2Credentials": [],
            "uris": [],
            "username": username,
            "password": None,
            "totp": totp,
        },
        "collectionIds": None,
    }


def bitwarden_vault() -> bytes:
    """A password manager's vault export: `login.totp` holds an otpauth URI, or `steam://SECRET`."""
    items = [_bitwarden_item(f"Test {n}", otpauth_uri(vector), None) for n, vector in enumerate(by_type("totp"), 1)]
    [steam] = by_type("steam")
    items.append(_bitwarden_item("Test Steam", f"steam://{steam['secret']}", None))
    return dumps({"encrypted": False, "folders": [], "items": items}, indent=2) + b"\n"


def bitwarden_authenticator() -> bytes:
    """Bitwarden Authenticator's plain export: one item whose `login.totp` is an otpauth URI."""
    item = {
        "id": fixed_uuid("bitwarden authenticator item"),
        "name": "Test Issuer",
        "folderId": None,
        "organizationId": None,
        "collectionIds": None,
        "notes": None,
        "type": 1,
        "login": {
            "totp": "otpauth://totp/Test%20Issuer:person@example.com?secret=JBSWY3DPEHPK3PXP"
            "&issuer=Test%20Issuer&algorithm=SHA1&digits=6&period=30"
        },
        "favorite": False,
    }
    return dumps({"encrypted": False, "items": [item]}, indent=2) + b"\n"


# Ente Auth ---------------------------------------------------------------------------------------


def ente_auth() -> bytes:
    """Ente's plain export: URIs sorted by issuer, each with its `codeDisplay` JSON.

    Ente rewrites an HOTP line it has edited with its parameters in alphabetical order, the
    algorithm in lower case and a `period` that HOTP does not use: the WWE line is written so.
    """
    display = "&codeDisplay=" + quote(
        json.dumps({"pinned": False, "trashed": False, "lastUsedAt": 0, "tapCount": 0, "tags": []},
                   separators=(",", ":")),
        safe="",
    )
    lines = []
    for vector in sorted(VECTORS, key=lambda v: (v["issuer"], v["name"])):
        if vector["issuer"] == "WWE":
            lines.append(
                f"otpauth://hotp/WWE:{vector['name']}?algorithm={vector['algorithm'].lower()}&digits={vector['digits']}"
                f"&issuer=WWE&period=30&secret={vector['secret']}&counter={vector['counter']}{display}"
            )
        else:
            lines.append(otpauth_uri(vector, extra=display))
    return "\n".join(lines).encode() + b"\n"


# FreeOTP+ ----------------------------------------------------------------------------------------


def freeotp_plus() -> bytes:
    """FreeOTP+'s JSON: the secret as Java's signed bytes; HOTP counters one lower than the next code's."""
    tokens = []
    for vector in reversed([v for v in VECTORS if v["type"] != "steam"]):
        raw = base64.b32decode(vector["secret"] + "=" * (-len(vector["secret"]) % 8))
        tokens.append({
            "algo": vector["algorithm"],
            "counter": vector["counter"] - 1 if vector["type"] == "hotp" else 0,
            "digits": vector["digits"],
            "issuerExt": vector["issuer"],
            "issuerInt": vector["issuer"],
            "label": vector["name"],
            "period": vector.get("period", 30),
            "secret": [byte - 256 if byte > 127 else byte for byte in raw],
            "type": vector["type"].upper(),
        })
    order = [f"{token['issuerExt']}:{token['label']}" for token in tokens]
    return dumps({"tokenOrder": order, "tokens": tokens})


# Proton Authenticator ----------------------------------------------------------------------------


def proton_authenticator() -> bytes:
    """Proton Authenticator's plain export (version 1) of the three TOTP accounts."""
    entries = [
        {
            "id": fixed_uuid(f"proton {vector['secret']}"),
            "content": {"uri": otpauth_uri(vector), "entry_type": "Totp", "name": vector["name"]},
            "note": None,
        }
        for vector in by_type("totp")
    ]
    return dumps({"version": 1, "entries": entries}, indent=2)


# Authenticator Pro / Stratum ---------------------------------------------------------------------

_STRATUM_TYPES = {"hotp": 1, "totp": 2, "steam": 4}
_STRATUM_ALGORITHMS = {"SHA1": 0, "SHA256": 1, "SHA512": 2}


def stratum_plain() -> bytes:
    authenticators = [
        {
            "Type": _STRATUM_TYPES[vector["type"]],
            "Icon": None,
            "Issuer": vector["issuer"],
            "Username": vector["name"],
            "Secret": vector["secret"],
            "Pin": None,
            "Algorithm": _STRATUM_ALGORITHMS[vector["algorithm"]],
            "Digits": vector["digits"],
            "Period": vector.get("period", 30),
            "Counter": vector.get("counter", 0),
            "Ranking": 0,
        }
        for vector in VECTORS
    ]
    return dumps({"Authenticators": authenticators, "Categories": [], "AuthenticatorCategories": [], "CustomIcons": []})


# Microsoft Authenticator -------------------------------------------------------------------------

_PHONEFACTOR_ACCOUNTS = """CREATE TABLE `accounts` (`_id` INTEGER PRIMARY KEY AUTOINCREMENT,
 `group_key` TEXT NOT NULL, `name` TEXT NOT NULL, `username` TEXT NOT NULL, `paws_url` TEXT NOT NULL,
 `oath_secret_key` TEXT NOT NULL, `oath_enabled` INTEGER NOT NULL, `cid` TEXT NOT NULL, `cached_pin` TEXT NOT NULL,
 `ngc_ski` TEXT NOT NULL, `aad_user_id` TEXT NOT NULL, `aad_tenant_id` TEXT NOT NULL, `account_type` INTEGER NOT NULL,
 `account_capability` INTEGER NOT NULL, `ux_position` INTEGER NOT NULL, `is_totp_code_shown` INTEGER NOT NULL,
 `encrypted_oath_secret_key` TEXT NOT NULL, `mfa_pin_encryption_key_alias` TEXT NOT NULL,
 `identity_provider` TEXT NOT NULL, `aad_ngc_totp_enabled` INTEGER NOT NULL, `aad_authority` TEXT NOT NULL,
 `restore_capability` INTEGER NOT NULL, `update_flags` INTEGER NOT NULL, `has_password` INTEGER NOT NULL,
 `aad_security_defaults_policy_enabled` INTEGER NOT NULL)"""


def phonefactor_rows() -> list[tuple[Any, ...]]:
    """The `accounts` rows: account_type 0 is a TOTP account; the app keeps no algorithm, digits or period."""
    return [
        ("0" * 32, v["issuer"], v["name"], "", v["secret"], 0, "", "", "", "", "", 0, 1, position, 1, "", "",
         v["issuer"], 0, "", 0, 0, 1, 0)
        for position, v in enumerate(VECTORS, start=1)
    ]


def microsoft_authenticator() -> bytes:
    """Microsoft Authenticator's Android database (`PhoneFactor`), as Android's Room library lays it out."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "PhoneFactor"
        connection = sqlite3.connect(path)
        try:
            with connection:
                connection.execute("CREATE TABLE android_metadata (locale TEXT)")
                connection.execute("INSERT INTO android_metadata VALUES ('en_US')")
                connection.execute(_PHONEFACTOR_ACCOUNTS)
                connection.execute("CREATE TABLE room_master_table (id INTEGER PRIMARY KEY,identity_hash TEXT)")
                connection.execute("INSERT INTO room_master_table VALUES (42, ?)", (fixed_bytes("room", 16).hex(),))
                connection.executemany(
                    "INSERT INTO accounts (group_key, name, username, paws_url, oath_secret_key, oath_enabled, cid,"
                    " cached_pin, ngc_ski, aad_user_id, aad_tenant_id, account_type, account_capability,"
                    " ux_position, is_totp_code_shown, encrypted_oath_secret_key, mfa_pin_encryption_key_alias,"
                    " identity_provider, aad_ngc_totp_enabled, aad_authority, restore_capability, update_flags,"
                    " has_password, aad_security_defaults_policy_enabled)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    phonefactor_rows(),
                )
        finally:
            connection.close()
        return path.read_bytes()


# Google Authenticator transfer -------------------------------------------------------------------


def varint(value: int) -> bytes:
    """A protobuf varint; negative numbers as their 64-bit two's complement (ten bytes)."""
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def field(number: int, value: int | bytes | str) -> bytes:
    """A protobuf field: varint for integers, length-delimited for bytes and text."""
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    data = value.encode() if isinstance(value, str) else value
    return varint(number << 3 | 2) + varint(len(data)) + data


_GOOGLE_TYPES = {"hotp": 1, "totp": 2}


def otp_parameters(secret: str, name: str, issuer: str, kind: str = "totp", counter: int | None = None) -> bytes:
    """`OtpParameters`: secret, name, issuer, algorithm SHA1 (1), digits six (1), type, counter."""
    raw = base64.b32decode(secret + "=" * (-len(secret) % 8))
    message = field(1, raw) + field(2, name)
    if issuer:
        message += field(3, issuer)
    message += field(4, 1) + field(5, 1) + field(6, _GOOGLE_TYPES[kind])
    if counter is not None:
        message += field(7, counter)
    return message


def migration_uri(accounts: list[bytes], batch_id: int) -> str:
    """`otpauth-migration://offline?data=` + the escaped base64 of a `MigrationPayload` (one batch of one)."""
    payload = b"".join(field(1, account) for account in accounts)
    payload += field(2, 1) + field(3, 1) + field(4, 0) + field(5, batch_id)
    return "otpauth-migration://offline?data=" + quote(base64.b64encode(payload).decode(), safe="")


# A published demo secret (the Raspberry Pi blog's two-factor example), and the accounts built on it.
PI_SECRET = "7KSQL2JTUDIS5EF65KLMRQIIGY"
GOOGLE_ACCOUNTS: list[dict[str, Any]] = [
    {"name": "pi@raspberrypi", "issuer": "raspberrypi", "type": "totp", "counter": None},
    {"name": "pi@raspberrypi", "issuer": "", "type": "totp", "counter": None},
    {"name": "pi@raspberrypi", "issuer": "", "type": "totp", "counter": None},
    {"name": "pi@raspberrypi", "issuer": "raspberrypi", "type": "totp", "counter": None},
    {"name": "hotp demo", "issuer": "", "type": "hotp", "counter": 4},
    {"name": "encoding: ¿äÄéÉ? (demo)", "issuer": "", "type": "totp", "counter": None},
]
# Batch ids are random 32-bit numbers the app writes as signed, so often negative: these give
# base64 with `+` and `/`, which reach us escaped (%2B, %2F) or not.
_BATCH_IDS = [-1_369_390_389, -1_845_212_228, -1_515_064_816, -1_645_930_021, -365_036_307]


def _google_parameters(account: dict[str, Any]) -> bytes:
    return otp_parameters(PI_SECRET, account["name"], account["issuer"], account["type"], account["counter"])


def _account_uri(account: dict[str, Any]) -> str:
    label = quote(account["name"], safe="")
    params = f"secret={PI_SECRET}" + (f"&issuer={account['issuer']}" if account["issuer"] else "")
    if account["counter"] is not None:
        params += f"&counter={account['counter']}"
    return f"otpauth://{account['type']}/{label}?{params}"


def google_migration_example() -> bytes:
    """Transfer URIs, one per line, with `#` comments: five codes, the third of which holds two accounts."""
    batches = [[0], [1], [2, 3], [4], [5]]
    lines = [
        "# Google Authenticator transfer codes, written by tests/support/interop_samples.py.",
        f"# Every account uses the published demo secret {PI_SECRET}.",
        "",
    ]
    for batch, batch_id in zip(batches, _BATCH_IDS, strict=True):
        accounts = [GOOGLE_ACCOUNTS[index] for index in batch]
        lines += [f"# {_account_uri(account)}" for account in accounts]
        # A name the URI can only percent-encode is written out for the reader too.
        lines += [f'# Name: "{account["name"]}"' for account in accounts if not account["name"].isascii()]
        lines += [migration_uri([_google_parameters(account) for account in accounts], batch_id), ""]
    return "\n".join(lines).encode()


def google_migration_expected() -> bytes:
    expected = [{**account, "secret": PI_SECRET, "url": _account_uri(account)} for account in GOOGLE_ACCOUNTS]
    ordered = [{key: item[key] for key in ("name", "secret", "issuer", "type", "counter", "url")} for item in expected]
    return dumps(ordered, indent=4)


def google_migration_bad_prefix() -> bytes:
    """A transfer URI behind a `QR-Code:` prefix, as some QR scanner apps copy it."""
    return f"QR-Code:{migration_uri([_google_parameters(GOOGLE_ACCOUNTS[0])], _BATCH_IDS[0])}\n".encode()


SCREENSHOT_ACCOUNTS = [
    ("JBSWY3DPEHPK3PXP", "Test1:test1@example1.com", "Test1"),
    ("JBSWY3DPEHPK3PXQ", "Test2:test2@example2.com", "Test2"),
    ("JBSWY3DPEHPK3PXR", "Test3:test3@example3.com", "Test3"),
]


def screenshot_pixels() -> Image.Image:
    """A phone screenshot of Google Authenticator's "Export accounts" screen: a bar, a title, one QR code.

    The names keep the `TestN:` prefix inside the payload, as Google's app stores them.
    """
    uri = migration_uri([otp_parameters(*account) for account in SCREENSHOT_ACCOUNTS], -1_096_113_937)
    code = qrcode.make(uri, box_size=9, border=2).get_image().convert("RGB")
    screen = Image.new("RGB", (1080, 1920), (32, 33, 36))
    draw = ImageDraw.Draw(screen)
    draw.rectangle((0, 0, 1080, 84), fill=(24, 25, 28))  # the status bar
    for x in range(120, 960, 90):  # lines of "text" above and below the code
        draw.rectangle((x, 300, x + 60, 324), fill=(232, 234, 237))
    draw.rectangle((170, 1500, 910, 1524), fill=(154, 160, 166))
    draw.rounded_rectangle((390, 1720, 690, 1820), radius=50, fill=(138, 180, 248))  # the "Next" button
    screen.paste(code, ((1080 - code.width) // 2, 520))
    return screen


def google_migration_screenshot() -> bytes:
    out = io.BytesIO()
    screenshot_pixels().save(out, format="PNG", optimize=True)
    return out.getvalue()


# All of them -------------------------------------------------------------------------------------

SAMPLES: dict[str, Callable[[], bytes]] = {
    "plain.txt": plain_txt,
    "aegis_plain.json": aegis_plain,
    "aegis_encrypted.json": aegis_encrypted,
    "2fas_authenticator_plain_v4.2fas": twofas_plain,
    "2fas_authenticator_encrypted_v4.2fas": twofas_encrypted,
    "andotp_plain.json": andotp_plain,
    "bitwarden.json": bitwarden_vault,
    "bitwarden_authenticator_plain.json": bitwarden_authenticator,
    "ente_auth.txt": ente_auth,
    "freeotp_plus.json": freeotp_plus,
    "proton_authenticator.json": proton_authenticator,
    "microsoft_authenticator.sqlite": microsoft_authenticator,
    "stratum_plain.json": stratum_plain,
    "google_migration_example.txt": google_migration_example,
    "google_migration_example.expected.json": google_migration_expected,
    "google_migration_example.png": google_migration_screenshot,
    "google_migration_bad_prefix.txt": google_migration_bad_prefix,
}


def write_all(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, make in SAMPLES.items():
        path = folder / name
        path.write_bytes(make())
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=INTEROP, help="where to write (default: %(default)s)")
    for path in write_all(parser.parse_args().folder):
        print(path)


if __name__ == "__main__":
    main()
