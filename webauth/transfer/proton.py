"""Proton Authenticator exports, plain and password-encrypted (protonpass/proton-pass-common).

Plain: `{"version": 1, "entries": [{"id", "content": {"uri", "entry_type", "name"}, "note"}]}`.
`entry_type` is `Totp` (an otpauth URI) or `Steam` (`steam://` + the raw secret in standard
base64, not base32).

Encrypted: `{"version": 1, "salt": base64(16 bytes), "content": base64(nonce 12 + ciphertext + tag 16)}`;
the key is Argon2id(password, salt, t=2, m=19 MiB, p=1, 32 bytes), the cipher AES-256-GCM with
the associated data `proton.authenticator.export.v1`, and the plaintext is the plain export.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from webauth.otp import OtpParams, OtpType
from webauth.otpauth import AccountSpec, parse_uri
from webauth.transfer._parsing import (
    EntryProblem,
    b64decode,
    convert_all,
    entry_object,
    field_str,
    json_object,
    load_json,
    numbered,
    require_password,
    sniff_json_shape,
)
from webauth.transfer.base import ImportedEntry, Importer, TransferError, WrongPassword
from webauth.transfer.kdf import Argon2id, derive_once

_WHAT = _l("Proton Authenticator export")
_AAD = b"proton.authenticator.export.v1"
_SALT_BYTES = 16
_NONCE_BYTES = 12
_TAG_BYTES = 16
_KDF = Argon2id(memory_kib=19 * 1024, passes=2, lanes=1)
_STEAM_PREFIX = "steam://"


def _is_plain(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("entries"), list) and "db" not in value


def _is_encrypted(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("salt"), str)
        and isinstance(value.get("content"), str)
        and "entries" not in value
    )


def _entry_names(entry: Mapping[str, Any]) -> tuple[object, ...]:
    content = entry.get("content")
    return (content.get("name"),) if isinstance(content, dict) else ()


def _check_version(export: dict[str, Any]) -> None:
    version = export.get("version")
    if version != 1 or isinstance(version, bool):
        raise TransferError(
            _("This %(what)s has version %(version)s; only version 1 can be read.", what=_WHAT, version=repr(version))
        )


def _steam_spec(uri: str, name: str) -> AccountSpec:
    """Proton writes Steam accounts as `steam://` and the secret in base64; they have no label."""
    if not uri.startswith(_STEAM_PREFIX):
        raise EntryProblem(_("This Steam entry holds no steam:// link."))
    try:
        secret = base64.b64decode(uri[len(_STEAM_PREFIX) :].strip(), validate=True)
    except (binascii.Error, ValueError):
        raise EntryProblem(_("The secret key of this Steam entry is damaged.")) from None
    return AccountSpec(issuer="Steam", name=name, params=OtpParams(type=OtpType.STEAM, secret=secret))


def _convert(source: str, item: object) -> ImportedEntry:
    entry = entry_object(item)
    content = entry.get("content")
    if not isinstance(content, dict):
        raise EntryProblem(_("This entry is empty (it has no content)."))
    uri = field_str(content, "uri", required=True)
    name = field_str(content, "name")
    entry_type = field_str(content, "entry_type")
    if entry_type == "Steam":
        spec = _steam_spec(uri, name)
    elif entry_type == "Totp":
        spec = parse_uri(uri)
        if not spec.name and name:
            spec = dataclasses.replace(spec, name=name)
    else:
        raise EntryProblem(
            _("This entry is of a kind Proton Authenticator does not export, %(type)s.", type=repr(entry_type))
        )
    return ImportedEntry(source=source, spec=dataclasses.replace(spec, note=field_str(entry, "note")))


def _read_plain(export: dict[str, Any]) -> list[ImportedEntry]:
    """The entries of an export both readers checked the shape of (`_is_plain`)."""
    _check_version(export)
    return convert_all(numbered(export["entries"], "entry", _entry_names), _convert)


class ProtonPlainImporter(Importer):
    format_id: ClassVar[str] = "proton"
    title: ClassVar[str] = "Proton Authenticator export"

    def sniff(self, data: bytes) -> bool:
        return sniff_json_shape(data, (b'"entries"', b'"version"'), _is_plain)

    def read(self, data: bytes, password: str | None = None) -> list[ImportedEntry]:
        export = json_object(data, _WHAT)
        if not _is_plain(export):
            raise TransferError(_("This is not a %(what)s: it has no list of entries.", what=_WHAT))
        return _read_plain(export)


class ProtonEncryptedImporter(Importer):
    format_id: ClassVar[str] = "proton_encrypted"
    title: ClassVar[str] = "Proton Authenticator export (encrypted)"

    def sniff(self, data: bytes) -> bool:
        return sniff_json_shape(data, (b'"salt"', b'"content"', b'"version"'), _is_encrypted)

    def read(self, data: bytes, password: str | None = None) -> list[ImportedEntry]:
        export = json_object(data, _WHAT)
        _check_version(export)
        salt = b64decode(export.get("salt"), _("the salt"), _WHAT)
        content = b64decode(export.get("content"), _("the content"), _WHAT)
        if len(salt) != _SALT_BYTES:
            raise TransferError(
                _("This %(what)s is damaged: its salt is not %(length)s bytes.", what=_WHAT, length=_SALT_BYTES)
            )
        if len(content) < _NONCE_BYTES + _TAG_BYTES:
            raise TransferError(_("This %(what)s is damaged: the encrypted content is truncated.", what=_WHAT))
        key = derive_once(_KDF, require_password(password, _WHAT), salt, _("This %(what)s", what=_WHAT))
        try:
            plaintext = AESGCM(key).decrypt(content[:_NONCE_BYTES], content[_NONCE_BYTES:], _AAD)
        except InvalidTag:
            raise WrongPassword(_("The password is wrong, or the %(what)s was altered.", what=_WHAT)) from None
        inner = load_json(plaintext, f"This {_WHAT} file")
        if not _is_plain(inner):
            raise TransferError(_("The decrypted %(what)s has no list of entries.", what=_WHAT))
        return _read_plain(inner)


IMPORTERS: list[Importer] = [ProtonEncryptedImporter(), ProtonPlainImporter()]
