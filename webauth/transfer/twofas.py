"""2FAS backups (`.2fas`), schema versions 1 to 4, plain or protected with a password.

A protected backup keeps the services list in `servicesEncrypted` as
`base64(ciphertext+tag):base64(salt):base64(iv)`, with key = PBKDF2-HMAC-SHA256(password, salt,
10,000, 32 bytes) and AES-GCM. `reference` is a known text sealed the same way; opening it first
tells a wrong password apart from a damaged file.
"""

from __future__ import annotations

from typing import Any, ClassVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask_babel import gettext as _

from webauth.otp import OtpType
from webauth.otpauth import AccountSpec, decode_secret
from webauth.transfer._parsing import (
    EntryProblem,
    as_dict,
    as_list,
    build_entry,
    check_size,
    decode_b64,
    describe,
    encode_password,
    field_algorithm,
    field_str,
    load_json,
    otp_params,
    sniff_json,
)
from webauth.transfer.base import ImportedEntry, Importer, PasswordRequired, TransferError, WrongPassword
from webauth.transfer.kdf import Attempt, Pbkdf2

KDF = Pbkdf2("sha256", 10_000)
SUPPORTED_SCHEMAS = (1, 2, 3, 4)
_TYPES = {"TOTP": OtpType.TOTP, "HOTP": OtpType.HOTP, "STEAM": OtpType.STEAM}


class _Sealed:
    """One `ciphertext:salt:iv` value, opened with keys cached per salt (the parts share one salt)."""

    def __init__(self, password: str) -> None:
        self._password = encode_password(password)
        self._keys: dict[bytes, bytes] = {}
        self._attempt = Attempt(_("This 2FAS backup"))

    def open(self, value: str, what: str) -> bytes:
        parts = value.split(":")
        if len(parts) != 3:
            raise TransferError(_("%(what)s of the 2FAS backup is malformed", what=what))
        ciphertext, salt, iv = (decode_b64(part, what) for part in parts)
        if len(iv) != 12 or len(ciphertext) < 16:
            raise TransferError(_("%(what)s of the 2FAS backup is malformed", what=what))
        if salt not in self._keys:
            self._keys[salt] = self._attempt.derive(KDF, self._password, salt)
        try:
            return AESGCM(self._keys[salt]).decrypt(iv, ciphertext, None)
        except InvalidTag:
            raise WrongPassword(_("Wrong password for this 2FAS backup")) from None


def _decrypt_services(doc: dict[str, Any], sealed: str, password: str | None) -> Any:
    if not password:
        raise PasswordRequired(_("The 2FAS backup is protected: enter its password"))
    opener = _Sealed(password)
    reference = doc.get("reference")
    if isinstance(reference, str) and reference:
        opener.open(reference, _("The password check"))
    try:
        plain = opener.open(sealed, _("The service list"))
    except WrongPassword:
        if isinstance(reference, str) and reference:
            raise WrongPassword(_("The 2FAS backup cannot be decrypted: it was altered or damaged")) from None
        raise
    return load_json(plain, _("The decrypted service list"))


def _service_spec(service: dict[str, Any], group_names: dict[str, str]) -> AccountSpec:
    otp = service.get("otp") or {}
    if not isinstance(otp, dict):
        raise EntryProblem(_("This service has no code settings (its otp part is damaged)."))
    token_type = field_str(otp, "tokenType", "TOTP").upper()
    if token_type not in _TYPES:
        raise EntryProblem(
            _(
                "%(type)s accounts cannot be imported: webauth makes TOTP, HOTP and Steam codes.",
                type=repr(token_type)[:20],
            )
        )
    otp_type = _TYPES[token_type]
    secret = decode_secret(field_str(service, "secret"))
    params = otp_params(otp_type, secret, field_algorithm(otp, "algorithm"), otp, allow_text=True)
    group = group_names.get(field_str(service, "groupId"))
    return AccountSpec(
        issuer=field_str(service, "name") or field_str(otp, "issuer"),
        name=field_str(otp, "account") or field_str(otp, "label"),
        params=params,
        groups=(group,) if group else (),
    )


class TwoFasImporter(Importer):
    format_id: ClassVar[str] = "2fas"
    title: ClassVar[str] = "2FAS backup (.2fas)"

    def sniff(self, data: bytes) -> bool:
        doc = sniff_json(data)
        return (
            isinstance(doc, dict)
            and isinstance(doc.get("schemaVersion"), int)
            and isinstance(doc.get("services"), list)
        )

    def read(self, data: bytes, password: str | None = None) -> list[ImportedEntry]:
        check_size(data)
        doc = as_dict(load_json(data), _("The 2FAS backup"))
        schema = doc.get("schemaVersion")
        if isinstance(schema, bool) or schema not in SUPPORTED_SCHEMAS:
            raise TransferError(
                _("2FAS backup schema %(schema)s is not supported (1 to 4 are)", schema=repr(schema)[:20])
            )
        sealed = doc.get("servicesEncrypted")
        if isinstance(sealed, str) and sealed:
            services = _decrypt_services(doc, sealed, password)
        else:
            services = doc.get("services")
        group_names: dict[str, str] = {}
        for group in as_list(doc.get("groups") or [], _("The groups")):
            if isinstance(group, dict) and isinstance(group.get("id"), str) and isinstance(group.get("name"), str):
                group_names[group["id"]] = group["name"]
        entries = []
        for index, service in enumerate(as_list(services, _("The service list")), start=1):
            if not isinstance(service, dict):
                entries.append(ImportedEntry(f"service {index}", None, _("This is not a 2FAS service.")))
                continue
            otp = service.get("otp")
            account = otp.get("account") if isinstance(otp, dict) else None
            source = describe(f"service {index}", service.get("name"), account)
            entries.append(build_entry(source, lambda service=service: _service_spec(service, group_names)))
        return entries


IMPORTERS: list[Importer] = [TwoFasImporter()]
