"""Bitwarden exports: the password manager's vault (JSON and CSV) and Bitwarden Authenticator's JSON.

Each item whose `login.totp` is set becomes an account; other items are skipped without a word,
since a vault is mostly passwords. The field holds an otpauth URI, a bare base32 secret (TOTP,
SHA1, 6 digits, 30 s) or `steam://SECRET`. The item's name stands in for a missing issuer, its
username for a missing account name; favorite and folder carry over.

Password-protected JSON, shared by both apps (read from Bitwarden's clients and SDK source):

    {"encrypted": true, "passwordProtected": true, "salt": "<base64 of 16 random bytes>",
     "kdfType": 0 | 1, "kdfIterations": N, "kdfMemory": MiB | null, "kdfParallelism": P | null,
     "encKeyValidation_DO_NOT_EDIT": "2.…", "data": "2.…"}

- Key material: kdfType 0 is PBKDF2-HMAC-SHA256(password, salt, N, 32 bytes); kdfType 1 is
  Argon2id(password, SHA-256(salt), t=N, m=kdfMemory MiB, p=P, 32 bytes). The salt is the
  base64 *text* taken as UTF-8 bytes, not the bytes it encodes.
- The material is stretched with HKDF-Expand-SHA256 alone (no extract step): info "enc" gives
  the 32-byte AES key, info "mac" the 32-byte HMAC key.
- An EncString of type 2 is "2." + base64(iv, 16 bytes) + "|" + base64(ciphertext) + "|" +
  base64(mac), mac = HMAC-SHA256(mac key, iv ‖ ciphertext), cipher AES-256-CBC with PKCS#7.
- encKeyValidation_DO_NOT_EDIT seals a random UUID: opening it proves the password. `data`
  seals the plain JSON export.

KDF parameters come from the file: they are checked against Bitwarden's own ranges, then
against the server's budget (limits.py), before the password is even asked for.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
from dataclasses import replace
from typing import Any, ClassVar
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from webauth.otp import OtpParams, OtpType
from webauth.otpauth import AccountSpec, decode_secret, parse_uri
from webauth.transfer._parsing import (
    EntryProblem,
    as_dict,
    as_list,
    build_entry,
    check_count,
    check_size,
    decode_b64,
    decode_text,
    describe,
    encode_password,
    load_json,
    sniff_json,
)
from webauth.transfer.base import ImportedEntry, Importer, PasswordRequired, TransferError, WrongPassword
from webauth.transfer.kdf import Argon2id, Attempt, Params, Pbkdf2

KDF_PBKDF2, KDF_ARGON2ID = 0, 1
# Bitwarden's own ranges (libs/common kdf-config.ts); older accounts may still use 5,000 iterations.
# Its largest Argon2id memory, 1 GiB, is beyond the server's budget: such a file is refused as too costly.
PBKDF2_ITERATIONS = range(5_000, 2_000_001)
ARGON2_ITERATIONS = range(2, 11)
ARGON2_MEMORY_MIB = range(16, 1025)
ARGON2_PARALLELISM = range(1, 17)
_WHAT = _l("This Bitwarden export")
_VALIDATION_KEY = "encKeyValidation_DO_NOT_EDIT"


# --- password-protected envelope ------------------------------------------------------------


def _kdf_int(doc: dict[str, Any], key: str, bounds: range) -> int:
    value = doc.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value not in bounds:
        raise TransferError(
            _("The export's %(key)s (%(value)s) is outside what Bitwarden writes", key=key, value=repr(value)[:20])
        )
    return value


def _kdf(doc: dict[str, Any]) -> tuple[Params, bytes]:
    """The key derivation the export names, and the salt it derives with."""
    salt = doc.get("salt")
    if not isinstance(salt, str) or not salt:
        raise TransferError(_("The protected Bitwarden export has no salt"))
    salt_bytes = salt.encode("utf-8")
    kdf_type = doc.get("kdfType")
    if kdf_type == KDF_PBKDF2 and not isinstance(kdf_type, bool):
        return Pbkdf2("sha256", _kdf_int(doc, "kdfIterations", PBKDF2_ITERATIONS)), salt_bytes
    if kdf_type == KDF_ARGON2ID and not isinstance(kdf_type, bool):
        params = Argon2id(
            memory_kib=_kdf_int(doc, "kdfMemory", ARGON2_MEMORY_MIB) * 1024,
            passes=_kdf_int(doc, "kdfIterations", ARGON2_ITERATIONS),
            lanes=_kdf_int(doc, "kdfParallelism", ARGON2_PARALLELISM),
        )
        return params, hashlib.sha256(salt_bytes).digest()
    raise TransferError(
        _("The export uses an unknown key derivation (kdfType %(kdf_type)s)", kdf_type=repr(kdf_type)[:20])
    )


def _stretch(material: bytes) -> tuple[bytes, bytes]:
    enc_key = HKDFExpand(algorithm=hashes.SHA256(), length=32, info=b"enc").derive(material)
    mac_key = HKDFExpand(algorithm=hashes.SHA256(), length=32, info=b"mac").derive(material)
    return enc_key, mac_key


def _enc_string(value: Any, what: str) -> tuple[bytes, bytes, bytes]:
    """(iv, ciphertext, mac) of a type-2 EncString; other types are not used by password-protected exports."""
    if not isinstance(value, str) or not value.startswith("2."):
        raise TransferError(_("%(what)s is not a Bitwarden encrypted string of type 2", what=what))
    parts = value[2:].split("|")
    if len(parts) != 3:
        raise TransferError(_("%(what)s is malformed", what=what))
    iv, ciphertext, mac = (decode_b64(part, what) for part in parts)
    if len(iv) != 16 or len(mac) != 32 or not ciphertext or len(ciphertext) % 16:
        raise TransferError(_("%(what)s is malformed", what=what))
    return iv, ciphertext, mac


def _open(keys: tuple[bytes, bytes], sealed: tuple[bytes, bytes, bytes]) -> bytes | None:
    """The plaintext, or None when the MAC does not match (wrong key or altered data)."""
    enc_key, mac_key = keys
    iv, ciphertext, mac = sealed
    if not hmac.compare_digest(hmac.new(mac_key, iv + ciphertext, hashlib.sha256).digest(), mac):
        return None
    decryptor = Cipher(algorithms.AES(enc_key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise TransferError(_("The Bitwarden export is damaged (bad padding)")) from None


def _decrypt_protected(doc: dict[str, Any], password: str | None) -> Any:
    validation = _enc_string(doc.get(_VALIDATION_KEY), _("The password check"))
    data = _enc_string(doc.get("data"), _("The encrypted data"))
    params, salt = _kdf(doc)
    attempt = Attempt(_WHAT, _("Lower the KDF memory in Bitwarden's security settings to 256 MiB and export again."))
    attempt.reserve(params)
    if not password:
        raise PasswordRequired(_("The Bitwarden export is password protected: enter its password"))
    keys = _stretch(attempt.derive(params, encode_password(password), salt))
    if _open(keys, validation) is None:
        raise WrongPassword(_("Wrong password for this Bitwarden export"))
    plain = _open(keys, data)
    if plain is None:
        raise WrongPassword(_("The Bitwarden export cannot be decrypted: it was altered or damaged"))
    return load_json(plain, _("The decrypted export"))


# --- items ----------------------------------------------------------------------------------


def _with_label(uri: str, fallback: str) -> str:
    """The URI with `fallback` as its label when it has none, so the account keeps a name."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        raise EntryProblem(_("The TOTP link of this item is not a valid link.")) from None
    if unquote(parts.path.lstrip("/")).strip() or not fallback:
        return uri
    return urlunsplit(parts._replace(path="/" + quote(fallback, safe="@")))


def totp_spec(totp: str, item_name: str, username: str) -> AccountSpec:
    """The account a Bitwarden TOTP field describes; the item's name and username fill the gaps."""
    value = totp.strip()
    lowered = value.lower()
    if lowered.startswith("otpauth://"):
        spec = parse_uri(_with_label(value, username or item_name))
        if not spec.issuer and item_name and item_name != spec.name:
            spec = replace(spec, issuer=item_name)
        return spec
    if lowered.startswith("steam://"):
        params = OtpParams(type=OtpType.STEAM, secret=decode_secret(value[len("steam://") :]))
    else:
        params = OtpParams(type=OtpType.TOTP, secret=decode_secret(value))
    return AccountSpec(issuer=item_name, name=username, params=params)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _item_spec(item: dict[str, Any], login: dict[str, Any], totp: str, folders: dict[str, str]) -> AccountSpec:
    spec = totp_spec(totp, _text(item.get("name")), _text(login.get("username")))
    folder = folders.get(_text(item.get("folderId")))
    return replace(spec, favorite=item.get("favorite") is True, groups=(folder,) if folder else ())


def _row_spec(row: dict[str | Any, Any]) -> AccountSpec:
    spec = totp_spec(_text(row.get("login_totp")), _text(row.get("name")), _text(row.get("login_username")))
    folder = _text(row.get("folder")).strip()
    favorite = _text(row.get("favorite")).strip().lower() in ("1", "true")
    return replace(spec, favorite=favorite, groups=(folder,) if folder else ())


def _read_items(doc: Any) -> list[ImportedEntry]:
    doc = as_dict(doc, _("The Bitwarden export"))
    folders: dict[str, str] = {}
    for folder in as_list(doc.get("folders") or [], _("The folders")):
        if isinstance(folder, dict) and isinstance(folder.get("id"), str) and isinstance(folder.get("name"), str):
            folders[folder["id"]] = folder["name"]
    entries = []
    for index, item in enumerate(as_list(doc.get("items"), _("The items")), start=1):
        login = item.get("login") if isinstance(item, dict) else None
        if not isinstance(login, dict):
            continue
        totp = login.get("totp")
        if not isinstance(totp, str) or not totp.strip():
            continue
        source = describe(f"item {index}", item.get("name"), login.get("username"))
        entries.append(build_entry(source, lambda i=item, lg=login, t=totp: _item_spec(i, lg, t, folders)))
    return entries


def _read_json(data: bytes, password: str | None) -> list[ImportedEntry]:
    check_size(data)
    doc = as_dict(load_json(data), _("The Bitwarden export"))
    if doc.get("encrypted") is True:
        if doc.get("passwordProtected") is not True:
            raise TransferError(
                _(
                    "This Bitwarden export is locked to its account: export again as 'password protected'"
                    " or as plain JSON"
                )
            )
        doc = _decrypt_protected(doc, password)
    return _read_items(doc)


class BitwardenJsonImporter(Importer):
    """The password manager's JSON export, plain or password protected.

    A protected file cannot be told apart from a protected Authenticator export before it is
    opened, so this importer claims both; the items read the same either way.
    """

    format_id: ClassVar[str] = "bitwarden_json"
    title: ClassVar[str] = "Bitwarden vault (JSON, plain or password protected)"

    def sniff(self, data: bytes) -> bool:
        doc = sniff_json(data)
        if not isinstance(doc, dict):
            return False
        if doc.get("encrypted") is True:
            return "data" in doc or "items" in doc
        return doc.get("encrypted") is False and isinstance(doc.get("items"), list) and "folders" in doc

    def read(self, data: bytes, password: str | None = None) -> list[ImportedEntry]:
        return _read_json(data, password)


class BitwardenAuthenticatorImporter(Importer):
    """Bitwarden Authenticator's JSON export: the vault's shape without folders."""

    format_id: ClassVar[str] = "bitwarden_authenticator"
    title: ClassVar[str] = "Bitwarden Authenticator (JSON)"

    def sniff(self, data: bytes) -> bool:
        doc = sniff_json(data)
        return (
            isinstance(doc, dict)
            and doc.get("encrypted") is False
            and isinstance(doc.get("items"), list)
            and "folders" not in doc
        )

    def read(self, data: bytes, password: str | None = None) -> list[ImportedEntry]:
        return _read_json(data, password)


class BitwardenCsvImporter(Importer):
    """The vault's CSV export (personal or organization); the TOTP field is `login_totp`."""

    format_id: ClassVar[str] = "bitwarden_csv"
    title: ClassVar[str] = "Bitwarden vault (CSV)"

    def sniff(self, data: bytes) -> bool:
        try:
            header = data[:4096].decode("utf-8-sig", errors="strict").splitlines()[0]
        except (UnicodeDecodeError, IndexError):
            return False
        columns = [column.strip() for column in header.split(",")]
        return "login_totp" in columns and "name" in columns

    def read(self, data: bytes, password: str | None = None) -> list[ImportedEntry]:
        reader = csv.DictReader(io.StringIO(decode_text(data), newline=""), strict=True)
        entries: list[ImportedEntry] = []
        try:
            if "login_totp" not in (reader.fieldnames or []):
                raise TransferError(_("The CSV file has no login_totp column: it is not a Bitwarden export"))
            for index, row in enumerate(reader, start=1):
                check_count(index)
                if not _text(row.get("login_totp")).strip():
                    continue
                source = describe(f"row {index}", row.get("name"), row.get("login_username"))
                entries.append(build_entry(source, lambda row=row: _row_spec(row)))
        except csv.Error as exc:
            raise TransferError(_("The CSV file is malformed (%(reason)s)", reason=exc)) from None
        return entries


IMPORTERS: list[Importer] = [BitwardenJsonImporter(), BitwardenAuthenticatorImporter(), BitwardenCsvImporter()]
