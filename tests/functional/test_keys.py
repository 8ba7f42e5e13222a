"""Encryption at rest, end to end: rotation, retirement, moved ciphertexts, the database file."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import select, update

from webauth import create_app
from webauth.crypto import DecryptionError, Keyring
from webauth.extensions import db
from webauth.keys import keyring
from webauth.models import Account, User
from webauth.otp import code_at
from webauth.otpauth import decode_secret, parse_uri
from webauth.users import create_local_user
from webauth.vault import Vault

SECRETS = ["JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"]
MOMENT = 1_700_000_000


@pytest.fixture
def file_keyring_config(app_config, tmp_path):
    """The default set-up: the keyring is a file in the instance folder, not WEBAUTH_KEYS."""
    return {**app_config, "WEBAUTH_KEYS": None, "INSTANCE_PATH": str(tmp_path / "instance")}


def codes_of(config: dict, username: str = "alice") -> list[str]:
    """The codes a freshly started app computes: a restart reads the keyring from disk again."""
    app = create_app(dict(config))
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        vault = Vault(user, keyring())
        return [code_at(vault.params(account), MOMENT) for account in vault.accounts()]


def seed(config: dict) -> list[str]:
    app = create_app(dict(config))
    with app.app_context():
        user = create_local_user("alice", "correct horse battery", keyring())
        vault = Vault(user, keyring())
        for index, secret in enumerate(SECRETS):
            vault.add(parse_uri(f"otpauth://totp/Issuer{index}:alice?secret={secret}"))
        db.session.commit()
    return codes_of(config)


def cli(config: dict, *args: str):
    app = create_app(dict(config))
    return app.test_cli_runner().invoke(args=list(args))


def test_rotation_then_retirement_keeps_every_code(file_keyring_config):
    before = seed(file_keyring_config)
    assert len(before) == 2

    rotated = cli(file_keyring_config, "keys", "rotate")
    assert rotated.exit_code == 0, rotated.output
    assert re.search(r"new primary key k\d{8}T\d{6}-[0-9a-f]{6}; rewrapped 1 data keys", rotated.output)
    new = rotated.output.split()[3].rstrip(";")
    assert codes_of(file_keyring_config) == before

    retired = cli(file_keyring_config, "keys", "retire", "k1")
    assert retired.exit_code == 0, retired.output
    assert codes_of(file_keyring_config) == before
    listing = cli(file_keyring_config, "keys", "list").output
    assert "k1 " not in listing and new in listing


def test_a_key_still_in_use_cannot_be_retired(file_keyring_config):
    seed(file_keyring_config)
    ring_path = file_keyring_config["INSTANCE_PATH"] + "/keyring.json"
    ring = Keyring.load_or_create(Path(ring_path))
    ring.add_primary()
    ring.save()  # a new primary, but nothing rewrapped yet
    refused = cli(file_keyring_config, "keys", "retire", "k1")
    assert refused.exit_code != 0
    assert "still wrapped under k1" in refused.output
    assert len(codes_of(file_keyring_config)) == 2


def test_a_sealed_secret_moved_to_another_account_or_user_does_not_open(app, make_user):
    make_user("alice")
    make_user("bob")
    with app.app_context():
        alice = db.session.scalar(select(User).where(User.username == "alice"))
        bob = db.session.scalar(select(User).where(User.username == "bob"))
        first = Vault(alice, keyring()).add(parse_uri(f"otpauth://totp/A:alice?secret={SECRETS[0]}"))
        second = Vault(alice, keyring()).add(parse_uri(f"otpauth://totp/B:alice?secret={SECRETS[1]}"))
        bobs = Vault(bob, keyring()).add(parse_uri(f"otpauth://totp/C:bob?secret={SECRETS[1]}"))
        db.session.commit()
        sealed, first_uuid, second_uuid, bobs_uuid = first.secret_sealed, first.uuid, second.uuid, bobs.uuid
        for target in (second_uuid, bobs_uuid):
            db.session.execute(update(Account).where(Account.uuid == target).values(secret_sealed=sealed))
        db.session.commit()
    with app.app_context():
        alice = db.session.scalar(select(User).where(User.username == "alice"))
        bob = db.session.scalar(select(User).where(User.username == "bob"))
        assert Vault(alice, keyring()).params(Vault(alice, keyring()).get(first_uuid)).secret == decode_secret(
            SECRETS[0]
        )
        with pytest.raises(DecryptionError):
            vault = Vault(alice, keyring())
            vault.params(vault.get(second_uuid))
        with pytest.raises(DecryptionError):
            vault = Vault(bob, keyring())
            vault.params(vault.get(bobs_uuid))


def test_the_database_holds_no_secret_in_clear(app, make_user, database_url):
    make_user("alice")
    with app.app_context():
        alice = db.session.scalar(select(User).where(User.username == "alice"))
        for secret in SECRETS:
            Vault(alice, keyring()).add(parse_uri(f"otpauth://totp/X:{secret[:4]}?secret={secret}"))
        db.session.commit()
    needles = []
    for secret in SECRETS:
        raw = decode_secret(secret)
        needles += [secret.encode(), secret.lower().encode(), raw, raw.hex().encode()]
    engine = sa.create_engine(database_url)
    if engine.dialect.name == "sqlite":
        path = engine.url.database
        time.sleep(0.1)
        content = b"".join(
            open(candidate, "rb").read()  # noqa: SIM115 - read whole files once
            for candidate in (path, path + "-wal")
            if os.path.exists(candidate)
        )
    else:
        with engine.connect() as conn:
            tables = [table.name for table in db.metadata.sorted_tables]
            content = "\n".join(
                str(row)
                for table in tables  # our own table names, not input
                for row in conn.execute(sa.text(f'SELECT t::text FROM "{table}" t'))  # noqa: S608
            ).encode()
    engine.dispose()
    assert len(content) > 1000
    found = [needle for needle in needles if needle in content]
    assert found == []


def test_a_rotation_makes_the_new_key_durable_before_wrapping_under_it(file_keyring_config, monkeypatch):
    """A crash after a data key is rewrapped must not lose the key it now needs: the keyring file
    and its folder's entry are synced to disk before the first data key is wrapped under the new key."""
    seed(file_keyring_config)
    instance = Path(file_keyring_config["INSTANCE_PATH"]).resolve()
    events: list[str] = []
    real_fsync, real_wrap = os.fsync, Keyring.wrap_data_key

    def fsync(fd: int) -> None:
        real_fsync(fd)
        synced = Path(os.readlink(f"/proc/self/fd/{fd}"))
        if synced == instance:
            events.append("folder")
        elif synced.parent == instance and "keyring.json" in synced.name:
            events.append("file")

    def wrap(ring: Keyring, user_id: int, dek: bytes):
        events.append("wrap")
        return real_wrap(ring, user_id, dek)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(Keyring, "wrap_data_key", wrap)
    rotated = cli(file_keyring_config, "keys", "rotate")
    assert rotated.exit_code == 0, rotated.output
    assert events[:3] == ["file", "folder", "wrap"], events
