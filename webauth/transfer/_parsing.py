"""Strict readers shared by the import formats: limits, text, JSON, base64, typed fields, per-entry problems.

Every helper turns malformed input into `TransferError` (the whole file is refused) or
`EntryProblem` (one entry is refused and shows in the preview with its problem, while the
rest still imports), so the importers built on them never leak a `KeyError`, `TypeError`
or `UnicodeDecodeError` to the user.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from flask_babel import gettext as _

from webauth.otp import HMAC_ALGORITHMS, Algorithm, InvalidParameter, OtpParams, OtpType
from webauth.otpauth import AccountSpec
from webauth.transfer.base import ImportedEntry, PasswordRequired, TransferError, WrongPassword
from webauth.transfer.limits import MAX_IMPORT_BYTES, MAX_IMPORT_ENTRIES

T = TypeVar("T")

_UTF8_BOM = b"\xef\xbb\xbf"
_JSON_WHITESPACE = b" \t\r\n"
_SOURCE_NAMES_LIMIT = 60
_URI_START = re.compile(r"otpauth(?:-migration)?://|motp:/", re.IGNORECASE)
_URI_END = re.compile(r"[\s\"'<>]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_INT_TEXT = re.compile(r"-?[0-9]{1,19}")


class EntryProblem(Exception):
    """One entry of a file cannot be imported; the message says why and the rest still imports."""


# Limits ------------------------------------------------------------------------------------


def check_size(data: bytes) -> None:
    if len(data) > MAX_IMPORT_BYTES:
        raise TransferError(_("The file is larger than %(size)s MB", size=MAX_IMPORT_BYTES // (1024 * 1024)))


def check_count(count: int) -> None:
    """Refuse a file with more entries than one import may hold, before converting any of them."""
    if count > MAX_IMPORT_ENTRIES:
        raise TransferError(
            _(
                "The file holds %(count)s entries; at most %(limit)s can be imported at once.",
                count=count,
                limit=MAX_IMPORT_ENTRIES,
            )
        )


# Text and JSON -----------------------------------------------------------------------------


def decode_text(data: bytes, what: str | None = None) -> str:
    """The file as UTF-8 text (a byte-order mark is dropped, since Windows editors add one).

    `what` names the format in the message ("This Ente Auth export file is not UTF-8 text").
    """
    check_size(data)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        if what:
            raise TransferError(_("This %(what)s file is not UTF-8 text; it may be damaged.", what=what)) from None
        raise TransferError(_("The file is not UTF-8 text; it may be damaged.")) from None


def load_json(data: bytes | str, what: str | None = None) -> Any:
    """Parse JSON; bad syntax or absurd nesting refuses the file instead of crashing.

    Python's NaN and Infinity are read as numbers, which every typed field then refuses.
    """
    text = decode_text(data) if isinstance(data, bytes) else data
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise TransferError(
            _("%(what)s is not valid JSON; it may be damaged or truncated.", what=what or _("The file"))
        ) from None


def json_object(data: bytes, what: str) -> dict[str, Any]:
    """The top-level JSON object of a file in the format `what`."""
    parsed = load_json(data, _("This %(what)s file", what=what))
    if not isinstance(parsed, dict):
        raise TransferError(_("This is not a %(what)s file: it does not hold a JSON object.", what=what))
    return parsed


def _opens_json(data: bytes) -> bool:
    head = data[len(_UTF8_BOM) :] if data.startswith(_UTF8_BOM) else data
    return head[:64].lstrip(_JSON_WHITESPACE)[:1] in (b"{", b"[")


def sniff_json(data: bytes) -> Any:
    """The parsed JSON when `data` is plausibly a JSON file, else None; never raises."""
    if not _opens_json(data):
        return None
    try:
        return load_json(data)
    except TransferError:
        return None


def sniff_json_shape(data: bytes, markers: Sequence[bytes], shape: Callable[[Any], bool]) -> bool:
    """Whether `data` is JSON carrying every marker (quoted key names) and, if it parses, the shape.

    The byte markers keep detection cheap for the many files that are not this format. A file
    with the markers that fails to parse still counts as a match, so that `read()` can tell the
    user it is damaged instead of detection claiming the format is unknown.
    """
    if not _opens_json(data) or not all(marker in data for marker in markers):
        return False
    parsed = sniff_json(data)
    return True if parsed is None else shape(parsed)


def as_dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TransferError(_("%(what)s is not a JSON object", what=what))
    return value


def as_list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise TransferError(_("%(what)s is not a JSON list", what=what))
    check_count(len(value))
    return value


# Encodings and passwords -------------------------------------------------------------------


def decode_b64(text: str, what: str) -> bytes:
    """Standard or URL-safe base64, padding optional; anything else is a TransferError."""
    cleaned = re.sub(r"\s+", "", text).rstrip("=").replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise TransferError(_("%(what)s is not valid base64", what=what)) from None


def b64decode(value: object, field: str, what: str) -> bytes:
    """Standard, padded base64 (RFC 4648 section 4) only, for formats that write exactly that."""
    if not isinstance(value, str):
        raise TransferError(
            _("This %(what)s file is damaged: %(field)s is missing or not text.", what=what, field=field)
        )
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise TransferError(
            _("This %(what)s file is damaged: %(field)s is not valid base64.", what=what, field=field)
        ) from None


def decode_hex(text: Any, what: str, length: int | None = None) -> bytes:
    if not isinstance(text, str):
        raise TransferError(_("%(what)s is missing", what=what))
    try:
        value = bytes.fromhex(text)
    except ValueError:
        raise TransferError(_("%(what)s is not valid hexadecimal", what=what)) from None
    if length is not None and len(value) != length:
        raise TransferError(
            _("%(what)s must be %(length)s bytes, not %(actual)s", what=what, length=length, actual=len(value))
        )
    return value


def encode_password(password: str) -> bytes:
    """The password as UTF-8 bytes, the encoding every one of these apps uses."""
    try:
        return password.encode("utf-8")
    except UnicodeEncodeError:
        raise WrongPassword(_("The password contains characters that cannot be encoded.")) from None


def require_password(password: str | None, what: str) -> bytes:
    """`encode_password`, or `PasswordRequired` when none was given."""
    if not password:
        raise PasswordRequired(
            _("This %(what)s file is encrypted: enter the password it was exported with.", what=what)
        )
    return encode_password(password)


# Fields of one entry -----------------------------------------------------------------------


def entry_object(item: object) -> Mapping[str, Any]:
    """An entry that must be a JSON object."""
    if not isinstance(item, dict):
        raise EntryProblem(_("This entry is damaged and cannot be read."))
    return item


def field_str(obj: Mapping[str, Any], key: str, default: str = "", *, required: bool = False) -> str:
    """A text field; missing or null gives `default` (or a problem when `required`), another type is a problem."""
    value = obj.get(key)
    if value is None:
        if required:
            raise EntryProblem(_("This entry has no %(field)s field.", field=key))
        return default
    if not isinstance(value, str):
        kind = type(value).__name__
        raise EntryProblem(_("The %(field)s field of this entry should be text, not %(type)s.", field=key, type=kind))
    return value


def field_int(obj: Mapping[str, Any], key: str, default: int | None = None, *, allow_text: bool = False) -> int:
    """A whole-number field (JSON booleans are not numbers here); `default` when missing or null.

    Without a default the field is required. `allow_text` accepts numbers written as text, for
    formats whose apps write them so.
    """
    value = obj.get(key)
    if value is None:
        if default is None:
            raise EntryProblem(_("This entry has no %(field)s field.", field=key))
        return default
    if allow_text and isinstance(value, str) and _INT_TEXT.fullmatch(value.strip()):
        return int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise EntryProblem(
            _(
                "The %(field)s field of this entry should be a whole number, not %(value)s.",
                field=key,
                value=repr(value)[:40],
            )
        )
    return value


def field_bool(obj: Mapping[str, Any], key: str) -> bool:
    value = obj.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise EntryProblem(
            _(
                "The %(field)s field of this entry should be true or false, not %(value)s.",
                field=key,
                value=repr(value)[:40],
            )
        )
    return value


def parse_algorithm(name: str) -> Algorithm:
    """SHA1, SHA256 or SHA512 in any case ("sha-256" too); MD5 and the like cannot compute codes here."""
    cleaned = name.strip().upper().replace("-", "")
    try:
        if (algorithm := Algorithm(cleaned)) not in HMAC_ALGORITHMS:
            raise ValueError(cleaned)
        return algorithm
    except ValueError:
        raise EntryProblem(
            _("The algorithm %(value)s is not supported: use SHA-1, SHA-256 or SHA-512.", value=repr(cleaned)[:20])
        ) from None


def field_algorithm(obj: Mapping[str, Any], key: str) -> Algorithm:
    """An algorithm field, SHA1 when absent."""
    return parse_algorithm(field_str(obj, key, "SHA1"))


def otp_params(
    otp_type: OtpType, secret: bytes, algorithm: Algorithm, fields: Mapping[str, Any], *, allow_text: bool = False
) -> OtpParams:
    """The parameters of an entry whose `fields` name them digits, period and counter.

    Only timed types read a period and only HOTP a counter: other apps leave stray values there.
    """
    return OtpParams(
        type=otp_type,
        secret=secret,
        algorithm=algorithm,
        digits=field_int(fields, "digits", 6, allow_text=allow_text),
        period=field_int(fields, "period", 30, allow_text=allow_text) if otp_type is not OtpType.HOTP else 30,
        counter=field_int(fields, "counter", 0, allow_text=allow_text) if otp_type is OtpType.HOTP else 0,
    )


# Entries -----------------------------------------------------------------------------------


def describe(prefix: str, *names: object) -> str:
    """The source of an entry for the preview: its position, plus its own names when it has any.

    Names come from an untrusted file, so only text is kept, without control characters,
    and the whole is capped: it must identify the entry, not carry content.
    """
    parts: list[str] = []
    for name in names:
        if isinstance(name, str):
            name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
            if name and name not in parts:
                parts.append(name)
    text = ": ".join(parts)
    if len(text) > _SOURCE_NAMES_LIMIT:
        text = text[: _SOURCE_NAMES_LIMIT - 1] + "…"
    return f"{prefix} ({text})" if text else prefix


def _guarded(source: str, make: Callable[[], ImportedEntry]) -> ImportedEntry:
    """Run `make`; an entry-level failure becomes an entry with a problem instead of failing the file."""
    try:
        entry = make()
        spec = entry.spec
        # JSON escapes can smuggle lone surrogates in, which no UTF-8 store or export can hold.
        if spec is not None and any(
            _SURROGATE.search(text) for text in (spec.issuer, spec.name, spec.note, *spec.groups)
        ):
            raise EntryProblem(_("This entry holds broken text that cannot be stored."))
        if spec is not None and spec.params.needs_pin:
            # An mOTP link never holds its PIN: one link added on its own asks for it.
            raise EntryProblem(_("This account needs its PIN, which the file does not hold: add it on its own."))
        return entry
    except (EntryProblem, InvalidParameter) as exc:
        return ImportedEntry(source=source, spec=None, problem=str(exc))


def build_entry(source: str, build: Callable[[], AccountSpec]) -> ImportedEntry:
    """The entry `build` describes, or the entry with its problem."""
    return _guarded(source, lambda: ImportedEntry(source=source, spec=build()))


def numbered(
    items: Sequence[T], label: str, names: Callable[[Mapping[str, Any]], tuple[object, ...]] | None = None
) -> list[tuple[str, T]]:
    """Pair each item with its source: `label`, its 1-based position and, for objects, `names(item)`."""
    check_count(len(items))
    return [
        (describe(f"{label} {position}", *(names(item) if names and isinstance(item, dict) else ())), item)
        for position, item in enumerate(items, start=1)
    ]


def convert_all(items: Sequence[tuple[str, T]], convert: Callable[[str, T], ImportedEntry]) -> list[ImportedEntry]:
    """Convert each (source, item); an item that fails becomes an entry with a problem, not a failed import."""
    check_count(len(items))
    return [_guarded(source, lambda source=source, item=item: convert(source, item)) for source, item in items]


# otpauth text ------------------------------------------------------------------------------


def content_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, stripped line) for each line that is neither blank nor a `#` comment."""
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if line and not line.startswith("#"):
            yield number, line


def extract_uri(line: str) -> str | None:
    """The otpauth, otpauth-migration or motp URI a line holds, or None.

    A line that starts with the scheme is the URI, spaces and all (real files have secrets
    written in groups). Some tools write a prefix first (`QR-Code:otpauth-migration://...`,
    a quoted value): then the URI runs from its scheme to the first space or quote.
    """
    match = _URI_START.search(line)
    if match is None:
        return None
    if match.start() == 0:
        return line.strip()
    return _URI_END.split(line[match.start() :], maxsplit=1)[0]


def looks_like_uri_text(data: bytes) -> list[str] | None:
    """The content lines of a text file whose first content line holds an otpauth URI; else None.

    JSON and CSV files can contain URIs too, so a first line that opens JSON, or that is
    not built around a URI, is not taken for a URI list. Never raises.
    """
    if len(data) > MAX_IMPORT_BYTES:
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    lines = [line for _, line in content_lines(text)]
    if not lines or lines[0][:1] in ("{", "[", '"') or extract_uri(lines[0]) is None:
        return None
    return lines
