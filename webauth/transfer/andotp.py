"""andOTP backups: the plain JSON list, the encrypted `.json.aes`, and the old encrypted format.

- Encrypted (andOTP 0.6.3 and later): a 4-byte big-endian PBKDF2 iteration count, a 12-byte
  salt, a 12-byte nonce, then AES-256-GCM ciphertext and tag; key = PBKDF2-HMAC-SHA1(password,
  salt, iterations, 32 bytes).
- Old format: 12-byte nonce, ciphertext and tag; key = SHA-256(password), with no salt.

andOTP marks neither, so reading tries the new layout (when its iteration count is plausible)
and then the old one; only a file neither opens is a wrong password.
"""

from __future__ import annotations

import hashlib
from typing import Any, ClassVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask_babel import gettext as _

from webauth.otp import OtpType
from webauth.otpauth import AccountSpec, decode_secret
from webauth.transfer._parsing import (
    EntryProblem,
    as_list,
    build_entry,
    check_size,
    describe,
    encode_password,
    field_algorithm,
    field_str,
    load_json,
    otp_params,
    sniff_json,
)
from webauth.transfer.base import ImportedEntry, Importer, PasswordRequired, TransferError, WrongPassword
from webauth.transfer.kdf import Pbkdf2, derive_once

# andOTP writes 140,000 to 160,000 iterations. A count beyond MAX_ITERATIONS (within the budget of
# limits.py) is taken for the random nonce of an old-format file, not for a new file to derive.
WRITTEN_ITERATIONS = range(140_000, 160_001)
MAX_ITERATIONS = 1_000_000
_COUNT, _SALT, _NONCE, _TAG = 4, 12, 12, 16
_TYPES = {"TOTP": OtpType.TOTP, "HOTP": OtpType.HOTP, "STEAM": OtpType.STEAM}


def _gcm_open(key: bytes, sealed: bytes) -> bytes | None:
    try:
        return AESGCM(key).decrypt(sealed[:_NONCE], sealed[_NONCE:], None)
    except InvalidTag:
        return None


def _decrypt(data: bytes, password: str) -> bytes:
    secret = encode_password(password)
    if len(data) < _NONCE + _TAG:
        raise TransferError(_("The file is too short to be an andOTP backup"))
    iterations = int.from_bytes(data[:_COUNT], "big")
    if 1 <= iterations <= MAX_ITERATIONS and len(data) >= _COUNT + _SALT + _NONCE + _TAG:
        salt = data[_COUNT : _COUNT + _SALT]
        key = derive_once(Pbkdf2("sha1", iterations), secret, salt, _("This andOTP backup"))
        plain = _gcm_open(key, data[_COUNT + _SALT :])
        if plain is not None:
            return plain
    # The old format's key is a bare hash of the password; it exists only to read those backups.
    plain = _gcm_open(hashlib.sha256(secret).digest(), data)
    if plain is None:
        raise WrongPassword(_("Wrong password for this andOTP backup (or the file is damaged)"))
    return plain


def _entry_spec(raw: dict[str, Any]) -> AccountSpec:
    type_name = field_str(raw, "type", "TOTP").upper()
    if type_name not in _TYPES:
        raise EntryProblem(
            _(
                "%(type)s accounts cannot be imported: webauth makes TOTP, HOTP and Steam codes.",
                type=repr(type_name)[:20],
            )
        )
    otp_type = _TYPES[type_name]
    secret = decode_secret(field_str(raw, "secret"))
    params = otp_params(otp_type, secret, field_algorithm(raw, "algorithm"), raw, allow_text=True)
    issuer, name = field_str(raw, "issuer"), field_str(raw, "label")
    if not issuer and " - " in name:
        # Backups from before andOTP had an issuer field wrote the label as "Issuer - name".
        issuer, name = name.split(" - ", 1)
    tags = raw.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise EntryProblem(_("The tags of this entry are damaged."))
    return AccountSpec(issuer=issuer, name=name, params=params, groups=tuple(tags))


def _read_entries(doc: Any) -> list[ImportedEntry]:
    if not isinstance(doc, list):
        raise TransferError(_("Not an andOTP backup (its JSON is not a list of accounts)"))
    entries = []
    for index, raw in enumerate(as_list(doc, _("The backup")), start=1):
        if not isinstance(raw, dict):
            entries.append(ImportedEntry(f"entry {index}", None, _("This is not an andOTP entry.")))
            continue
        source = describe(f"entry {index}", raw.get("issuer"), raw.get("label"))
        entries.append(build_entry(source, lambda raw=raw: _entry_spec(raw)))
    return entries


def _is_text(data: bytes) -> bool:
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    return True


class AndOtpImporter(Importer):
    format_id: ClassVar[str] = "andotp"
    title: ClassVar[str] = "andOTP backup (plain or encrypted)"

    def sniff(self, data: bytes) -> bool:
        """A JSON list of andOTP entries, or binary data starting with an iteration count andOTP writes.

        The old encrypted format is indistinguishable from random bytes: it must be chosen by hand.
        """
        doc = sniff_json(data)
        if doc is not None:
            return (
                isinstance(doc, list)
                and bool(doc)
                and isinstance(doc[0], dict)
                and {"secret", "type", "label"} <= doc[0].keys()
            )
        return (
            len(data) >= _COUNT + _SALT + _NONCE + _TAG
            and int.from_bytes(data[:_COUNT], "big") in WRITTEN_ITERATIONS
            and not _is_text(data)
        )

    def read(self, data: bytes, password: str | None = None) -> list[ImportedEntry]:
        check_size(data)
        if _is_text(data):
            return _read_entries(load_json(data))
        if not password:
            raise PasswordRequired(_("The andOTP backup is encrypted: enter its password"))
        return _read_entries(load_json(_decrypt(data, password), _("The decrypted backup")))


IMPORTERS: list[Importer] = [AndOtpImporter()]
