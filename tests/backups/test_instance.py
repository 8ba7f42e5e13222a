"""`flask backup instance` and `flask restore instance`: a whole SQLite instance, its database and
keyring sealed under a passphrase, restored into an empty folder where every vault opens again.

These tests make their own SQLite instances (the suite's database may be PostgreSQL)."""

from __future__ import annotations

import sqlite3
import stat
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import FROZEN_AT
from webauth import create_app, users
from webauth.backups import instance as instance_backup
from webauth.extensions import db
from webauth.keys import keyring
from webauth.models import User
from webauth.otp import code_at
from webauth.otpauth import parse_uri
from webauth.vault import Vault

PASSPHRASE = "a long instance passphrase"
URIS = [
    "otpauth://totp/Acme:alice?secret=JBSWY3DPEHPK3PXP&issuer=Acme",
    "otpauth://hotp/Initech:alice?secret=GEZDGNBVGY3TQOJQ&issuer=Initech&counter=7",
]


def sqlite_app(folder: Path):
    """An app on its own instance folder: SQLite there, the keyring in keyring.json there."""
    return create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(folder),
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'webauth.db'}",
            "WEBAUTH_KEYS": None,
            "WEBAUTH_KEYRING_PATH": folder / "keyring.json",
            "SECRET_KEY": "test",
        }
    )


def codes(app) -> dict[str, str]:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "alice"))
        vault = Vault(user, keyring())
        return {account.issuer: code_at(vault.params(account), FROZEN_AT) for account in vault.accounts()}


@pytest.fixture
def source(tmp_path):
    app = sqlite_app(tmp_path / "source")
    runner = app.test_cli_runner()
    made = runner.invoke(args=["users", "create", "alice", "--password-stdin"], input="correct horse battery\n")
    assert made.exit_code == 0
    with app.app_context():
        vault = Vault(users.find_user("alice"), keyring())
        for uri in URIS:
            vault.add(parse_uri(uri))
        db.session.commit()
    yield app
    with app.app_context():
        db.engine.dispose()


def test_an_instance_backup_restores_into_an_empty_folder_with_every_vault(source, tmp_path):
    before = codes(source)
    out = tmp_path / "instance.webauth-backup"
    made = source.test_cli_runner().invoke(args=["backup", "instance", "--out", str(out)], input=PASSPHRASE + "\n")
    assert made.exit_code == 0, made.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    data = out.read_bytes()
    assert data.startswith(instance_backup.MAGIC)
    # Sealed: neither the keyring nor the database shows through.
    keyring_json = (tmp_path / "source" / "keyring.json").read_text()
    assert keyring_json.split('"k1": "')[1][:20].encode() not in data and b"SQLite format 3" not in data

    target = sqlite_app(tmp_path / "target")
    restored = target.test_cli_runner().invoke(args=["restore", "instance", str(out)], input=PASSPHRASE + "\n")
    assert restored.exit_code == 0, restored.output
    assert stat.S_IMODE((tmp_path / "target" / "webauth.db").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "target" / "keyring.json").stat().st_mode) == 0o600
    with target.app_context():
        db.engine.dispose()
    reopened = sqlite_app(tmp_path / "target")  # as the restarted app: the restored keyring
    assert codes(reopened) == before and len(before) == 2
    with reopened.app_context():
        assert users.authenticate("alice", "correct horse battery") is not None
        db.engine.dispose()


def test_a_restore_refuses_a_folder_that_holds_an_instance(source, tmp_path):
    out = tmp_path / "instance.webauth-backup"
    source.test_cli_runner().invoke(args=["backup", "instance", "--out", str(out)], input=PASSPHRASE + "\n")
    codes_before, keyring_before = codes(source), (tmp_path / "source" / "keyring.json").read_bytes()
    refused = source.test_cli_runner().invoke(args=["restore", "instance", str(out)], input=PASSPHRASE + "\n")
    assert refused.exit_code != 0 and "is not empty" in refused.output
    assert codes(source) == codes_before and (tmp_path / "source" / "keyring.json").read_bytes() == keyring_before


def test_a_wrong_passphrase_or_an_altered_file_restores_nothing(source, tmp_path):
    out = tmp_path / "instance.webauth-backup"
    source.test_cli_runner().invoke(args=["backup", "instance", "--out", str(out)], input=PASSPHRASE + "\n")
    target = sqlite_app(tmp_path / "target")
    wrong = target.test_cli_runner().invoke(args=["restore", "instance", str(out)], input="not the passphrase\n")
    assert wrong.exit_code != 0 and "wrong passphrase" in wrong.output
    altered = tmp_path / "altered"
    data = bytearray(out.read_bytes())
    data[-5] ^= 1
    altered.write_bytes(bytes(data))
    broken = target.test_cli_runner().invoke(args=["restore", "instance", str(altered)], input=PASSPHRASE + "\n")
    assert broken.exit_code != 0 and "altered or damaged" in broken.output
    with closing(sqlite3.connect(tmp_path / "target" / "webauth.db")) as connection:
        assert connection.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone() == (0,)
    with target.app_context():
        db.engine.dispose()


def test_a_short_passphrase_and_an_existing_file_are_refused(source, tmp_path):
    out = tmp_path / "instance.webauth-backup"
    short = source.test_cli_runner().invoke(args=["backup", "instance", "--out", str(out)], input="short\n")
    assert short.exit_code != 0 and "at least 12" in short.output and not out.exists()
    out.write_text("keep me")
    exists = source.test_cli_runner().invoke(args=["backup", "instance", "--out", str(out)], input=PASSPHRASE + "\n")
    assert exists.exit_code != 0 and out.read_text() == "keep me"


def test_two_backups_to_the_same_file_at_once_never_overwrite_each_other(source, tmp_path, monkeypatch):
    """Two operators run `backup instance --out` to one name: both find it free; the other run's
    file lands while this one seals its own. This one refuses; the other's file stays whole."""
    out = tmp_path / "instance.webauth-backup"
    seal = instance_backup.write_backup
    others = []

    def the_other_finishes_first(*args, **kwargs):
        data = seal(*args, **kwargs)
        others.append(seal(*args, **kwargs))
        instance_backup.write_private(out, others[0], replace=False)
        return data

    monkeypatch.setattr(instance_backup, "write_backup", the_other_finishes_first)
    second = source.test_cli_runner().invoke(args=["backup", "instance", "--out", str(out)], input=PASSPHRASE + "\n")
    assert second.exit_code != 0 and "exists already" in second.output
    assert out.read_bytes() == others[0]
    assert set(instance_backup.open_backup(out.read_bytes(), PASSPHRASE)) == {
        "webauth.db", "keyring.json", "manifest.json"
    }
    assert [path.name for path in tmp_path.iterdir() if path.name.endswith(".tmp")] == []


def test_postgresql_gets_the_pg_dump_hint(app):
    app.config["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://webauth@127.0.0.1/webauth"
    runner = app.test_cli_runner()
    result = runner.invoke(args=["backup", "instance", "--out", "/nonexistent/x"], input=PASSPHRASE + "\n")
    assert result.exit_code != 0 and "pg_dump" in result.output
