"""The small interface every import format implements, and the errors they may raise.

Importers are pure: bytes (and a password) in, entries out, nothing written. The vault
adds the entries the user picks in one transaction, so a bad file can never leave a
half-finished import behind. Every failure an importer can meet is a `TransferError`
with a message fit to show the user; anything else escaping a parser is a bug.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from webauth.otpauth import AccountSpec


class TransferError(Exception):
    """A file that cannot be imported or exported; the message is for the user."""


class PasswordRequired(TransferError):
    """The file is encrypted and no password was given."""


class WrongPassword(TransferError):
    """The password does not open the file (or the file was tampered with)."""


class TooMuchWork(TransferError):
    """The file asks for more work than one import may spend on this server (see limits.py).

    Raised before the work starts: a key derivation beyond the budget is never begun.
    """


@dataclass(frozen=True)
class ImportedEntry:
    """One entry of an imported file, as the preview shows it.

    `spec` is None when the entry cannot be imported; `problem` then says why, and the
    rest of the file still imports.
    """

    source: str
    spec: AccountSpec | None
    problem: str | None = None
    trashed: bool = False


class Importer(ABC):
    """One file format that can be read into accounts."""

    format_id: ClassVar[str]
    title: ClassVar[str]

    @abstractmethod
    def sniff(self, data: bytes) -> bool:
        """Whether `data` looks like this format; cheap, and never raises."""

    @abstractmethod
    def read(self, data: bytes, password: str | None = None) -> list[ImportedEntry]:
        """Every entry of the file, or `TransferError` (`PasswordRequired`, `WrongPassword`)."""
