"""Google Authenticator transfer codes: `otpauth-migration://offline?data=BASE64`, read and written.

The data is a protobuf `MigrationPayload`: field 1 the repeated `OtpParameters`, 2 version,
3 batch_size, 4 batch_index, 5 batch_id; `OtpParameters` holds 1 secret (raw bytes), 2 name,
3 issuer, 4 algorithm, 5 digits, 6 type and 7 counter (the codes of 4 to 6 are below). A small strict
wire reader/writer is used instead of the protobuf runtime: the message needs only varints and
length-delimited fields, and a reader that bounds every length is simpler to trust on hostile
input than a runtime-built descriptor.

One transfer can span several QR codes (batches); each URI is decoded on its own, so a list of
URIs or an image holding several codes imports every batch. Google's own export writes names
as `Issuer:name`; the prefix is dropped when it repeats the issuer, and the exporter writes it
the same way so that a round trip is exact.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import quote, unquote, urlsplit

from flask_babel import gettext as _

from webauth.otp import Algorithm, OtpParams, OtpType
from webauth.otpauth import AccountSpec
from webauth.transfer._parsing import (
    EntryProblem,
    build_entry,
    check_count,
    content_lines,
    decode_b64,
    decode_text,
    describe,
    extract_uri,
    looks_like_uri_text,
)
from webauth.transfer.base import ImportedEntry, Importer, TransferError

SCHEME = "otpauth-migration://"
# Bytes of protobuf per QR code: the URI stays under ~1,700 characters, a code phone cameras read well.
MAX_BATCH_PAYLOAD = 1200

_ALGORITHMS = {0: Algorithm.SHA1, 1: Algorithm.SHA1, 2: Algorithm.SHA256, 3: Algorithm.SHA512}
_ALGORITHM_CODES = {Algorithm.SHA1: 1, Algorithm.SHA256: 2, Algorithm.SHA512: 3}
_ALGORITHM_MD5 = 4
_DIGITS = {0: 6, 1: 6, 2: 8}
_DIGIT_CODES = {6: 1, 8: 2}
_TYPES = {1: OtpType.HOTP, 2: OtpType.TOTP}
_TYPE_CODES = {OtpType.HOTP: 1, OtpType.TOTP: 2}
_VARINT, _FIXED64, _LEN, _FIXED32 = 0, 1, 2, 5


@dataclass(frozen=True)
class MigrationBatch:
    """One decoded transfer URI: its batch fields and the accounts it carries."""

    version: int
    batch_size: int
    batch_index: int
    batch_id: int
    entries: list[ImportedEntry]


# --- protobuf wire format -------------------------------------------------------------------


def _read_varint(buf: bytes, pos: int, error: type[Exception]) -> tuple[int, int]:
    result = 0
    for shift in range(0, 70, 7):
        if pos >= len(buf):
            raise error(_("The transfer data is truncated"))
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            if result >= 1 << 64:
                raise error(_("The transfer data holds an oversized number"))
            return result, pos
    raise error(_("The transfer data holds an overlong number"))


@dataclass(frozen=True)
class _Field:
    number: int
    wire: int
    varint: int = 0
    data: bytes = b""

    def expect(self, wire: int, error: type[Exception]) -> None:
        if self.wire != wire:
            raise error(
                _(
                    "The transfer data is malformed (field %(number)s has wire type %(wire)s)",
                    number=self.number,
                    wire=self.wire,
                )
            )


def _fields(buf: bytes, error: type[Exception]) -> Iterator[_Field]:
    """Each field of a message, in order; every length is checked against the buffer."""
    pos = 0
    while pos < len(buf):
        key, pos = _read_varint(buf, pos, error)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise error(_("The transfer data is malformed (field 0)"))
        if wire == _VARINT:
            value, pos = _read_varint(buf, pos, error)
            yield _Field(number, wire, varint=value)
            continue
        if wire == _LEN:
            length, pos = _read_varint(buf, pos, error)
        elif wire in (_FIXED64, _FIXED32):
            length = 8 if wire == _FIXED64 else 4
        else:
            raise error(_("The transfer data is malformed (wire type %(wire)s)", wire=wire))
        if length > len(buf) - pos:
            raise error(_("The transfer data is truncated"))
        yield _Field(number, wire, data=buf[pos : pos + length])
        pos += length


def _signed(value: int, bits: int) -> int:
    """Two's complement of a varint, as protobuf writes int32/int64 (negatives take 10 bytes)."""
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >= 1 << (bits - 1) else value


def _varint_bytes(value: int) -> bytes:
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field_varint(number: int, value: int) -> bytes:
    return _varint_bytes(number << 3 | _VARINT) + _varint_bytes(value)


def _field_bytes(number: int, value: bytes) -> bytes:
    return _varint_bytes(number << 3 | _LEN) + _varint_bytes(len(value)) + value


# --- reading --------------------------------------------------------------------------------


@dataclass
class _RawAccount:
    secret: bytes = b""
    name: str = ""
    issuer: str = ""
    algorithm: int = 0
    digits: int = 0
    type: int = 0
    counter: int = 0


def _text(value: bytes, field: str) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise EntryProblem(_("The %(field)s of this account is broken text.", field=field)) from None


def _raw_account(buf: bytes) -> _RawAccount:
    raw = _RawAccount()
    for field in _fields(buf, EntryProblem):
        if field.number in (1, 2, 3):
            field.expect(_LEN, EntryProblem)
            if field.number == 1:
                raw.secret = field.data
            elif field.number == 2:
                raw.name = _text(field.data, "name")
            else:
                raw.issuer = _text(field.data, "issuer")
        elif field.number in (4, 5, 6, 7):
            field.expect(_VARINT, EntryProblem)
            if field.number == 4:
                raw.algorithm = _signed(field.varint, 32)
            elif field.number == 5:
                raw.digits = _signed(field.varint, 32)
            elif field.number == 6:
                raw.type = _signed(field.varint, 32)
            else:
                raw.counter = _signed(field.varint, 64)
    return raw


def _account_spec(raw: _RawAccount) -> AccountSpec:
    if raw.algorithm == _ALGORITHM_MD5:
        raise EntryProblem(_("The algorithm MD5 is not supported: use SHA-1, SHA-256 or SHA-512."))
    if raw.algorithm not in _ALGORITHMS:
        raise EntryProblem(_("This account has an unknown algorithm (code %(code)s).", code=raw.algorithm))
    if raw.digits not in _DIGITS:
        raise EntryProblem(_("This account has an unknown number of digits (code %(code)s).", code=raw.digits))
    if raw.type not in _TYPES:
        raise EntryProblem(_("This account is of an unknown kind (code %(code)s).", code=raw.type))
    otp_type = _TYPES[raw.type]
    params = OtpParams(
        type=otp_type,
        secret=raw.secret,
        algorithm=_ALGORITHMS[raw.algorithm],
        digits=_DIGITS[raw.digits],
        counter=raw.counter if otp_type is OtpType.HOTP else 0,
    )
    name, issuer = raw.name, raw.issuer.strip()
    if issuer and name.startswith(issuer + ":"):
        name = name[len(issuer) + 1 :]
    return AccountSpec(issuer=issuer, name=name, params=params)


def _account_entry(buf: bytes, source: str) -> ImportedEntry:
    try:
        raw = _raw_account(buf)
    except EntryProblem as exc:
        return ImportedEntry(source=source, spec=None, problem=str(exc))
    shown = raw.name.removeprefix(f"{raw.issuer}:") if raw.issuer else raw.name
    return build_entry(describe(source, raw.issuer, shown), lambda: _account_spec(raw))


def decode_payload(data: bytes, source: str) -> MigrationBatch:
    """Decode a MigrationPayload; a broken message is a TransferError, a broken account a problem entry."""
    accounts: list[bytes] = []
    version = batch_size = batch_index = batch_id = 0
    for field in _fields(data, TransferError):
        if field.number == 1:
            field.expect(_LEN, TransferError)
            accounts.append(field.data)
            check_count(len(accounts))
        elif field.number in (2, 3, 4, 5):
            field.expect(_VARINT, TransferError)
            value = _signed(field.varint, 32)
            if field.number == 2:
                version = value
            elif field.number == 3:
                batch_size = value
            elif field.number == 4:
                batch_index = value
            else:
                batch_id = value
    entries = [
        _account_entry(buf, f"{source}, account {index}" if len(accounts) > 1 else source)
        for index, buf in enumerate(accounts, start=1)
    ]
    return MigrationBatch(version, batch_size, batch_index, batch_id, entries)


def parse_migration_uri(uri: str, source: str) -> MigrationBatch:
    """Decode one `otpauth-migration://offline?data=...` URI.

    The `data` value is percent-decoded but `+` is kept: Google's base64 often reaches us with
    `+` unescaped, and a space there can only be a `+` that something decoded as a form value.
    """
    try:
        parts = urlsplit(uri.strip())
    except ValueError:
        raise TransferError(_("Not a valid otpauth-migration:// URI")) from None
    if parts.scheme.lower() != "otpauth-migration" or parts.netloc.lower() != "offline":
        raise TransferError(_("Not an otpauth-migration://offline URI"))
    data = None
    for pair in parts.query.split("&"):
        key, _sep, value = pair.partition("=")
        if key.lower() == "data":
            data = unquote(value).replace(" ", "+")
            break
    if not data:
        raise TransferError(_("The transfer URI has no data"))
    return decode_payload(decode_b64(data, _("The transfer data")), source)


def is_migration_uri(text: str) -> bool:
    return text.lower().startswith(SCHEME)


# --- writing --------------------------------------------------------------------------------


def migration_problem(spec: AccountSpec) -> str | None:
    """Why Google Authenticator's transfer format cannot hold `spec`, or None when it can."""
    params = spec.params
    if params.type is OtpType.STEAM:
        return _("Google Authenticator has no Steam accounts")
    if params.type is OtpType.MOTP:
        return _("Google Authenticator has no mOTP accounts")
    if params.type is OtpType.YANDEX:
        return _("Google Authenticator has no Yandex accounts")
    if params.type is OtpType.TOTP and params.period != 30:
        return _("a %(period)s-second period (Google Authenticator only has 30 seconds)", period=params.period)
    if params.digits not in _DIGIT_CODES:
        return _("%(digits)s digits (Google Authenticator only has 6 or 8)", digits=params.digits)
    return None


def split_migration_compatible(
    specs: list[AccountSpec],
) -> tuple[list[AccountSpec], list[tuple[AccountSpec, str]]]:
    """The accounts the transfer format can hold, and the others with the reason, in order.

    The exporter shows the second list to the user before encoding the first.
    """
    compatible: list[AccountSpec] = []
    incompatible: list[tuple[AccountSpec, str]] = []
    for spec in specs:
        problem = migration_problem(spec)
        if problem is None:
            compatible.append(spec)
        else:
            incompatible.append((spec, problem))
    return compatible, incompatible


def _encode_account(spec: AccountSpec) -> bytes:
    params = spec.params
    name = f"{spec.issuer}:{spec.name}" if spec.issuer else spec.name
    out = _field_bytes(1, params.secret) + _field_bytes(2, name.encode("utf-8"))
    if spec.issuer:
        out += _field_bytes(3, spec.issuer.encode("utf-8"))
    out += _field_varint(4, _ALGORITHM_CODES[params.algorithm])
    out += _field_varint(5, _DIGIT_CODES[params.digits])
    out += _field_varint(6, _TYPE_CODES[params.type])
    if params.type is OtpType.HOTP:
        out += _field_varint(7, params.counter)
    return out


def encode_migration_uris(specs: list[AccountSpec], batch_size: int = 10) -> list[str]:
    """Transfer URIs (one per QR code) holding `specs`, as Google Authenticator writes them.

    At most `batch_size` accounts go in one URI, fewer when long names would make the QR code
    too dense. Accounts the format cannot hold raise a TransferError naming them: use
    `split_migration_compatible` first to export the rest.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    _compatible, incompatible = split_migration_compatible(specs)
    if incompatible:
        listed = "; ".join(f"{spec.label}: {reason}" for spec, reason in incompatible)
        raise TransferError(_("Google Authenticator cannot hold these accounts: %(listed)s", listed=listed))
    batches: list[list[bytes]] = []
    size = 0
    for spec in specs:
        account = _field_bytes(1, _encode_account(spec))
        if not batches or len(batches[-1]) >= batch_size or size + len(account) > MAX_BATCH_PAYLOAD:
            batches.append([])
            size = 0
        batches[-1].append(account)
        size += len(account)
    batch_id = secrets.randbits(32) - 2**31
    uris = []
    for index, accounts in enumerate(batches):
        payload = b"".join(accounts)
        payload += _field_varint(2, 1) + _field_varint(3, len(batches)) + _field_varint(4, index)
        payload += _field_varint(5, batch_id)
        data = base64.b64encode(payload).decode("ascii")
        uris.append(f"{SCHEME}offline?data={quote(data, safe='')}")
    return uris


# --- importer -------------------------------------------------------------------------------


class GoogleMigrationImporter(Importer):
    """A text file of transfer URIs, one per line (what QR scanner apps save)."""

    format_id: ClassVar[str] = "google_migration"
    title: ClassVar[str] = "Google Authenticator transfer (otpauth-migration://)"

    def sniff(self, data: bytes) -> bool:
        lines = looks_like_uri_text(data)
        return lines is not None and all(
            (uri := extract_uri(line)) is not None and is_migration_uri(uri) for line in lines
        )

    def read(self, data: bytes, password: str | None = None) -> list[ImportedEntry]:
        lines = list(content_lines(decode_text(data)))
        if not any((uri := extract_uri(line)) is not None and is_migration_uri(uri) for _, line in lines):
            raise TransferError(_("The file holds no otpauth-migration:// URI"))
        entries: list[ImportedEntry] = []
        for number, line in lines:
            source = f"line {number}"
            uri = extract_uri(line)
            if uri is None or not is_migration_uri(uri):
                entries.append(ImportedEntry(source, None, _("This is not a Google Authenticator transfer link (otpauth-migration://).")))
                continue
            try:
                entries.extend(parse_migration_uri(uri, source).entries)
            except TransferError as exc:
                entries.append(ImportedEntry(source, None, str(exc)))
            check_count(len(entries))
        if not entries:
            raise TransferError(_("The transfer codes in this file hold no account"))
        return entries


IMPORTERS: list[Importer] = [GoogleMigrationImporter()]
