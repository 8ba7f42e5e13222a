"""Microsoft Authenticator for Android: its database `PhoneFactor` (SQLite), copied off a rooted phone.

Table `accounts`: `name` is the issuer, `username` the account, `oath_secret_key` the base32
secret, `account_type` 0 for a standard TOTP account (always SHA1, 6 digits, 30 s: the app
stores no parameters). Other types are Microsoft and work/school accounts that sign in by
push notification; they cannot be moved to another app and are skipped.

The file is untrusted, and SQLite only opens files: the bytes go to a private temporary
directory and are opened read-only and immutable (no journal or WAL files are created, no
locks taken), with a bound on the work a query may do, and the directory is removed after.
"""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path
from typing import ClassVar
from urllib.parse import quote

from webauth.otp import OtpParams, OtpType
from webauth.otpauth import AccountSpec, decode_secret
from webauth.transfer._parsing import EntryProblem, check_count, convert_all, describe
from webauth.transfer.base import ImportedEntry, Importer, TransferError

SQLITE_HEADER = b"SQLite format 3\x00"
_TOTP_ACCOUNT = 0
# SQLite calls the progress handler every this many virtual-machine steps, and stops the
# query when it returns true: a crafted schema (a view in place of the table) cannot loop.
_PROGRESS_STEP = 1000
_MAX_STEPS = 20_000_000
_QUERY = "SELECT name, username, oath_secret_key, account_type FROM accounts ORDER BY _id"
_Row = tuple[object, object, object, object]


def _read_rows(data: bytes) -> list[_Row]:
    with tempfile.TemporaryDirectory(prefix="webauth-import-") as directory:
        path = Path(directory) / "PhoneFactor"
        path.write_bytes(data)
        uri = f"file:{quote(str(path))}?mode=ro&immutable=1"
        try:
            connection = sqlite3.connect(uri, uri=True)
        except sqlite3.Error:
            raise TransferError("This Microsoft Authenticator database cannot be opened.") from None
        try:
            steps = 0

            def budget() -> bool:
                nonlocal steps
                steps += _PROGRESS_STEP
                return steps > _MAX_STEPS

            connection.set_progress_handler(budget, _PROGRESS_STEP)
            kind = connection.execute("SELECT type FROM sqlite_master WHERE name = 'accounts'").fetchone()
            if kind != ("table",):
                raise TransferError("This SQLite database has no accounts table: it is not Microsoft Authenticator's.")
            return connection.execute(_QUERY).fetchall()
        except sqlite3.Error:
            raise TransferError("This Microsoft Authenticator database is damaged or not the app's.") from None
        finally:
            connection.close()


def _convert(source: str, row: _Row) -> ImportedEntry:
    issuer, username, secret, _ = row
    if not isinstance(issuer, str) or not isinstance(username, str) or not isinstance(secret, str):
        raise EntryProblem("this account's columns are not text")
    if not secret.strip():
        raise EntryProblem("secret: empty; newer versions of the app keep it encrypted by the phone")
    params = OtpParams(type=OtpType.TOTP, secret=decode_secret(secret))
    return ImportedEntry(source=source, spec=AccountSpec(issuer=issuer, name=username, params=params))


class MicrosoftAuthenticatorImporter(Importer):
    format_id: ClassVar[str] = "microsoft_authenticator"
    title: ClassVar[str] = "Microsoft Authenticator database (Android, PhoneFactor)"

    def sniff(self, data: bytes) -> bool:
        return data.startswith(SQLITE_HEADER)

    def read(self, data: bytes, password: str | None = None) -> list[ImportedEntry]:
        if not data.startswith(SQLITE_HEADER):
            raise TransferError("This is not a SQLite database, so not Microsoft Authenticator's PhoneFactor file.")
        rows = _read_rows(data)
        check_count(len(rows))
        totp_rows = [
            (describe(f"account {position}", row[0], row[1]), row)
            for position, row in enumerate(rows, start=1)
            if row[3] == _TOTP_ACCOUNT
        ]
        return convert_all(totp_rows, _convert)


IMPORTERS: list[Importer] = [MicrosoftAuthenticatorImporter()]
