"""Plain text with one otpauth:// URI per line: what many apps export and what people paste.

Blank lines and `#` comments are skipped. A line that is not a valid URI becomes an entry
with a problem, so one bad line never hides the others. Lines holding Google's
`otpauth-migration://` transfer URIs are decoded too, so a mixed list imports in one go.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from flask_babel import gettext as _

from webauth.otpauth import AccountSpec, format_uri, parse_uri
from webauth.transfer._parsing import (
    build_entry,
    check_count,
    content_lines,
    decode_text,
    extract_uri,
    looks_like_uri_text,
)
from webauth.transfer.base import ImportedEntry, Importer, TransferError
from webauth.transfer.google import is_migration_uri, parse_migration_uri


def read_uri_texts(texts: Iterable[tuple[str, str]]) -> list[ImportedEntry]:
    """Entries from (source, text) pairs, each text one line or one QR code's content.

    A text that holds no URI is handed to the URI parser anyway, so its problem is the parser's
    own message about what is wrong.
    """
    entries: list[ImportedEntry] = []
    for source, text in texts:
        uri = extract_uri(text)
        if uri is not None and is_migration_uri(uri):
            try:
                entries.extend(parse_migration_uri(uri, source).entries)
            except TransferError as exc:
                entries.append(ImportedEntry(source=source, spec=None, problem=str(exc)))
        else:
            candidate = text if uri is None else uri
            entries.append(build_entry(source, lambda candidate=candidate: parse_uri(candidate)))
        check_count(len(entries))
    return entries


def export_otpauth_list(specs: list[AccountSpec]) -> bytes:
    """One canonical otpauth URI per line (UTF-8; the URIs themselves are ASCII)."""
    return "".join(format_uri(spec) + "\n" for spec in specs).encode("utf-8")


class OtpauthListImporter(Importer):
    format_id: ClassVar[str] = "otpauth"
    title: ClassVar[str] = "otpauth:// URI list (text, one per line)"

    def sniff(self, data: bytes) -> bool:
        """A text file whose first content line holds a URI; files of transfer URIs only are Google's."""
        lines = looks_like_uri_text(data)
        if lines is None:
            return False
        return not all((uri := extract_uri(line)) is not None and is_migration_uri(uri) for line in lines)

    def read(self, data: bytes, password: str | None = None) -> list[ImportedEntry]:
        lines = list(content_lines(decode_text(data)))
        if not any(extract_uri(line) is not None for _, line in lines):
            raise TransferError(_("No otpauth:// URI found in the file"))
        return read_uri_texts((f"line {number}", line) for number, line in lines)


IMPORTERS: list[Importer] = [OtpauthListImporter()]
