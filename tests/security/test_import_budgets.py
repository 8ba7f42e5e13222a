"""Import files built to exhaust the server are refused quickly, clearly, and leave nothing behind.

The budget of one import (limits.py): about 10 s of CPU and 256 MiB of memory, whatever the file
holds. Each hostile file goes through the real upload route (and the CLI), and the tests check
the refusal, that nothing was written, that the costly step never started (structural), and the
CPU time and memory the refusal took. Real files of every app still open under the same caps.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import sqlite3
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.support.hostile_files import (
    PASSWORD,
    SECRET,
    aegis_with_costly_slots,
    aegis_with_icons,
    bitwarden_protected,
    ente_export,
    measured,
    microsoft_plain,
    microsoft_with_generated_secret,
    png,
)
from tests.support.transfer_flow import (
    EXPECTED,
    GOOD_FILES,
    INTEROP,
    account_count,
    confirm,
    pending_count,
    picks,
    token_of,
    upload,
)
from webauth import icons
from webauth.extensions import db
from webauth.models import AccountIcon, ImportInProgress
from webauth.transfer import kdf, limits, stratum
from webauth.transfer.aegis import SCRYPT_N, SCRYPT_P, SCRYPT_R
from webauth.transfer.base import TooMuchWork, TransferError
from webauth.transfer.registry import read_import

REFUSAL_CPU_SECONDS = 1.0  # a refusal comes before the costly step: far below the 10 s budget
REFUSAL_MEMORY_BYTES = 64 * 2**20
MICROSOFT_COLUMNS = "_id INTEGER PRIMARY KEY, name TEXT, username TEXT, oath_secret_key TEXT, account_type INTEGER"


@pytest.fixture
def no_key_derivation(monkeypatch: pytest.MonkeyPatch) -> list[kdf.Params]:
    """Fail the test if any key is derived; the parameters asked for are recorded."""
    asked: list[kdf.Params] = []

    def refuse(params: kdf.Params, password: bytes, salt: bytes) -> bytes:
        asked.append(params)
        raise AssertionError(f"a key was derived: {params}")

    monkeypatch.setattr(kdf, "_derive", refuse)
    return asked


@pytest.fixture
def private_tempdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temporary directory, emptied, to see what an import leaves behind."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@contextlib.contextmanager
def resources() -> Iterator[dict[str, float]]:
    """CPU seconds and peak Python memory of the block (tracemalloc), in the test process."""
    figures: dict[str, float] = {}
    tracemalloc.start()
    start = time.process_time()
    try:
        yield figures
    finally:
        figures["cpu_seconds"] = time.process_time() - start
        figures["peak_bytes"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


def markers(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(ImportInProgress))


def assert_nothing_written(app) -> None:
    assert account_count(app) == 0
    assert pending_count(app) == 0
    assert markers(app) == 0


def refused_upload(client, data: bytes, filename: str, password: str = "") -> str:
    """Upload `data` as the page does; it must be refused within the refusal budget. The page's text."""
    with resources() as used:
        response = upload(client, data=data, filename=filename, password=password)
    html = response.get_data(as_text=True)
    assert response.status_code == 422, html[:2000]
    assert "Nothing was imported" in html
    assert used["cpu_seconds"] < REFUSAL_CPU_SECONDS, used
    assert used["peak_bytes"] < REFUSAL_MEMORY_BYTES, used
    return html


@pytest.fixture
def cli(app, user):
    runner = app.test_cli_runner()

    def run(path: Path, password: str | None = None):
        args = ["accounts", "import", "--user", "alice", str(path)]
        if password is None:
            return runner.invoke(args=args)
        return runner.invoke(args=[*args, "--password-stdin"], input=f"{password}\n")

    return run


# Key derivation ------------------------------------------------------------------------------


HOSTILE_KDF_FILES = {
    "aegis-8-slots-N2^18-p16": (aegis_with_costly_slots, "aegis.json", "8 x scrypt with N=262144, r=8, p=16"),
    "ente-1GiB": (lambda: ente_export(1 << 30, 4), "ente.json", "Argon2id with 1024 MiB"),
    "bitwarden-1GiB": (lambda: bitwarden_protected({"kdfMemory": 1024, "kdfIterations": 10}), "bw.json", "1024 MiB"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_KDF_FILES))
@pytest.mark.parametrize("with_password", [False, True], ids=["no-password", "password"])
def test_costly_key_derivation_is_refused_at_upload_before_deriving(
    app, signed_in, no_key_derivation, name, with_password
):
    build, filename, asked = HOSTILE_KDF_FILES[name]
    html = refused_upload(signed_in, build(), filename, PASSWORD if with_password else "")
    assert "asks for more work than this server allows" in html
    assert asked in html
    # Refused before the password is even asked for: no pending import holds the file.
    assert no_key_derivation == []
    assert_nothing_written(app)


@pytest.mark.parametrize("name", sorted(HOSTILE_KDF_FILES))
def test_costly_key_derivation_is_refused_by_the_cli(app, cli, tmp_path, no_key_derivation, name):
    build, filename, _ = HOSTILE_KDF_FILES[name]
    path = tmp_path / filename
    path.write_bytes(build())
    result = cli(path, PASSWORD)
    assert result.exit_code != 0
    assert "more work than this server allows" in result.output
    assert no_key_derivation == []
    assert_nothing_written(app)


def test_hostile_key_derivations_cost_almost_nothing_to_refuse():
    """Measured in a child process, C allocations included: the refusal is near free."""
    for name, (build, _, _) in HOSTILE_KDF_FILES.items():
        data = build()
        cost = measured(lambda data=data: read_import(data, PASSWORD))
        assert cost.outcome.startswith("TooMuchWork"), (name, cost)
        assert cost.cpu_seconds < REFUSAL_CPU_SECONDS, (name, cost)
        assert cost.extra_memory_bytes < REFUSAL_MEMORY_BYTES, (name, cost)


def test_the_slots_of_an_aegis_vault_share_one_budget(no_key_derivation):
    """Each of 8 slots alone is within the budget; together they are not, and none is derived."""
    per_slot = limits.MAX_SCRYPT_WORK // 4
    vault = aegis_with_costly_slots(slots=8, n=per_slot // 8, r=8, p=1)
    with pytest.raises(TooMuchWork, match="8 x scrypt"):
        read_import(vault, PASSWORD)
    assert no_key_derivation == []


def test_every_importer_derives_its_keys_within_the_budget(monkeypatch, no_key_derivation):
    """With the budget at zero, every encrypted format is refused before deriving: none derives
    a key outside `kdf.Attempt`, fixed parameters included."""
    monkeypatch.setattr(kdf, "MAX_ARGON2_WORK_BYTES", 0)
    monkeypatch.setattr(kdf, "MAX_SCRYPT_WORK", 0)
    monkeypatch.setattr(kdf, "MAX_PBKDF2_ITERATIONS", 0)
    salt, content = (base64.b64encode(os.urandom(size)).decode() for size in (16, 60))
    proton = {"version": 1, "salt": salt, "content": content}
    samples = {
        "aegis": (INTEROP / "aegis_encrypted.json").read_bytes(),
        "2fas": (INTEROP / "2fas_authenticator_encrypted_v4.2fas").read_bytes(),
        "ente_encrypted": ente_export(64 * 2**20, 2),
        "bitwarden_json": bitwarden_protected({}),
        "proton_encrypted": json.dumps(proton).encode(),
        "stratum_encrypted": stratum.HEADER + os.urandom(16 + 12 + 48),
        "stratum_legacy": stratum.LEGACY_HEADER + os.urandom(20 + 16 + 48),
        "andotp": (150_000).to_bytes(4, "big") + os.urandom(12 + 12 + 48),
    }
    for name, data in samples.items():
        format_id = "stratum_encrypted" if name == "stratum_legacy" else name
        with pytest.raises(TooMuchWork, match="more work than this server allows"):
            read_import(data, PASSWORD, format_id)
    assert no_key_derivation == []


# The largest real parameters still open --------------------------------------------------------


REAL_PARAMETERS = {
    # Aegis: every slot N=2^15, r=8, p=1 (CryptoUtils); a second slot for a separate backup password.
    "aegis, two slots": [kdf.Scrypt(SCRYPT_N, SCRYPT_R, SCRYPT_P)] * 2,
    # Ente: 256 MiB x 16 today, halved memory and doubled passes on small devices.
    "ente, current": [kdf.Argon2id(256 * 1024, 16)],
    "ente, small device": [kdf.Argon2id(128 * 1024, 32)],
    "ente, smallest": [kdf.Argon2id(8, 2**19)],
    # Bitwarden: defaults, and the largest the server reads.
    "bitwarden, pbkdf2 default": [kdf.Pbkdf2("sha256", 600_000)],
    "bitwarden, pbkdf2 max": [kdf.Pbkdf2("sha256", 2_000_000)],
    "bitwarden, argon2id default": [kdf.Argon2id(64 * 1024, 3, 4)],
    "bitwarden, argon2id largest read": [kdf.Argon2id(256 * 1024, 10, 16)],
    "andotp": [kdf.Pbkdf2("sha1", 160_000)],
    "2fas, reference and services": [kdf.Pbkdf2("sha256", 10_000)] * 2,
    "proton": [kdf.Argon2id(19 * 1024, 2, 1)],
    "authenticator pro": [kdf.Argon2id(64 * 1024, 3, 4)],
    "authenticator pro, legacy": [kdf.Pbkdf2("sha1", 64_000)],
}


@pytest.mark.parametrize("name", sorted(REAL_PARAMETERS))
def test_the_parameters_the_apps_write_fit_the_budget(name):
    kdf.Attempt("This file").reserve(*REAL_PARAMETERS[name])


def test_ente_before_its_current_versions_asked_for_more_memory_than_allowed():
    """Older Ente apps wrote 1 GiB x 4 on capable devices: refused, with the way out."""
    with pytest.raises(TooMuchWork, match="current version of Ente Auth"):
        kdf.Attempt("This Ente Auth export", "Export the codes again from a current version of Ente Auth.").reserve(
            kdf.Argon2id(1024 * 1024, 4)
        )


def test_a_real_ente_export_at_its_current_parameters_opens_within_the_budget():
    """The most costly file accepted: Ente's own 256 MiB x 16. CPU within 10 s; the memory is
    Argon2id's 256 MiB, which Ente requires, and little more."""
    data = ente_export(256 * 2**20, 16, f"otpauth://totp/Acme:alice?secret={SECRET}&issuer=Acme\n".encode())
    cost = measured(lambda: read_import(data, PASSWORD))
    assert cost.outcome == "ok", cost
    assert cost.cpu_seconds < 10, cost
    assert cost.extra_memory_bytes < limits.MAX_KDF_MEMORY_BYTES + 32 * 2**20, cost


@pytest.mark.parametrize("name", GOOD_FILES)
def test_every_real_sample_file_still_imports_under_the_caps(name):
    info = EXPECTED["files"][name]
    data = (INTEROP / name).read_bytes()
    start = time.process_time()
    _, entries = read_import(data, info.get("password"))
    assert time.process_time() - start < 10
    assert len(entries) == info["count"]
    assert all(entry.spec is not None for entry in entries), [entry.problem for entry in entries]


# Microsoft Authenticator's SQLite database ----------------------------------------------------


def test_a_generated_column_is_refused_before_any_row_is_read(app, signed_in, private_tempdir):
    html = refused_upload(signed_in, microsoft_with_generated_secret(), "PhoneFactor")
    assert "generated or hidden columns" in html
    assert_nothing_written(app)
    assert list(private_tempdir.iterdir()) == []


def test_a_generated_column_is_refused_by_the_cli(app, cli, tmp_path, private_tempdir):
    path = tmp_path / "PhoneFactor"
    path.write_bytes(microsoft_with_generated_secret())
    result = cli(path)
    assert result.exit_code != 0 and "generated or hidden columns" in result.output
    assert_nothing_written(app)
    assert list(private_tempdir.iterdir()) == []


def test_a_generated_column_costs_almost_nothing_to_refuse():
    data = microsoft_with_generated_secret(rows=3, blob_bytes=2**28)
    cost = measured(lambda: read_import(data))
    assert cost.outcome.startswith("TransferError") and "generated or hidden" in cost.outcome, cost
    assert cost.cpu_seconds < REFUSAL_CPU_SECONDS, cost
    assert cost.extra_memory_bytes < REFUSAL_MEMORY_BYTES, cost


def test_a_virtual_table_is_refused():
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE VIRTUAL TABLE accounts USING fts5(name, username, oath_secret_key, account_type)")
    data = connection.serialize()
    with pytest.raises(TransferError, match="virtual table"):
        read_import(data)


def test_no_value_may_be_larger_than_the_app_ever_writes():
    """SQLITE_LIMIT_LENGTH: a value beyond it stops the query, whether stored or computed."""
    big = "A" * (limits.SQLITE_MAX_VALUE_BYTES + 1)
    with pytest.raises(TransferError, match="larger than 64 KiB"):
        read_import(microsoft_plain(MICROSOFT_COLUMNS, [("Acme", "alice", big, 0)]))


def test_the_rows_read_hold_no_more_text_than_a_file_may():
    """A long DEFAULT applies to every row that lacks the column: the text read is bounded."""
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE accounts (_id INTEGER PRIMARY KEY, name TEXT, username TEXT, account_type INT)")
    connection.executemany("INSERT INTO accounts (name, username, account_type) VALUES ('n', 'u', 0)", [()] * 200)
    connection.execute("PRAGMA writable_schema = ON")
    default = "A" * 60_000
    connection.execute(
        "UPDATE sqlite_master SET sql = ? WHERE name = 'accounts'",
        (
            "CREATE TABLE accounts (_id INTEGER PRIMARY KEY, name TEXT, username TEXT, account_type INT,"
            f" oath_secret_key TEXT DEFAULT '{default}')",
        ),
    )
    connection.commit()
    with pytest.raises(TransferError, match="more text than an import may"):
        read_import(connection.serialize())


def test_a_schema_error_whose_text_is_not_utf8_is_refused_as_damaged():
    """SQLite quotes the broken schema in its error, which Python then fails to decode."""
    connection = sqlite3.connect(":memory:")
    connection.execute(f"CREATE TABLE accounts ({MICROSOFT_COLUMNS})")
    connection.execute("PRAGMA writable_schema = ON")
    sql = f"CREATE TABLE accounts ({MICROSOFT_COLUMNS}, note TEXT NOT \xceULL)".encode("latin-1")
    connection.execute("UPDATE sqlite_master SET sql = CAST(? AS TEXT) WHERE name = 'accounts'", (sql,))
    connection.commit()
    with pytest.raises(TransferError, match="damaged"):
        read_import(connection.serialize())


def test_the_real_database_still_imports():
    _, entries = read_import((INTEROP / "microsoft_authenticator.sqlite").read_bytes())
    assert len(entries) == EXPECTED["files"]["microsoft_authenticator.sqlite"]["count"]


# Icons --------------------------------------------------------------------------------------


def icons_stored(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(AccountIcon).where(AccountIcon.kind == "custom"))


def import_through_pages(client, data: bytes) -> str:
    token = token_of(upload(client, data=data, filename="aegis.json"))
    page = client.get(f"/transfer/import/{token}").get_data(as_text=True)
    response = confirm(client, token, picks(page))
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    return response.get_data(as_text=True)


def test_huge_icons_are_left_out_without_being_decoded(app, signed_in, monkeypatch):
    """A 4096 x 4096 PNG is a few hundred bytes: its header is read, its pixels never are."""
    decoded: list[int] = []
    normalise = icons.normalise_image

    def counting(data: bytes) -> bytes:
        decoded.append(len(data))
        return normalise(data)

    monkeypatch.setattr(icons, "normalise_image", counting)
    vault = aegis_with_icons(200, png(4096, 4096, "1"))
    with resources() as used:
        import_through_pages(signed_in, vault)
    assert account_count(app) == 200
    assert icons_stored(app) == 0 and decoded == []
    assert used["cpu_seconds"] < 10, used


def test_at_most_a_few_hundred_icons_are_kept_and_every_account_imports(app, signed_in):
    vault = aegis_with_icons(limits.MAX_IMPORTED_ICONS + 50, png(64, 64))
    import_through_pages(signed_in, vault)
    assert account_count(app) == limits.MAX_IMPORTED_ICONS + 50
    assert icons_stored(app) == limits.MAX_IMPORTED_ICONS


def test_a_broken_icon_is_left_out_and_its_account_imports():
    _, [entry] = read_import(aegis_with_icons(1, b"\x89PNG\r\n\x1a\n broken"))
    assert entry.spec is not None and entry.spec.icon is None


def test_icons_within_the_budget_cost_little_to_add():
    """The worst a file can carry: the most icons, each of the most pixels. Measured end to end
    of their decoding (`normalise_image`, as the vault runs it when the accounts are added)."""
    side = int(limits.MAX_IMPORTED_ICON_PIXELS**0.5)
    _, entries = read_import(aegis_with_icons(limits.MAX_IMPORTED_ICONS, png(side, side)))
    kept = [entry.spec.icon for entry in entries if entry.spec is not None and entry.spec.icon]
    assert len(kept) == limits.MAX_IMPORTED_ICONS
    cost = measured(lambda: [icons.normalise_image(icon) for icon in kept])
    assert cost.outcome == "ok" and cost.cpu_seconds < 5, cost
    assert cost.extra_memory_bytes < 64 * 2**20, cost
