"""Authenticator Pro / Stratum: the plain fixture, categories, mOTP and Yandex, and both encrypted formats."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from typing import Any
from unittest import mock

import pytest
from argon2.low_level import Type, hash_secret_raw
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given
from hypothesis import strategies as st
from interop_fixtures import STRUCTURED, assert_matches_vectors, fixture, fuzz, json_values, mutated, shaped

from webauth.otp import Algorithm, OtpType, code_at
from webauth.transfer import stratum
from webauth.transfer.base import PasswordRequired, TransferError, WrongPassword
from webauth.transfer.kdf import Argon2id
from webauth.transfer.stratum import StratumEncryptedImporter, StratumPlainImporter

PLAIN = StratumPlainImporter()
ENCRYPTED = StratumEncryptedImporter()
PASSWORD = "test"
FUZZ = fuzz(200)


def encrypt(plaintext: bytes, password: str = PASSWORD, *, argon2: tuple[int, int, int] = (3, 65536, 4)) -> bytes:
    """As StrongBackupEncryption.cs: header, salt 16, IV 12, AES-GCM under Argon2id(t=3, m=64 MiB, p=4)."""
    salt, iv = os.urandom(16), os.urandom(12)
    key = hash_secret_raw(password.encode(), salt, *argon2, 32, Type.ID)
    return b"AUTHENTICATORPRO" + salt + iv + AESGCM(key).encrypt(iv, plaintext, None)


def encrypt_legacy(plaintext: bytes, password: str = PASSWORD) -> bytes:
    """As LegacyBackupEncryption.cs: header, salt 20, IV 16, AES-CBC/PKCS7 under PBKDF2-SHA1 64000."""
    salt, iv = os.urandom(20), os.urandom(16)
    key = hashlib.pbkdf2_hmac("sha1", password.encode(), salt, 64000, 32)
    padder = padding.PKCS7(128).padder()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    padded = padder.update(plaintext) + padder.finalize()
    return b"AuthenticatorPro" + salt + iv + encryptor.update(padded) + encryptor.finalize()


def authenticator(**fields: Any) -> dict[str, Any]:
    base = {"Type": 2, "Issuer": "Acme", "Username": "bob", "Secret": "JBSWY3DPEHPK3PXP", "Algorithm": 0}
    return {**base, "Digits": 6, "Period": 30, "Counter": 0, **fields}


def backup(*authenticators: dict[str, Any], **rest: Any) -> bytes:
    return json.dumps({"Authenticators": list(authenticators), **rest}).encode()


ENCRYPTED_SAMPLE = encrypt(fixture("stratum_plain.json"))


def test_fixture_imports_as_expected() -> None:
    data = fixture("stratum_plain.json")
    assert PLAIN.sniff(data) and not ENCRYPTED.sniff(data)
    assert_matches_vectors("stratum_plain.json", PLAIN.read(data))


def test_categories_become_groups_through_the_secret_link() -> None:
    data = backup(
        authenticator(Secret="JBSWY3DPEHPK3PXP"),
        authenticator(Secret="KRSXG5CTMVRXEZLU", Issuer="Other"),
        Categories=[{"Id": "a8323a2a", "Name": "Web"}, {"Id": "b1", "Name": "Work"}, {"Id": 5, "Name": "Bad"}],
        AuthenticatorCategories=[
            {"CategoryId": "a8323a2a", "AuthenticatorSecret": "JBSWY3DPEHPK3PXP"},
            {"CategoryId": "b1", "AuthenticatorSecret": "JBSWY3DPEHPK3PXP"},
            {"CategoryId": "missing", "AuthenticatorSecret": "KRSXG5CTMVRXEZLU"},
            "junk",
        ],
    )
    first, second = PLAIN.read(data)
    assert first.spec is not None and first.spec.groups == ("Web", "Work")
    assert second.spec is not None and second.spec.groups == ()


def test_motp_and_yandex_come_with_their_pin() -> None:
    """Type 3 has a hex secret (Stratum's MobileOtp hashes it as text), type 5 a base32 one; both a `Pin`.
    Their Digits, Period and Algorithm are Stratum's fixed ones, whatever the file says."""
    motp, yandex = PLAIN.read(
        backup(
            authenticator(Type=3, Secret="e3152afee62599c8", Pin="1234", Digits=8, Period=30),
            authenticator(Type=5, Secret="LA2V6KMCGYMWWVEW64RNP3JA3I", Pin="7586", Algorithm=0, Digits=6),
        )
    )
    assert motp.spec is not None and yandex.spec is not None
    assert (motp.spec.params.type, motp.spec.params.pin, motp.spec.params.period) == (OtpType.MOTP, "1234", 10)
    assert code_at(motp.spec.params, 165892298) == "e7d8b6"  # Aegis's MOTPTest vector
    assert (yandex.spec.params.type, yandex.spec.params.pin, yandex.spec.params.digits) == (OtpType.YANDEX, "7586", 8)
    assert code_at(yandex.spec.params, 1581090810) == "wemdwrix"  # Aegis's YAOTPTest vector
    assert motp.source == "authenticator 1 (Acme: bob)"


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"Type": 3, "Secret": "e3152afee62599c8", "Pin": None}, "This account needs its PIN, which the file does not"),
        ({"Type": 3, "Secret": "JBSWY3DPEHPK3PXP", "Pin": "1234"}, "The mOTP secret key holds 'HJKPSWXY'"),
        ({"Type": 5, "Secret": "JBSWY3DPEHPK3PXP", "Pin": "1234"}, "A Yandex secret key holds 16 or 26 bytes"),
        ({"Type": 5, "Secret": "LA2V6KMCGYMWWVEW64RNP3JA3I", "Pin": 1234}, "The Pin field of this entry should be"),
    ],
)
def test_motp_and_yandex_that_cannot_give_codes_are_problems(fields: dict[str, Any], problem: str) -> None:
    [entry] = PLAIN.read(backup(authenticator(**fields)))
    assert entry.spec is None and entry.problem is not None and entry.problem.startswith(problem)


@pytest.mark.parametrize(
    ("fields", "field"),
    [({"Type": 9}, "kind"), ({"Algorithm": 3}, "Algorithm"), ({"Secret": None}, "Secret"), ({"Period": 0}, "period")],
)
def test_a_bad_authenticator_is_a_problem(fields: dict[str, Any], field: str) -> None:
    [entry] = PLAIN.read(backup(authenticator(**fields)))
    assert entry.spec is None and entry.problem is not None and field.lower() in entry.problem.lower()


def test_hotp_and_algorithm_codes() -> None:
    [entry] = PLAIN.read(backup(authenticator(Type=1, Algorithm=2, Counter=7, Digits=8)))
    assert entry.spec is not None
    params = entry.spec.params
    assert (params.type, params.algorithm, params.counter, params.digits) == (OtpType.HOTP, Algorithm.SHA512, 7, 8)


def test_encrypted_backup_decrypts_to_the_plain_entries() -> None:
    assert ENCRYPTED.sniff(ENCRYPTED_SAMPLE) and not PLAIN.sniff(ENCRYPTED_SAMPLE)
    assert_matches_vectors("stratum_plain.json", ENCRYPTED.read(ENCRYPTED_SAMPLE, PASSWORD))


def test_legacy_encrypted_backup_decrypts_to_the_plain_entries() -> None:
    data = encrypt_legacy(fixture("stratum_plain.json"))
    assert ENCRYPTED.sniff(data)
    assert_matches_vectors("stratum_plain.json", ENCRYPTED.read(data, PASSWORD))


@pytest.mark.parametrize("make", [encrypt, encrypt_legacy])
def test_encrypted_backups_need_the_right_password(make: Any) -> None:
    data = make(fixture("stratum_plain.json"))
    with pytest.raises(PasswordRequired):
        ENCRYPTED.read(data)
    with pytest.raises(WrongPassword):
        ENCRYPTED.read(data, "wrong")


@pytest.mark.parametrize("data", [b"AUTHENTICATORPRO" + b"\0" * 43, b"AuthenticatorPro" + b"\0" * 36 + b"x" * 15])
def test_truncated_encrypted_backups_are_refused_before_deriving(data: bytes) -> None:
    with pytest.raises(TransferError, match="damaged"):
        ENCRYPTED.read(data, PASSWORD)


def test_decrypted_content_must_be_a_backup() -> None:
    with pytest.raises(TransferError, match="no list of authenticators"):
        ENCRYPTED.read(encrypt(b"[]"), PASSWORD)


# The mutation fuzzing runs the real code with a cheap Argon2id: the format fixes the cost, so
# a real 64 MiB key per example would only slow the test, not reach more of the code.
CHEAP_ARGON2 = {"_KDF": Argon2id(memory_kib=64, passes=1, lanes=1)}
CHEAP_SAMPLE = encrypt(fixture("stratum_plain.json"), argon2=(1, 64, 1))


def test_the_cheap_sample_reads_under_cheap_parameters() -> None:
    with mock.patch.multiple(stratum, **CHEAP_ARGON2):
        assert len(ENCRYPTED.read(CHEAP_SAMPLE, PASSWORD)) == 7


@FUZZ
@given(data=mutated(CHEAP_SAMPLE))
def test_mutated_encrypted_backup_raises_only_transfer_errors(data: bytes) -> None:
    with mock.patch.multiple(stratum, **CHEAP_ARGON2), contextlib.suppress(TransferError):
        ENCRYPTED.read(data, PASSWORD)


@FUZZ
@given(ciphertext=st.binary(max_size=96).map(lambda raw: raw[: len(raw) // 16 * 16]))
def test_random_legacy_ciphertexts_raise_only_transfer_errors(ciphertext: bytes) -> None:
    # CBC without a MAC: a wrong key shows as bad padding or bad JSON, both a WrongPassword.
    data = b"AuthenticatorPro" + b"\0" * 36 + ciphertext
    with contextlib.suppress(TransferError):
        ENCRYPTED.read(data, PASSWORD)


AUTHENTICATOR_KEYS = ["Type", "Issuer", "Username", "Secret", "Algorithm", "Digits", "Period", "Counter", "Pin"]


@STRUCTURED
@given(
    authenticators=st.lists(shaped(AUTHENTICATOR_KEYS) | json_values, max_size=5),
    categories=st.lists(shaped(["Id", "Name"]) | json_values, max_size=3) | json_values,
    links=st.lists(shaped(["CategoryId", "AuthenticatorSecret"]) | json_values, max_size=3) | json_values,
)
def test_any_field_values_raise_only_transfer_errors(
    authenticators: list[object], categories: object, links: object
) -> None:
    data = backup(*authenticators, Categories=categories, AuthenticatorCategories=links)  # type: ignore[arg-type]
    assert len(PLAIN.read(data)) == len(authenticators)


# The edges, pinned by mutation testing (`make mutation`) ------------------------------------


def test_missing_parameters_take_the_apps_defaults() -> None:
    bare = {"Type": 1, "Issuer": "Bank", "Username": "bob", "Secret": "JBSWY3DPEHPK3PXP"}
    [entry] = PLAIN.read(backup(bare))
    assert entry.spec is not None
    params = entry.spec.params
    assert (params.type, params.algorithm, params.digits, params.counter) == (OtpType.HOTP, Algorithm.SHA1, 6, 0)
    [totp] = PLAIN.read(backup({**bare, "Type": 2}))
    assert totp.spec is not None and totp.spec.params.period == 30


def test_unknown_types_are_named_and_category_links_skip_junk() -> None:
    doc = {
        "Authenticators": [authenticator(Type=6), authenticator(Secret="KRSXG5CTMVRXEZLU")],
        "Categories": [{"Id": "c1", "Name": "Work"}, {"Id": "c2"}, "junk"],
        "AuthenticatorCategories": [
            "junk",
            {"AuthenticatorSecret": "KRSXG5CTMVRXEZLU", "CategoryId": "c2"},
            {"AuthenticatorSecret": "KRSXG5CTMVRXEZLU", "CategoryId": "c1"},
        ],
    }
    unknown, grouped = PLAIN.read(json.dumps(doc).encode())
    assert unknown.spec is None
    assert unknown.problem == "This entry is of a kind Authenticator Pro does not write (type 6)."
    assert grouped.spec is not None and grouped.spec.groups == ("Work",)


def test_the_shortest_encrypted_backup_is_opened() -> None:
    data = encrypt(b"")
    assert len(data) == len(b"AUTHENTICATORPRO") + 16 + 12 + 16
    with pytest.raises(TransferError, match=r"^This Authenticator Pro backup file is not valid JSON"):
        ENCRYPTED.read(data, PASSWORD)


def test_a_legacy_backup_that_does_not_decrypt_to_json_is_a_wrong_password() -> None:
    with pytest.raises(WrongPassword, match=r"^The password is wrong, or the Authenticator Pro backup was altered\.$"):
        ENCRYPTED.read(encrypt_legacy(b"not json"), PASSWORD)


def test_sniffing_a_plain_backup_wants_an_object() -> None:
    assert not PLAIN.sniff(b'[{"Authenticators": []}]')


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            b"AuthenticatorPro" + b"\0" * 36,
            "This Authenticator Pro backup is damaged: the encrypted data is truncated.",
        ),
        (
            b"AuthenticatorPro" + b"\0" * 36 + b"x" * 15,
            "This Authenticator Pro backup is damaged: the encrypted data is truncated.",
        ),
        (
            b"AuthenticatorPro" + b"\0" * 36 + b"x" * 16,
            "The password is wrong, or the Authenticator Pro backup was altered.",
        ),
    ],
)
def test_legacy_refusals_are_exact(data: bytes, message: str) -> None:
    with pytest.raises(TransferError) as refusal:
        ENCRYPTED.read(data, PASSWORD)
    assert str(refusal.value) == message


@pytest.mark.parametrize("data", [b"[]", b'{"Authenticators": ['])
def test_a_plain_file_that_is_not_a_backup_object_is_refused_by_name(data: bytes) -> None:
    with pytest.raises(TransferError) as refusal:
        PLAIN.read(data)
    assert "Authenticator Pro" in str(refusal.value)


def test_an_unknown_algorithm_code_is_named() -> None:
    [entry] = PLAIN.read(backup(authenticator(Algorithm=9)))
    assert entry.spec is None and entry.problem is not None and "9" in entry.problem


def test_an_encrypted_backup_too_short_for_its_salt_iv_and_tag_is_refused_as_damaged() -> None:
    # 16 + 12 + 16 bytes is the least a backup holds (with nothing encrypted); one fewer is refused unread.
    with pytest.raises(TransferError) as error:
        StratumEncryptedImporter().read(stratum.HEADER + bytes(43), "pw")
    assert str(error.value) == "This Authenticator Pro backup is damaged: it is too short."
    with pytest.raises(WrongPassword) as error:  # one byte more is long enough to be decrypted, and fails
        StratumEncryptedImporter().read(stratum.HEADER + bytes(44), "pw")
    assert str(error.value) == "The password is wrong, or the Authenticator Pro backup was altered."


def test_the_encrypted_importers_refusals_name_the_format() -> None:
    with pytest.raises(PasswordRequired) as missing:
        StratumEncryptedImporter().read(stratum.HEADER + bytes(44), None)
    assert str(missing.value) == (
        "This Authenticator Pro backup file is encrypted: enter the password it was exported with."
    )
    with pytest.raises(TransferError) as other:
        StratumEncryptedImporter().read(b'{"Authenticators": []}', "pw")
    assert str(other.value) == (
        "This is not an encrypted Authenticator Pro backup: it lacks the AUTHENTICATORPRO header."
    )
