"""Microsoft Authenticator: the PhoneFactor fixture, push accounts, and hostile or damaged SQLite files."""

from __future__ import annotations

import re
import sqlite3
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from interop_fixtures import STRUCTURED, assert_matches_vectors, fixture, fuzz

from tests.support.i18n import chinese, is_translated
from webauth.otp import Algorithm, OtpType
from webauth.transfer import microsoft
from webauth.transfer.base import TooMuchWork, TransferError
from webauth.transfer.limits import MAX_IMPORT_ENTRIES, SQLITE_MAX_VALUE_BYTES
from webauth.transfer.microsoft import MicrosoftAuthenticatorImporter

IMPORTER = MicrosoftAuthenticatorImporter()
FUZZ = fuzz(200)
ACCOUNTS_TABLE = (
    "CREATE TABLE accounts (_id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, username TEXT NOT NULL,"
    " oath_secret_key TEXT NOT NULL, account_type INTEGER NOT NULL, encrypted_oath_secret_key TEXT NOT NULL)"
)


def database(*statements: str, rows: Sequence[tuple[object, ...]] = ()) -> bytes:
    """A SQLite file built in memory: `statements`, then `rows` inserted into `accounts`."""
    connection = sqlite3.connect(":memory:")
    try:
        for statement in statements:
            connection.execute(statement)
        connection.executemany(
            "INSERT INTO accounts (name, username, oath_secret_key, account_type, encrypted_oath_secret_key)"
            " VALUES (?, ?, ?, ?, '')",
            rows,
        )
        return connection.serialize()
    finally:
        connection.close()


@pytest.fixture
def private_tempdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point the temporary directory at an empty folder, to see what an import leaves behind."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    yield folder


def test_fixture_imports_as_expected() -> None:
    data = fixture("microsoft_authenticator.sqlite")
    assert IMPORTER.sniff(data)

    def stored_as_default_totp(vector: dict[str, object]) -> dict[str, object]:
        # The app stores no parameters: every account is TOTP SHA1/6/30 with the vector's secret and names.
        names = {key: vector[key] for key in ("secret", "name", "issuer")}
        return {**names, "type": "totp", "algorithm": "SHA1", "digits": 6, "period": 30}

    assert_matches_vectors("microsoft_authenticator.sqlite", IMPORTER.read(data), adjust=stored_as_default_totp)


def test_push_accounts_are_skipped_and_lowercase_secrets_read() -> None:
    data = database(
        ACCOUNTS_TABLE,
        rows=[
            ("Contoso", "alice@contoso.com", "", 2),
            ("GitHub", "alice", "jbsw y3dp ehpk 3pxp", 0),
            ("Microsoft", "alice@outlook.com", "c2VjcmV0", 1),
        ],
    )
    [entry] = IMPORTER.read(data)
    assert entry.source == "account 2 (GitHub: alice)"
    assert entry.spec is not None
    assert (entry.spec.issuer, entry.spec.name) == ("GitHub", "alice")
    params = entry.spec.params
    assert (params.type, params.algorithm, params.digits, params.period) == (OtpType.TOTP, Algorithm.SHA1, 6, 30)
    assert params.secret == b"Hello!\xde\xad\xbe\xef"


def test_an_account_whose_secret_the_phone_encrypted_is_a_problem() -> None:
    [entry] = IMPORTER.read(database(ACCOUNTS_TABLE, rows=[("GitHub", "alice", "", 0)]))
    assert entry.spec is None and entry.problem is not None and "encrypted" in entry.problem


def test_columns_of_the_wrong_type_are_a_problem() -> None:
    table = (
        "CREATE TABLE accounts"
        " (_id INTEGER PRIMARY KEY, name, username, oath_secret_key, account_type, encrypted_oath_secret_key)"
    )
    data = database(table, rows=[(b"\x00", "alice", "JBSWY3DPEHPK3PXP", 0)])
    [entry] = IMPORTER.read(data)
    assert entry.spec is None and entry.problem == "This account is damaged and cannot be read."


@pytest.mark.parametrize(
    ("statements", "message"),
    [
        (["CREATE TABLE other (x)"], "no accounts table"),
        (["CREATE TABLE t (x)", "CREATE VIEW accounts AS SELECT x FROM t"], "no accounts table"),
        (["CREATE TABLE accounts (_id INTEGER PRIMARY KEY, name TEXT)"], "damaged or not the app's"),
    ],
)
def test_a_database_that_is_not_the_apps_is_refused(statements: list[str], message: str) -> None:
    connection = sqlite3.connect(":memory:")
    for statement in statements:
        connection.execute(statement)
    data = connection.serialize()
    connection.close()
    with pytest.raises(TransferError, match=message):
        IMPORTER.read(data)


def test_damaged_files_are_refused_and_leave_nothing_behind(private_tempdir: Path) -> None:
    with pytest.raises(TransferError):
        IMPORTER.read(microsoft.SQLITE_HEADER + b"\x00" * 200)
    with pytest.raises(TransferError, match="not a SQLite database"):
        IMPORTER.read(b"PK\x03\x04 not sqlite")
    IMPORTER.read(fixture("microsoft_authenticator.sqlite"))
    assert list(private_tempdir.iterdir()) == []


def test_queries_have_a_work_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(microsoft, "SQLITE_PROGRESS_STEPS", 1)
    monkeypatch.setattr(microsoft, "SQLITE_MAX_STEPS", 1234)
    rows = [("Acme", f"user{n}", "JBSWY3DPEHPK3PXP", 0) for n in range(20)]
    assert len(IMPORTER.read(database(ACCOUNTS_TABLE, rows=rows[:1]))) == 1  # within the budget
    data = database(ACCOUNTS_TABLE, rows=rows * 10)
    with pytest.raises(TooMuchWork) as refusal:
        IMPORTER.read(data)
    assert str(refusal.value) == (
        "This Microsoft Authenticator database asks for more work than this server allows:"
        " reading it takes more than 1,234 SQLite steps."
    )
    with chinese(), pytest.raises(TooMuchWork) as refusal:
        IMPORTER.read(data)
    assert is_translated(str(refusal.value)) and "1,234" in str(refusal.value)


sqlite_values = st.none() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text() | st.binary()


@STRUCTURED
@given(rows=st.lists(st.tuples(sqlite_values, sqlite_values, sqlite_values, sqlite_values | st.just(0)), max_size=4))
def test_any_column_values_raise_only_transfer_errors(rows: list[tuple[object, ...]]) -> None:
    # SQLite columns hold any type whatever the declared one: a hostile file need not respect the schema.
    table = (
        "CREATE TABLE accounts"
        " (_id INTEGER PRIMARY KEY, name, username, oath_secret_key, account_type, encrypted_oath_secret_key)"
    )
    entries = IMPORTER.read(database(table, rows=rows))
    assert len(entries) == sum(row[3] == 0 for row in rows)


def test_a_schema_with_bytes_that_are_not_utf8_is_refused_as_damaged() -> None:
    # SQLite quotes the broken name in its error, which Python cannot decode: found by the mutated-fixture
    # fuzz (`@reproduce_failure('6.170.15', b'AEEBQQFCD7RCAIA=')`), where a UnicodeDecodeError escaped.
    data = bytearray(fixture("microsoft_authenticator.sqlite"))
    data[data.index(b"tableandroid_metadata") + len(b"table")] = 0xE1
    with pytest.raises(TransferError, match="damaged or not the app's"):
        IMPORTER.read(bytes(data))


def test_text_that_is_not_utf8_refuses_the_file_as_damaged() -> None:
    connection = sqlite3.connect(":memory:")
    connection.execute(ACCOUNTS_TABLE)
    connection.execute(
        "INSERT INTO accounts (name, username, oath_secret_key, account_type, encrypted_oath_secret_key)"
        " VALUES ('Bank', CAST(x'616cff' AS TEXT), 'JBSWY3DPEHPK3PXP', 0, '')"
    )
    data = connection.serialize()
    connection.close()
    with pytest.raises(TransferError, match="damaged or not the app's"):
        IMPORTER.read(data)



def test_a_database_sqlite_cannot_open_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    def cannot_open(*args: object, **kwargs: object) -> sqlite3.Connection:
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(microsoft.sqlite3, "connect", cannot_open)
    with pytest.raises(TransferError, match=r"^This Microsoft Authenticator database cannot be opened\.$"):
        IMPORTER.read(fixture("microsoft_authenticator.sqlite"))


def test_a_budget_large_enough_reads_the_whole_file_counted_step_by_step(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(microsoft, "SQLITE_PROGRESS_STEPS", 1)
    monkeypatch.setattr(microsoft, "SQLITE_MAX_STEPS", 10**9)
    assert len(IMPORTER.read(fixture("microsoft_authenticator.sqlite"))) == 7


# The edges, pinned by mutation testing (`make mutation`) ------------------------------------


def refusal_in_chinese(data: bytes) -> str:
    """The refusal of `data`, as a reader of Chinese sees it (it must have been translated)."""
    with chinese(), pytest.raises(TransferError) as refusal:
        IMPORTER.read(data)
    message = str(refusal.value)
    assert is_translated(message), message
    return message


def with_schema_text(sql: str) -> bytes:
    """A database whose `accounts` entry in sqlite_master says `sql`, as a hand-edited file may."""
    connection = sqlite3.connect(":memory:")
    try:
        connection.execute(ACCOUNTS_TABLE)
        connection.execute(
            "INSERT INTO accounts (name, username, oath_secret_key, account_type, encrypted_oath_secret_key)"
            " VALUES ('GitHub', 'alice', 'JBSWY3DPEHPK3PXP', 0, '')"
        )
        connection.execute("PRAGMA writable_schema = ON")
        connection.execute("UPDATE sqlite_master SET sql = ? WHERE name = 'accounts'", (sql,))
        connection.commit()
        return connection.serialize()
    finally:
        connection.close()


def test_a_virtual_table_and_computed_columns_are_refused_each_with_its_reason() -> None:
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE VIRTUAL TABLE accounts USING fts5(name, username, oath_secret_key, account_type)")
    virtual = connection.serialize()
    connection.close()
    generated = database(
        "CREATE TABLE accounts (_id INTEGER PRIMARY KEY, name TEXT, username TEXT, oath_secret_key TEXT,"
        " account_type INTEGER, encrypted_oath_secret_key TEXT, extra TEXT GENERATED ALWAYS AS (name) VIRTUAL)"
    )
    # An FTS5 table has hidden columns too: the refusal must still say it is a virtual table.
    assert refusal_in_chinese(virtual) != refusal_in_chinese(generated)


def test_a_schema_text_sqlite_cannot_parse_is_refused_as_damaged_not_as_virtual() -> None:
    # SQLite refuses a schema entry that does not open with CREATE: the file is damaged, whatever else it holds.
    damaged = refusal_in_chinese(microsoft.SQLITE_HEADER + b"\x00" * 200)
    assert refusal_in_chinese(with_schema_text("  " + ACCOUNTS_TABLE)) == damaged


def test_a_value_of_exactly_the_value_limit_is_read_and_a_longer_one_refused() -> None:
    longest = "A" * SQLITE_MAX_VALUE_BYTES
    [entry] = IMPORTER.read(database(ACCOUNTS_TABLE, rows=[("Acme", longest, "JBSWY3DPEHPK3PXP", 0)]))
    assert entry.spec is None and entry.problem is not None  # read, then refused on its own: too long a name
    message = refusal_in_chinese(database(ACCOUNTS_TABLE, rows=[("Acme", longest + "A", "JBSWY3DPEHPK3PXP", 0)]))
    assert re.search(rf"(?<![\d.]){SQLITE_MAX_VALUE_BYTES // 1024}(?![\d.])", message)  # the limit, in whole KiB


def test_the_rows_may_hold_exactly_as_much_text_as_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [("GitHub", "alice", "JBSWY3DPEHPK3PXP", 0), ("Acme", "bob", "KRSXG5CTMVRXEZLU", 0)]
    text = sum(len(value) for row in rows for value in row if isinstance(value, str))
    data = database(ACCOUNTS_TABLE, rows=rows)
    monkeypatch.setattr(microsoft, "MAX_IMPORT_BYTES", text)
    assert len(IMPORTER.read(data)) == 2
    monkeypatch.setattr(microsoft, "MAX_IMPORT_BYTES", text - 1)
    refusal_in_chinese(data)


def test_a_database_of_one_account_more_than_an_import_may_hold_is_refused() -> None:
    rows = [("Acme", f"user{n}", "JBSWY3DPEHPK3PXP", 0) for n in range(MAX_IMPORT_ENTRIES + 1)]
    assert len(IMPORTER.read(database(ACCOUNTS_TABLE, rows=rows[:-1]))) == MAX_IMPORT_ENTRIES
    with pytest.raises(TransferError):
        IMPORTER.read(database(ACCOUNTS_TABLE, rows=rows))
