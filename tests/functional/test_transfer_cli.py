"""`flask accounts import` and `flask accounts export`: Click's runner on the app, and the real command once."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import func, select

from tests.support.transfer_flow import (
    HOTP_C,
    INTEROP,
    TOTP_A,
    TOTP_B,
    account_fields,
    add_accounts,
    audit_events,
    stored,
)
from webauth.extensions import db
from webauth.models import Account
from webauth.otpauth import encode_secret, parse_uri
from webauth.transfer.google import parse_migration_uri
from webauth.transfer.registry import read_import

# Only QR codes, as the app reads them: a dense code can also pass for a line of another format.
QR_ONLY = zxingcpp.BarcodeFormat.QRCode

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli(app, user):
    runner = app.test_cli_runner()  # Click 8.2 and later keep stderr apart from stdout

    def run(*args: str, input: str | None = None):
        return runner.invoke(args=list(args), input=input)

    return run


def count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Account))


# Import ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "password", "added"),
    [
        ("plain.txt", None, 7),
        ("google_migration_example.png", None, 3),
        ("aegis_encrypted.json", "test", 7),
        ("microsoft_authenticator.sqlite", None, 7),
    ],
)
def test_import_reads_any_format_and_adds_every_entry(app, cli, name, password, added):
    args = ["accounts", "import", "--user", "alice", str(INTEROP / name)]
    result = cli(*args, "--password-stdin", input=f"{password}\n") if password else cli(*args)
    assert result.exit_code == 0, result.output
    assert f"imported {added} accounts" in result.stdout
    _, entries = read_import((INTEROP / name).read_bytes(), password)
    unique = {account_fields(entry.spec)[:4]: account_fields(entry.spec) for entry in entries}
    assert stored(app) == sorted(unique.values())
    [details] = audit_events(app, "import")
    assert details["added"] == added and details["via"] == "cli"


def test_import_skips_what_the_vault_holds_and_says_so(app, cli):
    result = cli("accounts", "import", "--user", "alice", str(INTEROP / "plain.txt"))
    assert result.exit_code == 0
    again = cli("accounts", "import", "--user", "alice", str(INTEROP / "plain.txt"))
    assert again.exit_code == 0 and "imported 0 accounts" in again.stdout and "skipped 7 already" in again.stdout


def test_import_with_a_chosen_format(app, cli, tmp_path):
    path = tmp_path / "codes.dat"
    path.write_text(f"{TOTP_A}\n{TOTP_B}\n")
    result = cli("accounts", "import", "--user", "alice", "--format", "otpauth", str(path))
    assert result.exit_code == 0 and count(app) == 2
    wrong = cli("accounts", "import", "--user", "alice", "--format", "aegis", str(path))
    assert wrong.exit_code != 0 and "nothing imported" in wrong.stderr


@pytest.mark.parametrize(
    ("args", "input", "message"),
    [
        (["aegis_encrypted.json"], None, "give its password on standard input"),
        (["--password-stdin", "aegis_encrypted.json"], "wrong\n", "Wrong password"),
        (["google_migration_bad_prefix.txt", "--format", "aegis"], None, "nothing imported"),
        (["expected.json"], None, "not recognised"),
    ],
)
def test_import_errors_go_to_stderr_and_import_nothing(app, cli, args, input, message):
    paths = [str(INTEROP / arg) if arg.endswith((".json", ".txt")) else arg for arg in args]
    result = cli("accounts", "import", "--user", "alice", *paths, input=input)
    assert result.exit_code == 1
    assert message in result.stderr and result.stdout == ""
    assert count(app) == 0 and audit_events(app, "import") == []


def test_import_refuses_a_file_over_the_limit_and_an_unknown_user(app, cli, tmp_path):
    big = tmp_path / "big.txt"
    big.write_bytes(b"#" * (5 * 1024 * 1024 + 1))
    result = cli("accounts", "import", "--user", "alice", str(big))
    assert result.exit_code == 1 and "at most 5 MB" in result.stderr
    nobody = cli("accounts", "import", "--user", "nobody", str(INTEROP / "plain.txt"))
    assert nobody.exit_code == 1 and "no user named" in nobody.stderr
    assert count(app) == 0


# Export ------------------------------------------------------------------------------------


def test_export_writes_private_files_that_import_back(app, cli, tmp_path, make_user):
    add_accounts(app, [TOTP_A, TOTP_B, HOTP_C])
    make_user("bob")
    for fmt in ("aegis", "otpauth"):
        out = tmp_path / f"export-{fmt}"
        result = cli("accounts", "export", "--user", "alice", "--format", fmt, "--out", str(out))
        assert result.exit_code == 0, result.output
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
        assert cli("accounts", "import", "--user", "bob", str(out)).exit_code == 0
        assert stored(app, "bob") == stored(app, "alice")
    assert [event["format"] for event in audit_events(app, "export")] == ["aegis", "otpauth"]
    assert all(event["source"] == "cli" for event in audit_events(app, "export"))


def test_the_encrypted_backup_needs_a_good_password(app, cli, tmp_path, make_user):
    add_accounts(app, [TOTP_A, HOTP_C])
    out = tmp_path / "backup.json"
    base = ["accounts", "export", "--user", "alice", "--format", "aegis-encrypted", "--out", str(out)]
    missing = cli(*base)
    assert missing.exit_code == 1 and "--password-stdin" in missing.stderr
    short = cli(*base, "--password-stdin", input="short\n")
    assert short.exit_code == 1 and "at least 8" in short.stderr
    assert not out.exists() and audit_events(app, "export") == []

    assert cli(*base, "--password-stdin", input="a long backup pw\n").exit_code == 0
    assert json.loads(out.read_text())["header"]["slots"][0]["type"] == 1
    make_user("bob")
    restore = cli("accounts", "import", "--user", "bob", "--password-stdin", str(out), input="a long backup pw\n")
    assert restore.exit_code == 0 and stored(app, "bob") == stored(app, "alice")


def test_google_qr_writes_numbered_png_files(app, cli, tmp_path):
    uris = [f"otpauth://totp/S{i}:u{i}?secret={encode_secret(bytes([i + 1]) * 10)}&issuer=S{i}" for i in range(25)]
    add_accounts(app, [*uris, "otpauth://totp/Steam:me?secret=JBSWY3DPEHPK3PXP&issuer=Steam&encoder=steam"])
    result = cli("accounts", "export", "--user", "alice", "--format", "google-qr", "--out", str(tmp_path / "move.png"))
    assert result.exit_code == 0, result.output
    assert "cannot hold Steam: me" in result.stderr
    files = sorted(tmp_path.glob("move-*.png"))
    assert [path.name for path in files] == ["move-1-of-3.png", "move-2-of-3.png", "move-3-of-3.png"]
    accounts = []
    for path in files:
        [barcode] = zxingcpp.read_barcodes(Image.open(io.BytesIO(path.read_bytes())), formats=QR_ONLY)
        accounts += [account_fields(entry.spec) for entry in parse_migration_uri(barcode.text, path.name).entries]
    assert sorted(accounts) == sorted(account_fields(parse_uri(uri)) for uri in uris)


def test_nothing_is_half_written(app, cli, tmp_path):
    add_accounts(app, [TOTP_A])
    missing = tmp_path / "no such folder" / "out.json"
    result = cli("accounts", "export", "--user", "alice", "--format", "aegis", "--out", str(missing))
    assert result.exit_code == 1 and "does not exist" in result.stderr
    assert list(tmp_path.iterdir()) == []
    assert audit_events(app, "export") == []


def test_the_real_command_line(app, user, base_config, tmp_path):
    """The installed `flask` entry point, as an operator runs it, on the test database."""
    env = {
        **os.environ,
        "WEBAUTH_DATABASE_URL": base_config["SQLALCHEMY_DATABASE_URI"],
        "WEBAUTH_KEYS": base_config["WEBAUTH_KEYS"],
        "WEBAUTH_SECRET_KEY": base_config["SECRET_KEY"],
        "WEBAUTH_INSTANCE_PATH": str(tmp_path),
    }
    flask = [str(ROOT / ".venv" / "bin" / "flask"), "--app", "wsgi", "accounts"]
    backup = str(INTEROP / "2fas_authenticator_encrypted_v4.2fas")
    wrong = subprocess.run(
        [*flask, "import", "--user", "alice", "--password-stdin", backup],
        input="nope\n", capture_output=True, text=True, cwd=ROOT, env=env, timeout=120, check=False,
    )
    assert wrong.returncode == 1 and "Wrong password" in wrong.stderr and count(app) == 0
    right = subprocess.run(
        [*flask, "import", "--user", "alice", "--password-stdin", backup],
        input="test\n", capture_output=True, text=True, cwd=ROOT, env=env, timeout=120, check=False,
    )
    assert right.returncode == 0, right.stderr
    assert "imported 5 accounts" in right.stdout and count(app) == 5
