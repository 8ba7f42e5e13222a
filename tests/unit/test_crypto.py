"""Envelope encryption: sealing bound to user and account, wrapping bound to user and key."""

from __future__ import annotations

import base64
import json
import os
import re
import stat
from pathlib import Path

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
    new = ring.add_primary()
    ring.save()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = Keyring.load_or_create(path)
    assert again.primary == new and set(again.keys) == {"k1", new}
    assert {p.name for p in tmp_path.iterdir()} == {
        "keyring.json", "keyring.json.lock"
    }  # no temporary file left behind


def test_new_key_ids_never_collide(tmp_path):
    """Two keyrings read before either adds a key still name their new keys apart (not both "k2")."""
    path = tmp_path / "keyring.json"
    first, second = Keyring.load_or_create(path), Keyring.load_or_create(path)
    assert first.add_primary() != second.add_primary()
    assert len({Keyring.load_or_create(path).add_primary() for _ in range(200)}) == 200


def test_a_process_sees_a_key_another_process_added(tmp_path):
    path = tmp_path / "keyring.json"
    old = Keyring.load_or_create(path)
    other = Keyring.load_or_create(path)
    new = other.add_primary()
    other.save()
    kek_id, wrapped, dek = other.new_data_key(5)
    assert kek_id == new
    assert old.unwrap_data_key(5, kek_id, wrapped) == dek


def test_a_process_wraps_new_data_keys_under_a_primary_another_process_added(tmp_path):
    path = tmp_path / "keyring.json"
    running = Keyring.load_or_create(path)
    rotator = Keyring.load_or_create(path)
    new = rotator.add_primary()
    rotator.save()
    kek_id, wrapped, dek = running.new_data_key(9)
    assert kek_id == new
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



# The edges: exact refusals, the keyring of the environment, first run and reloads -------------


def _b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def _env_keyring(**keys: bytes) -> Keyring:
    keys = keys or {"k1": os.urandom(32)}
    return Keyring.from_json(json.dumps({"primary": next(iter(keys)), "keys": {k: _b64(v) for k, v in keys.items()}}))


def test_an_empty_secret_seals_into_the_shortest_valid_form():
    dek = os.urandom(32)
    sealed = seal_secret(dek, 1, "a", b"")
    assert len(sealed) == 1 + 12 + 16  # version, nonce, tag: the bound below which nothing is a sealed secret
    assert open_secret(dek, 1, "a", sealed) == b""
    with pytest.raises(DecryptionError) as short:
        open_secret(dek, 1, "a", sealed[:-1])
    assert str(short.value) == "the sealed secret has an unknown format"
    with pytest.raises(DecryptionError) as moved:
        open_secret(dek, 1, "b", sealed)
    assert str(moved.value) == "the sealed secret does not open for this user and account"


def test_a_data_key_under_another_users_name_is_refused_by_name():
    ring = _env_keyring()
    kek_id, wrapped, _dek = ring.new_data_key(1)
    with pytest.raises(DecryptionError) as refused:
        ring.unwrap_data_key(2, kek_id, wrapped)
    assert str(refused.value) == "the data key of user 2 does not open under key 'k1'"


def test_the_keyring_of_the_environment_wraps_and_names_a_missing_key():
    ring = _env_keyring()
    kek_id, wrapped, dek = ring.new_data_key(3)
    assert ring.unwrap_data_key(3, kek_id, wrapped) == dek
    with pytest.raises(KeyringError) as missing:
        ring.key("k9")
    assert str(missing.value) == "key 'k9' is not in the keyring; was it retired too early?"
    with pytest.raises(KeyringError) as unsaved:
        ring.save()
    assert str(unsaved.value) == "this keyring comes from WEBAUTH_KEYS; update the variable instead"


def test_a_new_primary_has_an_id_of_its_own():
    """Time and random characters, never "the next number": two keyrings each adding a key name them apart."""
    keys = {"k1": os.urandom(32), "kold": os.urandom(32), "7": os.urandom(32)}
    ring, twin = _env_keyring(**keys), _env_keyring(**keys)
    new_id = ring.add_primary()
    assert re.fullmatch(r"k\d{8}T\d{6}-[0-9a-f]{6}", new_id) and len(new_id) <= 32  # users.kek_id is 32 wide
    assert ring.primary == new_id and len(ring.keys[new_id]) == 32 and set(keys) < set(ring.keys)
    assert twin.add_primary() != new_id


def test_retiring_removes_only_an_old_key(tmp_path):
    ring = Keyring.load_or_create(tmp_path / "keyring.json")
    new_id = ring.add_primary()
    ring.retire("k1")
    assert set(ring.keys) == {new_id}
    with pytest.raises(KeyringError) as primary:
        ring.retire(new_id)
    assert str(primary.value) == "the primary key cannot be retired; rotate first"
    with pytest.raises(KeyringError) as unknown:
        ring.retire("k1")
    assert str(unknown.value) == "key 'k1' is not in the keyring"


def test_bad_base64_is_refused_and_the_message_names_the_keyrings_origin(tmp_path):
    text = json.dumps({"primary": "k1", "keys": {"k1": _b64(os.urandom(32)) + "!"}})
    with pytest.raises(KeyringError) as from_env:
        Keyring.from_json(text)
    assert str(from_env.value) == "WEBAUTH_KEYS is not a valid keyring (Error)"
    path = tmp_path / "keyring.json"
    with pytest.raises(KeyringError) as from_file:
        Keyring.from_json(text, path=path)
    assert str(from_file.value) == f"{path} is not a valid keyring (Error)"


def test_the_keyring_file_is_indented_json(tmp_path):
    key = bytes(range(32))
    ring = Keyring(keys={"k1": key}, primary="k1")
    assert ring.to_json() == '{\n  "primary": "k1",\n  "keys": {\n    "k1": "' + _b64(key) + '"\n  }\n}'


def test_a_second_process_at_first_run_uses_the_key_the_first_one_saved(tmp_path, monkeypatch):
    path = tmp_path / "keyring.json"
    first = Keyring.load_or_create(path)
    real_exists = Path.exists

    def not_yet(self: Path) -> bool:  # the second process looked before the first one wrote the file
        return False if self == path else real_exists(self)

    monkeypatch.setattr(Path, "exists", not_yet)
    second = Keyring.load_or_create(path)
    monkeypatch.undo()
    assert second.keys == first.keys and second.primary == first.primary
    kek_id, wrapped, dek = second.new_data_key(4)
    assert Keyring.load_or_create(path).unwrap_data_key(4, kek_id, wrapped) == dek


def test_the_keyring_file_is_read_again_only_when_it_changed(tmp_path, monkeypatch):
    path = tmp_path / "keyring.json"
    reads = []
    real_read = Path.read_text
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: reads.append(self) or real_read(self, *a, **k))
    running = Keyring.load_or_create(path)  # created here: the key it holds is the one it wrote
    running.new_data_key(1)
    running.new_data_key(1)
    assert reads == []  # unchanged since it was created: not read
    rotator = Keyring.from_json(real_read(path), path=path)
    new_id = rotator.add_primary()
    assert rotator.save() is True
    assert running.new_data_key(1)[0] == new_id and running.new_data_key(1)[0] == new_id
    assert reads == [path]  # read once for the change, not again
    rotator.new_data_key(1)
    assert reads == [path]  # the process that saved it does not read it back either
    running.key(new_id)
    with pytest.raises(KeyringError):
        running.key("k3")  # a missing id reads the file once more, then fails
    assert reads == [path, path]
    running.new_data_key(1)
    assert reads == [path, path]



def test_password_hash_cost():
    """Production passwords use Argon2id with RFC 9106's low-memory profile."""
    from argon2 import Type

    from webauth.users import production_hasher

    hasher = production_hasher()
    assert hasher.type is Type.ID
    assert (hasher.time_cost, hasher.memory_cost, hasher.parallelism) == (3, 65536, 4)
