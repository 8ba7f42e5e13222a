"""Microsoft Authenticator for Android: its database `PhoneFactor` (SQLite), copied off a rooted phone.

Table `accounts`: `name` is the issuer, `username` the account, `oath_secret_key` the base32
secret, `account_type` 0 for a standard TOTP account (always SHA1, 6 digits, 30 s: the app
stores no parameters). Other types are Microsoft and work/school accounts that sign in by
push notification; they cannot be moved to another app and are skipped.

The file is untrusted, and SQLite only opens files: the bytes go to a private temporary
directory and are opened read-only and immutable (no journal or WAL files are created, no
locks taken), and the directory is removed after. A database is code as much as data: a
generated column (`GENERATED ALWAYS AS (hex(zeroblob(N)))`) computes a value on every read.
So the table must be a plain one without generated or hidden columns, no value may exceed
`SQLITE_MAX_VALUE_BYTES`, a query stops after `SQLITE_MAX_STEPS` virtual-machine steps, and
the rows read may hold no more text than the file itself (all in limits.py).
"""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path
from typing import ClassVar
from urllib.parse import quote

from flask_babel import gettext as _

from webauth.otp import OtpParams, OtpType
from webauth.otpauth import AccountSpec, decode_secret
from webauth.transfer._parsing import EntryProblem, check_count, convert_all, describe
from webauth.transfer.base import ImportedEntry, Importer, TooMuchWork, TransferError
from webauth.transfer.limits import (
    MAX_IMPORT_BYTES,
    MAX_IMPORT_ENTRIES,
    SQLITE_MAX_STEPS,
    SQLITE_MAX_VALUE_BYTES,
    SQLITE_PROGRESS_STEPS,
)

SQLITE_HEADER = b"SQLite format 3\x00"
_TOTP_ACCOUNT = 0
_QUERY = "SELECT name, username, oath_secret_key, account_type FROM accounts ORDER BY _id"
_Row = tuple[object, object, object, object]
# `PRAGMA table_xinfo` marks hidden columns 1 (of a virtual table), generated ones 2 or 3.
_PLAIN_COLUMN = 0


class _StepBudget:
    """SQLite's progress handler: it stops the query (by returning true) once the budget is spent."""

    def __init__(self) -> None:
        self.steps = 0

    @property
    def spent(self) -> bool:
        return self.steps > SQLITE_MAX_STEPS

    def __call__(self) -> bool:
        self.steps += SQLITE_PROGRESS_STEPS
        return self.spent


def _connect(path: Path, budget: _StepBudget) -> sqlite3.Connection:
    """The database, read-only and immutable, with its values and its steps bounded."""
    try:
        connection = sqlite3.connect(f"file:{quote(str(path))}?mode=ro&immutable=1", uri=True)
    except sqlite3.Error:
        raise TransferError(_("This Microsoft Authenticator database cannot be opened.")) from None
    connection.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, SQLITE_MAX_VALUE_BYTES)
    connection.set_progress_handler(budget, SQLITE_PROGRESS_STEPS)
    return connection


def _check_accounts_table(connection: sqlite3.Connection) -> None:
    """`accounts` must be a plain table, as the app's Room database has it: nothing computed on read."""
    found = connection.execute("SELECT type, sql FROM sqlite_master WHERE name = 'accounts'").fetchall()
    if len(found) != 1 or found[0][0] != "table":
        raise TransferError(_("This SQLite database has no accounts table: it is not Microsoft Authenticator's."))
    sql = found[0][1]
    if not isinstance(sql, str) or not sql.lstrip().upper().startswith("CREATE TABLE"):
        raise TransferError(
            _("This database's accounts table is a virtual table: it is not Microsoft Authenticator's.")
        )
    if any(column[6] != _PLAIN_COLUMN for column in connection.execute("PRAGMA table_xinfo(accounts)")):
        raise TransferError(
            _(
                "This database's accounts table has generated or hidden columns, which Microsoft Authenticator"
                " never writes: it is refused, as reading them could make the server compute without bound."
            )
        )


def _fetch_rows(connection: sqlite3.Connection) -> list[_Row]:
    """The rows, stopping at one more than an import may hold or at more text than a file may hold."""
    rows: list[_Row] = []
    text = 0
    for row in connection.execute(_QUERY):
        text += sum(len(value) for value in row if isinstance(value, str | bytes))
        if text > MAX_IMPORT_BYTES:
            raise TransferError(_("This Microsoft Authenticator database holds more text than an import may."))
        rows.append(row)
        if len(rows) > MAX_IMPORT_ENTRIES:
            break
    return rows


def _read_rows(data: bytes) -> list[_Row]:
    with tempfile.TemporaryDirectory(prefix="webauth-import-") as directory:
        path = Path(directory) / "PhoneFactor"
        path.write_bytes(data)
        budget = _StepBudget()
        connection = _connect(path, budget)
        try:
            _check_accounts_table(connection)
            return _fetch_rows(connection)
        except sqlite3.DataError:
            raise TransferError(
                _(
                    "This Microsoft Authenticator database holds a value larger than %(limit)s KiB,"
                    " which the app never writes.",
                    limit=SQLITE_MAX_VALUE_BYTES // 1024,
                )
            ) from None
        except (sqlite3.Error, UnicodeDecodeError):  # SQLite's message may quote schema text that is not UTF-8
            if budget.spent:
                raise TooMuchWork(
                    _(
                        "This Microsoft Authenticator database asks for more work than this server allows:"
                        " reading it takes more than %(steps)s SQLite steps.",
                        steps=f"{SQLITE_MAX_STEPS:,}",
                    )
                ) from None
            raise TransferError(_("This Microsoft Authenticator database is damaged or not the app's.")) from None
        finally:
            connection.close()


def _convert(source: str, row: _Row) -> ImportedEntry:
    issuer, username, secret, _type = row
    if not isinstance(issuer, str) or not isinstance(username, str) or not isinstance(secret, str):
        raise EntryProblem(_("This account is damaged and cannot be read."))
    if not secret.strip():
        raise EntryProblem(
            _("No secret key in the file: newer versions of Microsoft Authenticator keep it encrypted on the phone.")
        )
    params = OtpParams(type=OtpType.TOTP, secret=decode_secret(secret))
    return ImportedEntry(source=source, spec=AccountSpec(issuer=issuer, name=username, params=params))


class MicrosoftAuthenticatorImporter(Importer):
    format_id: ClassVar[str] = "microsoft_authenticator"
    title: ClassVar[str] = "Microsoft Authenticator database (Android, PhoneFactor)"

    def sniff(self, data: bytes) -> bool:
        return data.startswith(SQLITE_HEADER)

    def read(self, data: bytes, password: str | None = None) -> list[ImportedEntry]:
        if not data.startswith(SQLITE_HEADER):
            raise TransferError(_("This is not a SQLite database, so not Microsoft Authenticator's PhoneFactor file."))
        rows = _read_rows(data)
        check_count(len(rows))
        totp_rows = [
            (describe(f"account {position}", row[0], row[1]), row)
            for position, row in enumerate(rows, start=1)
            if row[3] == _TOTP_ACCOUNT
        ]
        return convert_all(totp_rows, _convert)


IMPORTERS: list[Importer] = [MicrosoftAuthenticatorImporter()]
