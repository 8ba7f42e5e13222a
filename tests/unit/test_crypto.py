"""Envelope encryption: sealing bound to user and account, wrapping bound to user and key."""

from __future__ import annotations

import json
import os
import stat

import pytest

from webauth.crypto import DecryptionError, Keyring, KeyringError, open_secret, seal_secret

SECRET = b"12345678901234567890"


def test_a_sealed_secret_opens_only_for_its_user_and_account():
    dek = os.urandom(32)
    sealed = seal_secret(dek, 7, "account-a", SECRET)
    assert SECRET not in sealed
    assert open_secret(dek, 7, "account-a", sealed) == SECRET
    with pytest.raises(DecryptionError):
        open_secret(dek, 7, "account-b", sealed)
    with pytest.raises(DecryptionError):
        open_secret(dek, 8, "account-a", sealed)
    with pytest.raises(DecryptionError):
        open_secret(os.urandom(32), 7, "account-a", sealed)


def test_tampering_and_unknown_versions_are_refused():
    dek = os.urandom(32)
    sealed = bytearray(seal_secret(dek, 1, "a", SECRET))
    sealed[-1] ^= 1
    with pytest.raises(DecryptionError):
        open_secret(dek, 1, "a", bytes(sealed))
    with pytest.raises(DecryptionError):
        open_secret(dek, 1, "a", b"\x02" + bytes(sealed[1:]))
    with pytest.raises(DecryptionError):
        open_secret(dek, 1, "a", b"\x01short")


def test_each_seal_uses_a_fresh_nonce():
    dek = os.urandom(32)
    assert seal_secret(dek, 1, "a", SECRET) != seal_secret(dek, 1, "a", SECRET)


def test_data_keys_are_bound_to_their_user_and_key_id(tmp_path):
    ring = Keyring.load_or_create(tmp_path / "keyring.json")
    kek_id, wrapped, dek = ring.new_data_key(1)
    assert ring.unwrap_data_key(1, kek_id, wrapped) == dek
    with pytest.raises(DecryptionError):
        ring.unwrap_data_key(2, kek_id, wrapped)
    ring.add_primary()
    ring.keys["k2"] = ring.keys[kek_id]  # same key bytes, other id: the id is authenticated too
    with pytest.raises(DecryptionError):
        ring.unwrap_data_key(1, "k2", wrapped)


def test_the_keyring_file_is_private_and_survives_a_reload(tmp_path):
    path = tmp_path / "keyring.json"
    ring = Keyring.load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    ring.add_primary()
    ring.save()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = Keyring.load_or_create(path)
    assert again.primary == "k2" and set(again.keys) == {"k1", "k2"}


def test_a_process_sees_a_key_another_process_added(tmp_path):
    path = tmp_path / "keyring.json"
    old = Keyring.load_or_create(path)
    other = Keyring.load_or_create(path)
    other.add_primary()
    other.save()
    kek_id, wrapped, dek = other.new_data_key(5)
    assert kek_id == "k2"
    assert old.unwrap_data_key(5, kek_id, wrapped) == dek


def test_a_process_wraps_new_data_keys_under_a_primary_another_process_added(tmp_path):
    path = tmp_path / "keyring.json"
    running = Keyring.load_or_create(path)
    rotator = Keyring.load_or_create(path)
    rotator.add_primary()
    rotator.save()
    kek_id, wrapped, dek = running.new_data_key(9)
    assert kek_id == "k2"
    assert rotator.unwrap_data_key(9, kek_id, wrapped) == dek


def test_the_primary_cannot_be_retired_and_bad_keyrings_are_named(tmp_path):
    ring = Keyring.load_or_create(tmp_path / "keyring.json")
    with pytest.raises(KeyringError):
        ring.retire(ring.primary)
    with pytest.raises(KeyringError, match="WEBAUTH_KEYS"):
        Keyring.from_json("not json")
    with pytest.raises(KeyringError, match="32 bytes"):
        Keyring.from_json(json.dumps({"primary": "k1", "keys": {"k1": "AAAA"}}))
    with pytest.raises(KeyringError, match="primary"):
        Keyring.from_json(json.dumps({"primary": "k9", "keys": {}}))



def test_password_hash_cost():
    """Production passwords use Argon2id with RFC 9106's low-memory profile."""
    from argon2 import Type

    from webauth.users import production_hasher

    hasher = production_hasher()
    assert hasher.type is Type.ID
    assert (hasher.time_cost, hasher.memory_cost, hasher.parallelism) == (3, 65536, 4)
