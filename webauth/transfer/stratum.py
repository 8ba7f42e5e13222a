"""Authenticator Pro / Stratum backups (jamie-mh/AuthenticatorPro, `doc/BACKUP_FORMAT.md`).

Plain: `{"Authenticators": [{Type, Issuer, Username, Secret, Algorithm, Digits, Period,
Counter, Pin, ...}], "Categories": [{Id, Name}], "AuthenticatorCategories": [{CategoryId,
AuthenticatorSecret}], ...}`. Type 1 HOTP, 2 TOTP, 3 mOTP, 4 Steam, 5 Yandex; Algorithm
0 SHA1, 1 SHA256, 2 SHA512. Categories link to an authenticator by its secret, as written.
An mOTP secret is written in hex, the others in base32; mOTP and Yandex have their `Pin`.

Encrypted (`Core/Backup/Encryption/StrongBackupEncryption.cs`): `AUTHENTICATORPRO`, salt (16),
IV (12), then AES-256-GCM ciphertext and 16-byte tag; key = Argon2id(password, salt, t=3,
m=64 MiB, p=4, 32 bytes). Older backups (`LegacyBackupEncryption.cs`): `AuthenticatorPro`,
salt (20), IV (16), AES-256-CBC with PKCS7 padding; key = PBKDF2-HMAC-SHA1(password, salt,
64000, 32 bytes). Either way the plaintext is the plain JSON.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Mapping
from typing import Any, ClassVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from webauth.otp import PIN_TYPES, Algorithm, OtpParams, OtpType
from webauth.otpauth import AccountSpec, decode_secret, decode_secret_of
from webauth.transfer._parsing import (
    EntryProblem,
    convert_all,
    entry_object,
    field_int,
    field_str,
    json_object,
    load_json,
    numbered,
    require_password,
    sniff_json_shape,
)
from webauth.transfer.base import ImportedEntry, Importer, TransferError, WrongPassword
from webauth.transfer.kdf import Argon2id, Pbkdf2, derive_once

_WHAT = _l("Authenticator Pro backup")

_TYPES = {1: OtpType.HOTP, 2: OtpType.TOTP, 3: OtpType.MOTP, 4: OtpType.STEAM, 5: OtpType.YANDEX}
_ALGORITHMS = {0: Algorithm.SHA1, 1: Algorithm.SHA256, 2: Algorithm.SHA512}

HEADER = b"AUTHENTICATORPRO"
_SALT_BYTES, _IV_BYTES, _TAG_BYTES = 16, 12, 16
_KDF = Argon2id(memory_kib=64 * 1024, passes=3, lanes=4)

LEGACY_HEADER = b"AuthenticatorPro"
_LEGACY_SALT_BYTES, _LEGACY_IV_BYTES = 20, 16
_LEGACY_KDF = Pbkdf2("sha1", 64000)


def _groups_by_secret(backup: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """Category names for each authenticator secret; links to unknown categories are ignored."""
    categories = backup.get("Categories")
    links = backup.get("AuthenticatorCategories")
    names: dict[str, str] = {}
    if isinstance(categories, list):
        for category in categories:
            if isinstance(category, dict) and isinstance(category.get("Id"), str):
                name = category.get("Name")
                if isinstance(name, str):
                    names[category["Id"]] = name
    groups: defaultdict[str, list[str]] = defaultdict(list)
    if isinstance(links, list):
        for link in links:
            if not isinstance(link, dict):
                continue
            secret, category_id = link.get("AuthenticatorSecret"), link.get("CategoryId")
            if isinstance(secret, str) and isinstance(category_id, str) and category_id in names:
                groups[secret].append(names[category_id])
    return {secret: tuple(group_names) for secret, group_names in groups.items()}


def _convert(groups: Mapping[str, tuple[str, ...]], source: str, item: object) -> ImportedEntry:
    authenticator = entry_object(item)
    type_code = field_int(authenticator, "Type")
    if type_code not in _TYPES:
        raise EntryProblem(
            _("This entry is of a kind Authenticator Pro does not write (type %(code)s).", code=type_code)
        )
    algorithm_code = field_int(authenticator, "Algorithm", 0)
    if algorithm_code not in _ALGORITHMS:
        raise EntryProblem(
            _("This entry has an algorithm Authenticator Pro does not write (code %(code)s).", code=algorithm_code)
        )
    secret_text = field_str(authenticator, "Secret", required=True)
    otp_type = _TYPES[type_code]
    if otp_type in PIN_TYPES:
        # Stratum fixes the other parameters of these types (its MobileOtp and YandexOtp generators).
        pin = field_str(authenticator, "Pin") or None
        params = OtpParams(type=otp_type, secret=decode_secret_of(otp_type, secret_text), pin=pin)
    else:
        params = OtpParams(
            type=otp_type,
            secret=decode_secret(secret_text),
            algorithm=_ALGORITHMS[algorithm_code],
            digits=field_int(authenticator, "Digits", 6),
            period=field_int(authenticator, "Period", 30),
            counter=field_int(authenticator, "Counter", 0),
        )
    spec = AccountSpec(
        issuer=field_str(authenticator, "Issuer"),
        name=field_str(authenticator, "Username"),
        params=params,
        groups=groups.get(secret_text, ()),
    )
    return ImportedEntry(source=source, spec=spec)


def _read_backup(backup: object) -> list[ImportedEntry]:
    if not isinstance(backup, dict) or not isinstance(backup.get("Authenticators"), list):
        raise TransferError(_("This is not an %(what)s: it has no list of authenticators.", what=_WHAT))
    items = numbered(backup["Authenticators"], "authenticator", _names)
    return convert_all(items, functools.partial(_convert, _groups_by_secret(backup)))


def _names(authenticator: Mapping[str, Any]) -> tuple[object, ...]:
    return authenticator.get("Issuer"), authenticator.get("Username")


def _decrypt(data: bytes, password: bytes) -> bytes:
    body = data[len(HEADER) :]
    if len(body) < _SALT_BYTES + _IV_BYTES + _TAG_BYTES:
        raise TransferError(_("This %(what)s is damaged: it is too short.", what=_WHAT))
    salt, iv, ciphertext = (
        body[:_SALT_BYTES],
        body[_SALT_BYTES : _SALT_BYTES + _IV_BYTES],
        body[_SALT_BYTES + _IV_BYTES :],
    )
    key = derive_once(_KDF, password, salt, _("This %(what)s", what=_WHAT))
    try:
        return AESGCM(key).decrypt(iv, ciphertext, None)
    except InvalidTag:
        raise WrongPassword(_("The password is wrong, or the %(what)s was altered.", what=_WHAT)) from None


def _decrypt_legacy(data: bytes, password: bytes) -> bytes:
    """AES-CBC has no authentication: a wrong password shows as bad padding or unreadable JSON."""
    body = data[len(LEGACY_HEADER) :]
    ciphertext = body[_LEGACY_SALT_BYTES + _LEGACY_IV_BYTES :]
    if not ciphertext or len(ciphertext) % 16:
        raise TransferError(_("This %(what)s is damaged: the encrypted data is truncated.", what=_WHAT))
    salt, iv = body[:_LEGACY_SALT_BYTES], body[_LEGACY_SALT_BYTES : _LEGACY_SALT_BYTES + _LEGACY_IV_BYTES]
    key = derive_once(_LEGACY_KDF, password, salt, _("This %(what)s", what=_WHAT))
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(decryptor.update(ciphertext) + decryptor.finalize()) + unpadder.finalize()
    except ValueError:
        raise WrongPassword(_("The password is wrong, or the %(what)s was altered.", what=_WHAT)) from None


class StratumPlainImporter(Importer):
    format_id: ClassVar[str] = "stratum"
    title: ClassVar[str] = "Authenticator Pro / Stratum backup"

    def sniff(self, data: bytes) -> bool:
        return sniff_json_shape(
            data,
            (b'"Authenticators"',),
            lambda value: isinstance(value, dict) and isinstance(value.get("Authenticators"), list),
        )

    def read(self, data: bytes, password: str | None = None) -> list[ImportedEntry]:
        return _read_backup(json_object(data, _WHAT))


class StratumEncryptedImporter(Importer):
    format_id: ClassVar[str] = "stratum_encrypted"
    title: ClassVar[str] = "Authenticator Pro / Stratum backup (encrypted)"

    def sniff(self, data: bytes) -> bool:
        return data.startswith((HEADER, LEGACY_HEADER))

    def read(self, data: bytes, password: str | None = None) -> list[ImportedEntry]:
        if data.startswith(HEADER):
            decrypt = _decrypt
        elif data.startswith(LEGACY_HEADER):
            decrypt = _decrypt_legacy
        else:
            raise TransferError(
                _("This is not an encrypted %(what)s: it lacks the AUTHENTICATORPRO header.", what=_WHAT)
            )
        plaintext = decrypt(data, require_password(password, _WHAT))
        try:
            backup = load_json(plaintext, _("This %(what)s file", what=_WHAT))
        except TransferError:
            if decrypt is _decrypt_legacy:
                raise WrongPassword(_("The password is wrong, or the %(what)s was altered.", what=_WHAT)) from None
            raise
        return _read_backup(backup)


IMPORTERS: list[Importer] = [StratumEncryptedImporter(), StratumPlainImporter()]
