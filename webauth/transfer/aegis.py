"""Aegis vaults, read (database versions 1 to 3, plain or password-encrypted) and written (v3).

Aegis is also this app's own backup format: it is documented, other apps read it, and it holds
everything an account has here (groups, note, favorite, icon). Encryption follows Aegis: a random
256-bit master key seals the database with AES-256-GCM, and each password slot holds that key
sealed under scrypt(password). Reading checks each slot's scrypt parameters as Aegis does, and
the cost of all the slots one password is tried on against the server's budget (limits.py),
before the password is asked for: the file is untrusted and chooses scrypt's memory and work.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import uuid
from typing import Any, ClassVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt as ScryptKdf
from flask_babel import gettext as _

from webauth.otp import PIN_TYPES, OtpParams, OtpType
from webauth.otpauth import AccountSpec, decode_secret, encode_secret
from webauth.transfer._parsing import (
    EntryProblem,
    as_dict,
    as_list,
    build_entry,
    check_size,
    decode_b64,
    decode_hex,
    describe,
    encode_password,
    field_algorithm,
    field_bool,
    field_str,
    load_json,
    otp_params,
    sniff_json,
)
from webauth.transfer.base import ImportedEntry, Importer, PasswordRequired, TransferError, WrongPassword
from webauth.transfer.kdf import Attempt, Scrypt

# What Aegis writes (CryptoUtils.CRYPTO_SCRYPT_*), and what this app writes too.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 32768, 8, 1
# Aegis writes one password slot, two with a separate backup password; more are not read.
MAX_PASSWORD_SLOTS = 8
_JAVA_INT_MAX = 2**31 - 1
SUPPORTED_DB_VERSIONS = (1, 2, 3)

_TYPES = {
    "totp": OtpType.TOTP,
    "hotp": OtpType.HOTP,
    "steam": OtpType.STEAM,
    "motp": OtpType.MOTP,
    "yandex": OtpType.YANDEX,
}
_SLOT_PASSWORD = 1
_DEFAULT_ICON_MIME = "image/jpeg"  # Aegis's own default for entries written before icon_mime existed
_ICON_MIME = re.compile(r"image/[a-z0-9][a-z0-9.+-]{0,40}")
_ICON_MAGIC = (
    (b"\x89PNG", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
    (b"<svg", "image/svg+xml"),
    (b"<?xml", "image/svg+xml"),
)


# --- reading --------------------------------------------------------------------------------


def _slot_int(slot: dict[str, Any], key: str) -> int:
    value = slot.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise TransferError(_("A password slot of the Aegis vault has an invalid scrypt parameter %(key)s", key=key))
    return value


def _slot_params(slot: dict[str, Any]) -> Scrypt:
    """The slot's scrypt parameters, valid as Aegis's scrypt (Bouncy Castle's) requires them."""
    n, r, p = _slot_int(slot, "n"), _slot_int(slot, "r"), _slot_int(slot, "p")
    if (
        n < 2
        or n & (n - 1)
        or (r == 1 and n >= 65536)
        or max(n, r, p) > _JAVA_INT_MAX
        or p > _JAVA_INT_MAX // (128 * r * 8)
    ):
        raise TransferError(
            _(
                "A password slot of the Aegis vault has scrypt parameters Aegis cannot use (N=%(n)s, r=%(r)s, p=%(p)s)",
                n=n,
                r=r,
                p=p,
            )
        )
    return Scrypt(n, r, p)


def _open_slot(slot: dict[str, Any], params: Scrypt, password: bytes, attempt: Attempt) -> bytes | None:
    """The master key from one password slot, or None when the password does not open it."""
    salt = decode_hex(slot.get("salt"), _("The slot salt"))
    sealed_key = decode_hex(slot.get("key"), _("The slot key"), 32)
    key_params = as_dict(slot.get("key_params"), _("The slot key parameters"))
    nonce = decode_hex(key_params.get("nonce"), _("The slot nonce"), 12)
    tag = decode_hex(key_params.get("tag"), _("The slot tag"), 16)
    try:
        return AESGCM(attempt.derive(params, password, salt)).decrypt(nonce, sealed_key + tag, None)
    except InvalidTag:
        return None


def _decrypt_db(header: dict[str, Any], sealed_db: str, password: str | None) -> Any:
    slots, params = header.get("slots"), header.get("params")
    if not isinstance(slots, list) or not isinstance(params, dict):
        raise TransferError(_("The Aegis vault is encrypted but its header is incomplete"))
    password_slots = [s for s in slots if isinstance(s, dict) and s.get("type") == _SLOT_PASSWORD]
    if not password_slots:
        raise TransferError(_("The Aegis vault has no password slot: export it again with a password"))
    tried = password_slots[:MAX_PASSWORD_SLOTS]
    slot_params = [_slot_params(slot) for slot in tried]
    attempt = Attempt(_("This Aegis vault"))
    attempt.reserve(*slot_params)
    if not password:
        raise PasswordRequired(_("The Aegis vault is encrypted: enter its password"))
    nonce = decode_hex(params.get("nonce"), _("The vault nonce"), 12)
    tag = decode_hex(params.get("tag"), _("The vault tag"), 16)
    ciphertext = decode_b64(sealed_db, _("The encrypted vault"))
    secret = encode_password(password)
    for slot, slot_kdf in zip(tried, slot_params, strict=True):
        master_key = _open_slot(slot, slot_kdf, secret, attempt)
        if master_key is not None:
            break
    else:
        raise WrongPassword(_("Wrong password for this Aegis vault"))
    try:
        plain = AESGCM(master_key).decrypt(nonce, ciphertext + tag, None)
    except (InvalidTag, ValueError):
        raise WrongPassword(_("The Aegis vault cannot be decrypted: it was altered or damaged")) from None
    return load_json(plain, _("The decrypted vault"))


def _icon(raw: dict[str, Any]) -> tuple[bytes | None, str | None]:
    """The icon and its MIME type; like Aegis, a broken icon is dropped without failing the entry."""
    value, mime = raw.get("icon"), raw.get("icon_mime")
    if not isinstance(value, str) or not value:
        return None, None
    if mime is None:
        mime = _DEFAULT_ICON_MIME
    if not isinstance(mime, str) or not _ICON_MIME.fullmatch(mime):
        return None, None
    try:
        icon = decode_b64(value, "icon")
    except TransferError:
        return None, None
    return (icon, mime) if icon else (None, None)


def _groups(raw: dict[str, Any], group_names: dict[str, str]) -> tuple[str, ...]:
    """v3 lists group uuids (unknown ones are dropped, as Aegis does); v2 has one group name."""
    uuids = raw.get("groups")
    if uuids is not None:
        if not isinstance(uuids, list) or not all(isinstance(u, str) for u in uuids):
            raise EntryProblem(_("The groups of this entry are damaged."))
        return tuple(group_names[u] for u in uuids if u in group_names)
    group = field_str(raw, "group")
    return (group,) if group else ()


def _entry_spec(raw: dict[str, Any], group_names: dict[str, str]) -> AccountSpec:
    type_name = field_str(raw, "type").lower()
    if type_name not in _TYPES:
        raise EntryProblem(_("This entry is of an unknown kind, %(type)s.", type=repr(type_name)))
    info = raw.get("info")
    if not isinstance(info, dict):
        raise EntryProblem(_("This entry has no code settings (its info part is missing)."))
    otp_type = _TYPES[type_name]
    secret = decode_secret(field_str(info, "secret"))
    if otp_type in PIN_TYPES:
        # Aegis fixes these types' algorithm, digits and period (its MotpInfo, YandexInfo); the PIN is in clear.
        params = OtpParams(type=otp_type, secret=secret, pin=field_str(info, "pin") or None)
    else:
        params = otp_params(otp_type, secret, field_algorithm(info, "algo"), info, allow_text=True)
    icon, icon_mime = _icon(raw)
    return AccountSpec(
        issuer=field_str(raw, "issuer"),
        name=field_str(raw, "name"),
        params=params,
        note=field_str(raw, "note"),
        groups=_groups(raw, group_names),
        favorite=field_bool(raw, "favorite"),
        icon=icon,
        icon_mime=icon_mime,
    )


def read_db(db: Any) -> list[ImportedEntry]:
    """The entries of a decrypted Aegis database (the `db` object)."""
    db = as_dict(db, _("The vault contents"))
    version = db.get("version")
    if version not in SUPPORTED_DB_VERSIONS or isinstance(version, bool):
        raise TransferError(
            _("Aegis database version %(version)s is not supported (1 to 3 are)", version=repr(version)[:20])
        )
    group_names: dict[str, str] = {}
    for group in as_list(db.get("groups") or [], _("The vault's groups")):
        if isinstance(group, dict) and isinstance(group.get("uuid"), str) and isinstance(group.get("name"), str):
            group_names[group["uuid"]] = group["name"]
    entries = []
    for index, raw in enumerate(as_list(db.get("entries"), _("The vault's entries")), start=1):
        if not isinstance(raw, dict):
            entries.append(ImportedEntry(f"entry {index}", None, _("This is not an Aegis entry.")))
            continue
        source = describe(f"entry {index}", raw.get("issuer"), raw.get("name"))
        entries.append(build_entry(source, lambda raw=raw: _entry_spec(raw, group_names)))
    return entries


class AegisImporter(Importer):
    format_id: ClassVar[str] = "aegis"
    title: ClassVar[str] = "Aegis vault (plain or encrypted)"

    def sniff(self, data: bytes) -> bool:
        doc = sniff_json(data)
        return (
            isinstance(doc, dict)
            and isinstance(doc.get("header"), dict)
            and "slots" in doc["header"]
            and isinstance(doc.get("db"), dict | str)
        )

    def read(self, data: bytes, password: str | None = None) -> list[ImportedEntry]:
        check_size(data)
        doc = as_dict(load_json(data), _("The Aegis vault"))
        if doc.get("version") != 1 or isinstance(doc.get("version"), bool):
            raise TransferError(
                _("Aegis vault file version %(version)s is not supported", version=repr(doc.get("version"))[:20])
            )
        db = doc.get("db")
        if isinstance(db, str):
            db = _decrypt_db(as_dict(doc.get("header"), _("The vault header")), db, password)
        return read_db(db)


# --- writing --------------------------------------------------------------------------------


def _icon_mime(spec: AccountSpec, icon: bytes) -> str:
    if spec.icon_mime:
        return spec.icon_mime
    head = icon[:64].lstrip()
    for magic, mime in _ICON_MAGIC:
        if head.startswith(magic):
            return mime
    if icon[:4] == b"RIFF" and icon[8:12] == b"WEBP":
        return "image/webp"
    return "image/png"


def _entry_json(spec: AccountSpec, group_ids: dict[str, str]) -> dict[str, Any]:
    params = spec.params
    info: dict[str, Any] = {
        "secret": encode_secret(params.secret),
        "algo": params.algorithm.value,
        "digits": params.digits,
    }
    if params.type is OtpType.HOTP:
        info["counter"] = params.counter
    else:
        info["period"] = params.period
    if params.type in PIN_TYPES:
        info["pin"] = params.pin
    entry: dict[str, Any] = {
        "type": params.type.value,
        "uuid": str(uuid.uuid4()),
        "name": spec.name,
        "issuer": spec.issuer,
        "note": spec.note,
        "favorite": spec.favorite,
        "icon": None,
        "info": info,
        "groups": [group_ids[group] for group in spec.groups],
    }
    if spec.icon:
        mime = _icon_mime(spec, spec.icon)
        entry["icon"] = base64.b64encode(spec.icon).decode("ascii")
        entry["icon_mime"] = mime
        entry["icon_hash"] = hashlib.sha256(mime.encode("utf-8") + spec.icon).hexdigest()
    return entry


def password_slot(master_key: bytes, password: str) -> dict[str, Any]:
    """An Aegis password slot: `master_key` sealed under scrypt(password) with Aegis's parameters.

    Deriving it costs a deliberate scrypt; a scheduled backup keeps the slot and its master key
    (webauth/backups/) and calls `export_aegis_sealed`, so it needs neither the password nor scrypt.
    """
    if not password:
        raise TransferError(_("An empty password cannot protect a backup"))
    salt = os.urandom(32)
    nonce = os.urandom(12)
    slot_key = ScryptKdf(salt=salt, length=32, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P).derive(encode_password(password))
    sealed = AESGCM(slot_key).encrypt(nonce, master_key, None)
    return {
        "type": _SLOT_PASSWORD,
        "uuid": str(uuid.uuid4()),
        "key": sealed[:-16].hex(),
        "key_params": {"nonce": nonce.hex(), "tag": sealed[-16:].hex()},
        "n": SCRYPT_N,
        "r": SCRYPT_R,
        "p": SCRYPT_P,
        "salt": salt.hex(),
        "repaired": True,
        "is_backup": False,
    }


def _db_json(specs: list[AccountSpec]) -> dict[str, Any]:
    group_ids: dict[str, str] = {}
    for spec in specs:
        for group in spec.groups:
            group_ids.setdefault(group, str(uuid.uuid4()))
    return {
        "version": 3,
        "entries": [_entry_json(spec, group_ids) for spec in specs],
        "groups": [{"uuid": group_uuid, "name": name} for name, group_uuid in group_ids.items()],
    }


def _vault_file(header: dict[str, Any], body: Any) -> bytes:
    vault = {"version": 1, "header": header, "db": body}
    return json.dumps(vault, indent=4, ensure_ascii=False).encode("utf-8")


def export_aegis_sealed(specs: list[AccountSpec], master_key: bytes, slots: list[dict[str, Any]]) -> bytes:
    """An encrypted Aegis vault holding `specs`, sealed under `master_key`, which `slots` unlock.

    Each call seals the database with a fresh nonce, as Aegis does on every save of a vault.
    """
    nonce = os.urandom(12)
    plain = json.dumps(_db_json(specs), ensure_ascii=False).encode("utf-8")
    sealed = AESGCM(master_key).encrypt(nonce, plain, None)
    header = {"slots": slots, "params": {"nonce": nonce.hex(), "tag": sealed[-16:].hex()}}
    return _vault_file(header, base64.b64encode(sealed[:-16]).decode("ascii"))


def export_aegis(specs: list[AccountSpec], password: str | None) -> bytes:
    """An Aegis vault (database v3) holding `specs`, encrypted with one password slot unless `password` is None."""
    if password is None:
        return _vault_file({"slots": None, "params": None}, _db_json(specs))
    master_key = AESGCM.generate_key(bit_length=256)
    return export_aegis_sealed(specs, master_key, [password_slot(master_key, password)])


IMPORTERS: list[Importer] = [AegisImporter()]
