"""Ente Auth exports: the plain text file, and the password-encrypted JSON that wraps it.

Plain: one otpauth URI per line. Ente appends a `codeDisplay` query parameter holding JSON
(`pinned`, `trashed`, `note`, `tags`, plus usage counters we ignore).

Encrypted (version 1, ente-io/ente `auth/lib/ui/settings/data/export_widget.dart`):
`{"version": 1, "kdfParams": {"memLimit", "opsLimit", "salt"}, "encryptedData", "encryptionNonce"}`.
The key is libsodium `crypto_pwhash` (Argon2id v1.3, memLimit in bytes) of the password; the
plain export is encrypted as one XChaCha20-Poly1305 secretstream message pushed with
TAG_FINAL, and `encryptionNonce` is the secretstream header. Binary fields are standard
padded base64 (libsodium's ORIGINAL variant).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, ClassVar

import nacl.bindings as sodium
import nacl.exceptions
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from webauth.otpauth import parse_uri
from webauth.transfer._parsing import (
    b64decode,
    convert_all,
    decode_text,
    json_object,
    require_password,
    sniff_json_shape,
)
from webauth.transfer.base import ImportedEntry, Importer, TransferError, WrongPassword
from webauth.transfer.kdf import Argon2id, Attempt

_CODE_DISPLAY = "codedisplay"

# Ente derives with a constant work of memLimit x opsLimit = 1 GiB x 4: current versions start at
# 256 MiB x 16 and halve the memory and double the passes on small devices; older ones started
# at 1 GiB x 4. Parameters come from the file, so they are checked first against what Ente can
# write (else the file is damaged), then against the server's budget (limits.py), which the
# 1 GiB of the older exports is beyond.
_MAX_MEM_LIMIT = 1 << 30
_MAX_WORK = 4 << 30
_EXPORT_AGAIN = _l("Export the codes again from a current version of Ente Auth, which uses 256 MiB.")
_SALT_BYTES = sodium.crypto_pwhash_SALTBYTES
_HEADER_BYTES = sodium.crypto_secretstream_xchacha20poly1305_HEADERBYTES
# Ente pushes its single message with TAG_FINAL; an independent reader (Proton's) also
# accepts TAG_MESSAGE, which some Ente builds have written. The message is authenticated
# either way.
_ACCEPTED_TAGS = {
    sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL,
    sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE,
}


@dataclasses.dataclass(frozen=True)
class _CodeDisplay:
    """The part of Ente's `codeDisplay` metadata an account keeps here."""

    pinned: bool = False
    trashed: bool = False
    note: str = ""
    tags: tuple[str, ...] = ()

    @classmethod
    def parse(cls, raw: str | None) -> _CodeDisplay:
        """Lenient like Ente itself: unreadable metadata leaves the account with default display."""
        if not raw:
            return cls()
        try:
            value: Any = json.loads(raw)
        except (ValueError, RecursionError):
            return cls()
        if not isinstance(value, dict):
            return cls()
        note = value.get("note")
        tags = value.get("tags")
        return cls(
            pinned=value.get("pinned") is True,
            trashed=value.get("trashed") is True,
            note=note if isinstance(note, str) else "",
            tags=tuple(tag for tag in tags if isinstance(tag, str)) if isinstance(tags, list) else (),
        )


def _entry_from_line(source: str, line: str) -> ImportedEntry:
    spec = parse_uri(line)
    display = _CodeDisplay.parse(spec.extra.get(_CODE_DISPLAY))
    spec = dataclasses.replace(
        spec,
        note=display.note,
        groups=display.tags,
        favorite=display.pinned,
        extra={key: value for key, value in spec.extra.items() if key != _CODE_DISPLAY},
    )
    return ImportedEntry(source=source, spec=spec, trashed=display.trashed)


def parse_plain_text(text: str) -> list[ImportedEntry]:
    """Every non-blank line of a plain export, each named by its line number in the file."""
    lines = [(f"line {number}", line.strip()) for number, line in enumerate(text.split("\n"), start=1)]
    return convert_all([(source, line) for source, line in lines if line], _entry_from_line)


class EntePlainImporter(Importer):
    format_id: ClassVar[str] = "ente"
    title: ClassVar[str] = "Ente Auth export (plain text)"

    def sniff(self, data: bytes) -> bool:
        """Text starting with an otpauth URI, with Ente's `codeDisplay` metadata on some line."""
        head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:10].lower()
        return head == b"otpauth://" and b"codedisplay=" in data.lower()

    def read(self, data: bytes, password: str | None = None) -> list[ImportedEntry]:
        text = decode_text(data, _("Ente Auth export"))
        # Chosen by hand for another file, the reader would list each of its lines as a bad account.
        if not any(line.strip()[:10].lower() == "otpauth://" for line in text.split("\n")):
            raise TransferError(_("This is not an Ente Auth export: no line holds an otpauth:// URI."))
        return parse_plain_text(text)


class EnteEncryptedImporter(Importer):
    format_id: ClassVar[str] = "ente_encrypted"
    title: ClassVar[str] = "Ente Auth export (encrypted)"

    def sniff(self, data: bytes) -> bool:
        return sniff_json_shape(
            data,
            (b'"kdfParams"', b'"encryptedData"'),
            lambda value: isinstance(value, dict) and {"kdfParams", "encryptedData", "encryptionNonce"} <= value.keys(),
        )

    def read(self, data: bytes, password: str | None = None) -> list[ImportedEntry]:
        what = _("Ente Auth export")
        export = json_object(data, what)
        version = export.get("version")
        if version != 1 or isinstance(version, bool):
            raise TransferError(
                _("This Ente Auth export has version %(version)s; only version 1 can be read.", version=repr(version))
            )
        kdf = export.get("kdfParams")
        if not isinstance(kdf, dict):
            raise TransferError(_("This Ente Auth export is damaged: kdfParams is missing."))
        mem_limit, ops_limit = kdf.get("memLimit"), kdf.get("opsLimit")
        if not _valid_kdf(mem_limit, ops_limit):
            raise TransferError(_("This Ente Auth export asks for key derivation parameters Ente never uses."))
        # libsodium's crypto_pwhash: Argon2id v1.3, one lane, memLimit in bytes rounded down to KiB.
        params = Argon2id(memory_kib=mem_limit // 1024, passes=ops_limit, lanes=1)
        attempt = Attempt(_("This %(what)s", what=what), _EXPORT_AGAIN)
        attempt.reserve(params)
        salt = b64decode(kdf.get("salt"), _("the salt"), what)
        header = b64decode(export.get("encryptionNonce"), _("the nonce"), what)
        ciphertext = b64decode(export.get("encryptedData"), _("the encrypted data"), what)
        if len(salt) != _SALT_BYTES or len(header) != _HEADER_BYTES:
            raise TransferError(_("This Ente Auth export is damaged: its salt or nonce has the wrong length."))
        if len(ciphertext) < sodium.crypto_secretstream_xchacha20poly1305_ABYTES:
            raise TransferError(_("This Ente Auth export is damaged: the encrypted data is truncated."))
        key = attempt.derive(params, require_password(password, what), salt)
        state = sodium.crypto_secretstream_xchacha20poly1305_state()
        sodium.crypto_secretstream_xchacha20poly1305_init_pull(state, header, key)
        try:
            plaintext, tag = sodium.crypto_secretstream_xchacha20poly1305_pull(state, ciphertext, None)
        except nacl.exceptions.CryptoError:
            raise WrongPassword(_("The password is wrong, or the Ente Auth export was altered.")) from None
        if tag not in _ACCEPTED_TAGS:
            raise TransferError(_("This Ente Auth export is not a single encrypted message, as Ente writes it."))
        return parse_plain_text(decode_text(plaintext, what))


def _valid_kdf(mem_limit: object, ops_limit: object) -> bool:
    """Whole numbers within libsodium's minimums and the work Ente's own derivation spends."""
    if isinstance(mem_limit, bool) or isinstance(ops_limit, bool):
        return False
    if not isinstance(mem_limit, int) or not isinstance(ops_limit, int):
        return False
    return (
        sodium.crypto_pwhash_argon2id_MEMLIMIT_MIN <= mem_limit <= _MAX_MEM_LIMIT
        and sodium.crypto_pwhash_argon2id_OPSLIMIT_MIN <= ops_limit
        and mem_limit * ops_limit <= _MAX_WORK
    )


IMPORTERS: list[Importer] = [EnteEncryptedImporter(), EntePlainImporter()]
