"""Small strict helpers the import formats share: size limits, JSON, typed fields, base64, text lines.

Every helper turns bad input into `TransferError` (for the whole file) or `EntryError`
(for one entry, which then shows in the preview with its problem while the rest imports),
so that no parser lets a KeyError, TypeError or decoding error escape.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import unicodedata
from collections.abc import Callable, Iterator
from typing import Any

from webauth.otp import Algorithm, InvalidParameter
from webauth.otpauth import AccountSpec, parse_uri
from webauth.transfer.base import MAX_IMPORT_BYTES, MAX_IMPORT_ENTRIES, ImportedEntry, TransferError

URI_SCHEMES = ("otpauth://", "otpauth-migration://")
_URI_START = re.compile(r"otpauth(?:-migration)?://", re.IGNORECASE)
_SOURCE_LABEL_LIMIT = 60
_URI_END = re.compile(r"[\s\"'<>]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_INT_TEXT = re.compile(r"-?[0-9]{1,19}")


class EntryError(Exception):
    """One entry of a file cannot be imported; the message says why, for the user."""


def check_size(data: bytes) -> None:
    if len(data) > MAX_IMPORT_BYTES:
        raise TransferError(f"The file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB")


def check_count(count: int) -> None:
    if count > MAX_IMPORT_ENTRIES:
        raise TransferError(f"The file holds more than {MAX_IMPORT_ENTRIES} accounts")


def decode_text(data: bytes) -> str:
    """UTF-8 text (a byte-order mark is dropped), or TransferError for binary or other encodings."""
    check_size(data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise TransferError("The file is not UTF-8 text") from None
    if "\x00" in text:
        raise TransferError("The file is not text")
    return text


def load_json(data: bytes | str, what: str = "The file") -> Any:
    """Parse JSON strictly: no NaN/Infinity, and deep nesting is refused rather than crashing."""
    text = decode_text(data) if isinstance(data, bytes) else data

    def _no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    try:
        return json.loads(text, parse_constant=_no_constants)
    except (ValueError, RecursionError):
        raise TransferError(f"{what} is not valid JSON") from None


def sniff_json(data: bytes) -> Any:
    """The parsed JSON when `data` is plausibly a JSON file, else None; never raises."""
    head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head[:1] not in (b"{", b"["):
        return None
    try:
        return load_json(data)
    except TransferError:
        return None


def as_dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TransferError(f"{what} is not a JSON object")
    return value


def as_list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise TransferError(f"{what} is not a JSON list")
    check_count(len(value))
    return value


def field_str(obj: dict[str, Any], key: str, default: str = "") -> str:
    """A text field of one entry; null or missing gives `default`, any other type is an EntryError."""
    value = obj.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        raise EntryError(f"{key}: expected text, not {type(value).__name__}")
    return value


def field_int(obj: dict[str, Any], key: str, default: int) -> int:
    """A whole-number field; null or missing gives `default`; numbers written as text are accepted."""
    value = obj.get(key)
    if value is None:
        return default
    if isinstance(value, str) and _INT_TEXT.fullmatch(value.strip()):
        return int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise EntryError(f"{key}: expected a whole number, not {value!r:.40}")
    return value


def field_bool(obj: dict[str, Any], key: str) -> bool:
    value = obj.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise EntryError(f"{key}: expected true or false, not {value!r:.40}")
    return value


def field_algorithm(obj: dict[str, Any], key: str) -> Algorithm:
    """An algorithm name in any case, SHA1 when absent; MD5 and the like are an EntryError."""
    name = field_str(obj, key, "SHA1").strip().upper().replace("-", "")
    try:
        return Algorithm(name)
    except ValueError:
        raise EntryError(f"{key}: unsupported algorithm {name!r:.20} (use SHA1, SHA256 or SHA512)") from None


def encode_password(password: str) -> bytes:
    try:
        return password.encode("utf-8")
    except UnicodeEncodeError:
        raise TransferError("The password holds characters that cannot be encoded") from None


def decode_b64(text: str, what: str) -> bytes:
    """Standard or URL-safe base64, padding optional; anything else is a TransferError."""
    cleaned = re.sub(r"\s+", "", text).rstrip("=").replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise TransferError(f"{what} is not valid base64") from None


def decode_hex(text: Any, what: str, length: int | None = None) -> bytes:
    if not isinstance(text, str):
        raise TransferError(f"{what} is missing")
    try:
        value = bytes.fromhex(text)
    except ValueError:
        raise TransferError(f"{what} is not valid hexadecimal") from None
    if length is not None and len(value) != length:
        raise TransferError(f"{what} must be {length} bytes, not {len(value)}")
    return value


def describe(prefix: str, *labels: Any) -> str:
    """`source` text for the preview: a position, plus the entry's own names when it has any.

    Raw names come from untrusted files, so control characters go and the length is capped.
    """
    parts = []
    for label in labels:
        if isinstance(label, str):
            label = "".join(ch for ch in label if unicodedata.category(ch)[0] != "C").strip()
            if label and label not in parts:
                parts.append(label)
    text = ": ".join(parts)
    if len(text) > _SOURCE_LABEL_LIMIT:
        text = text[: _SOURCE_LABEL_LIMIT - 1] + "…"
    return f"{prefix} ({text})" if text else prefix


def build_entry(source: str, build: Callable[[], AccountSpec]) -> ImportedEntry:
    """Run `build`; an entry-level failure becomes an entry with a problem instead of failing the file."""
    try:
        spec = build()
        # JSON escapes can smuggle lone surrogates in, which no UTF-8 store or export can hold.
        if any(_SURROGATE.search(text) for text in (spec.issuer, spec.name, spec.note, *spec.groups)):
            raise EntryError("the entry holds text that is not valid Unicode")
        return ImportedEntry(source=source, spec=spec)
    except (EntryError, InvalidParameter) as exc:
        return ImportedEntry(source=source, spec=None, problem=str(exc))


def parse_otpauth(uri: str) -> AccountSpec:
    """`parse_uri`, except that urllib's ValueError for a malformed authority (`otpauth://[`) is an entry problem."""
    try:
        return parse_uri(uri)
    except InvalidParameter:
        raise
    except ValueError:
        raise EntryError("uri: is not a valid URI") from None


def content_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, stripped line) for each line that is neither blank nor a `#` comment."""
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if line and not line.startswith("#"):
            yield number, line


def extract_uri(line: str) -> str | None:
    """The otpauth or otpauth-migration URI a line holds, or None.

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
