"""Strict readers shared by the import formats: JSON, base64, typed fields, per-entry problems.

Every helper turns malformed input into `TransferError` (the whole file is refused) or
`EntryProblem` (one entry is refused, the rest still imports), so the importers built on
them never leak a `KeyError`, `TypeError` or `UnicodeDecodeError` to the user.
"""

from __future__ import annotations

import base64
import binascii
import json
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from argon2.exceptions import HashingError
from argon2.low_level import Type, hash_secret_raw

from webauth.otp import Algorithm, InvalidParameter
from webauth.transfer.base import MAX_IMPORT_ENTRIES, ImportedEntry, PasswordRequired, TransferError, WrongPassword

T = TypeVar("T")

_UTF8_BOM = b"\xef\xbb\xbf"
_JSON_WHITESPACE = b" \t\r\n"
_SOURCE_NAMES_LIMIT = 60


class EntryProblem(Exception):
    """One entry of a file cannot be imported; the message says why and the rest still imports."""


def decode_utf8(data: bytes, what: str) -> str:
    """The file as text; a byte-order mark is dropped since Windows editors add one."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise TransferError(f"This {what} file is not UTF-8 text; it may be damaged.") from None


def load_json(data: bytes, what: str) -> Any:
    """Parse JSON, refusing the file (not crashing) on bad syntax, bad encoding or absurd nesting."""
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        raise TransferError(f"This {what} file is not valid JSON; it may be damaged or truncated.") from None


def json_object(data: bytes, what: str) -> dict[str, Any]:
    """The file's top-level JSON object."""
    parsed = load_json(data, what)
    if not isinstance(parsed, dict):
        raise TransferError(f"This is not a {what} file: it does not hold a JSON object.")
    return parsed


def sniff_json(data: bytes, markers: Sequence[bytes], shape: Callable[[Any], bool]) -> bool:
    """Whether `data` is JSON carrying every marker (quoted key names) and, if it parses, the shape.

    The byte markers keep detection cheap for the many files that are not this format. A file
    with the markers that fails to parse still counts as a match, so that `read()` can tell the
    user it is damaged instead of detection claiming the format is unknown.
    """
    head = data[len(_UTF8_BOM) :] if data.startswith(_UTF8_BOM) else data
    if head.lstrip(_JSON_WHITESPACE)[:1] not in (b"{", b"["):
        return False
    if not all(marker in data for marker in markers):
        return False
    try:
        parsed = json.loads(data)
    except (ValueError, RecursionError):
        return True
    return shape(parsed)


def b64decode(value: object, field: str, what: str) -> bytes:
    """Standard, padded base64 (RFC 4648 section 4), as every format here writes it."""
    if not isinstance(value, str):
        raise TransferError(f"This {what} file is damaged: {field} is missing or not text.")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise TransferError(f"This {what} file is damaged: {field} is not valid base64.") from None


def require_password(password: str | None, what: str) -> bytes:
    """The password as UTF-8 bytes, the encoding every one of these apps uses."""
    if not password:
        raise PasswordRequired(f"This {what} file is encrypted: enter the password it was exported with.")
    try:
        return password.encode("utf-8")
    except UnicodeEncodeError:
        raise WrongPassword("The password contains characters that cannot be encoded.") from None


def argon2id(password: bytes, salt: bytes, *, time_cost: int, memory_kib: int, parallelism: int) -> bytes:
    """A 32-byte Argon2id (v1.3) key, for formats whose parameters are fixed by the app."""
    try:
        return hash_secret_raw(password, salt, time_cost, memory_kib, parallelism, 32, Type.ID)
    except HashingError:
        raise TransferError("The file's key derivation parameters are invalid.") from None


def check_count(count: int) -> None:
    """Refuse a file with more entries than one import may hold, before converting any of them."""
    if count > MAX_IMPORT_ENTRIES:
        raise TransferError(f"The file holds {count} entries; at most {MAX_IMPORT_ENTRIES} can be imported at once.")


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
    entries = []
    for source, item in items:
        try:
            entries.append(convert(source, item))
        except (EntryProblem, InvalidParameter) as exc:
            entries.append(ImportedEntry(source=source, spec=None, problem=str(exc)))
    return entries


def entry_object(item: object) -> Mapping[str, Any]:
    """An entry that must be a JSON object."""
    if not isinstance(item, dict):
        raise EntryProblem("this entry is not a JSON object")
    return item


def get_str(obj: Mapping[str, Any], key: str, *, required: bool = False) -> str:
    """A text field; missing or null reads as empty unless `required`."""
    value = obj.get(key)
    if value is None:
        if required:
            raise EntryProblem(f"{key}: missing")
        return ""
    if not isinstance(value, str):
        raise EntryProblem(f"{key}: must be text")
    return value


def get_int(obj: Mapping[str, Any], key: str, default: int | None = None) -> int:
    """A whole-number field (JSON booleans are not numbers here); `default` when missing or null."""
    value = obj.get(key)
    if value is None:
        if default is None:
            raise EntryProblem(f"{key}: missing")
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise EntryProblem(f"{key}: must be a whole number")
    return value


def parse_algorithm(name: str) -> Algorithm:
    """SHA1, SHA256 or SHA512 in any case; anything else (MD5...) cannot compute codes here."""
    try:
        return Algorithm(name.strip().upper())
    except ValueError:
        raise EntryProblem(f"algorithm: {name!r} is not supported; use SHA1, SHA256 or SHA512") from None
