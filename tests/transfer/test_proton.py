"""Proton Authenticator: the plain fixture, Steam entries, and encrypted exports made with Proton's real crypto."""

from __future__ import annotations

import base64
import contextlib
import json
import os
from unittest import mock

import pytest
from argon2.low_level import Type, hash_secret_raw
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given
from hypothesis import strategies as st
from interop_fixtures import STRUCTURED, assert_matches_vectors, fixture, fuzz, json_values, mutated, shaped

from webauth.otp import OtpType
from webauth.transfer import proton
from webauth.transfer.base import TransferError, WrongPassword
from webauth.transfer.kdf import Argon2id
from webauth.transfer.proton import ProtonEncryptedImporter, ProtonPlainImporter

PLAIN = ProtonPlainImporter()
ENCRYPTED = ProtonEncryptedImporter()
PASSWORD = "DummyPassword"
AAD = b"proton.authenticator.export.v1"
FUZZ = fuzz(200)


def encrypt_export(
    plaintext: bytes,
    password: str = PASSWORD,
    aad: bytes | None = AAD,
    *,
    argon2: tuple[int, int, int] = (2, 19 * 1024, 1),
) -> bytes:
    """An encrypted export as Proton writes it: Argon2id t=2 m=19 MiB p=1, AES-256-GCM, nonce first."""
    salt = os.urandom(16)
    key = hash_secret_raw(password.encode(), salt, *argon2, 32, Type.ID)
    nonce = os.urandom(12)
    content = nonce + AESGCM(key).encrypt(nonce, plaintext, aad)
    return json.dumps(
        {"version": 1, "salt": base64.b64encode(salt).decode(), "content": base64.b64encode(content).decode()}
    ).encode()


def export(*entries: object) -> bytes:
    return json.dumps({"version": 1, "entries": list(entries)}).encode()


def entry(uri: str, entry_type: str = "Totp", name: str = "", note: str | None = None) -> dict[str, object]:
    return {"id": "0", "content": {"uri": uri, "entry_type": entry_type, "name": name}, "note": note}


ENCRYPTED_SAMPLE = encrypt_export(fixture("proton_authenticator.json"))


def test_fixture_imports_as_expected() -> None:
    data = fixture("proton_authenticator.json")
    assert PLAIN.sniff(data) and not ENCRYPTED.sniff(data)
    assert_matches_vectors("proton_authenticator.json", PLAIN.read(data))


def test_steam_entries_carry_a_base64_secret_and_the_entry_name() -> None:
    secret = bytes(range(20))
    [imported] = PLAIN.read(export(entry("steam://" + base64.b64encode(secret).decode(), "Steam", "gaben")))
    assert imported.spec is not None
    assert imported.spec.params.type is OtpType.STEAM
    assert imported.spec.params.secret == secret
    assert (imported.spec.issuer, imported.spec.name) == ("Steam", "gaben")


def test_note_and_name_fallback() -> None:
    [imported] = PLAIN.read(export(entry("otpauth://totp/?secret=JBSWY3DPEHPK3PXP&issuer=Acme", name="bob", note="n")))
    assert imported.spec is not None
    assert (imported.spec.issuer, imported.spec.name, imported.spec.note) == ("Acme", "bob", "n")


def test_bad_entries_are_problems_and_the_rest_imports() -> None:
    entries = PLAIN.read(
        export(
            entry("otpauth://totp/A:b?secret=JBSWY3DPEHPK3PXP"),
            entry("steam://not base64!", "Steam", "x"),
            entry("otpauth://totp/A:b?secret=JBSWY3DPEHPK3PXP", "Steam"),
            entry("otpauth://to]tp/A:b?secret=JBSWY3DPEHPK3PXP"),
            entry("otpauth://totp/A:b?secret=JBSWY3DPEHPK3PXP", "Hotp"),
            {"id": "3", "content": "otpauth://"},
            "not an object",
        )
    )
    assert entries[0].spec is not None
    assert [entry.problem is not None for entry in entries] == [False, True, True, True, True, True, True]
    assert entries[2].problem == "This Steam entry holds no steam:// link."
    assert (entries[3].problem or "").startswith("This is not a valid link")
    assert entries[1].source == "entry 2 (x)"


def test_encrypted_export_decrypts_to_the_plain_entries() -> None:
    assert ENCRYPTED.sniff(ENCRYPTED_SAMPLE) and not PLAIN.sniff(ENCRYPTED_SAMPLE)
    assert_matches_vectors("proton_authenticator.json", ENCRYPTED.read(ENCRYPTED_SAMPLE, PASSWORD))


def test_the_associated_data_is_part_of_the_format() -> None:
    with pytest.raises(WrongPassword):
        ENCRYPTED.read(encrypt_export(fixture("proton_authenticator.json"), aad=None), PASSWORD)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": 2}, "version 2"),
        ({"salt": base64.b64encode(b"short").decode()}, "salt"),
        ({"content": base64.b64encode(b"x" * 27).decode()}, "truncated"),
        ({"content": 5}, "content"),
    ],
)
def test_damaged_encrypted_exports_are_explained(change: dict[str, object], message: str) -> None:
    data = json.dumps({**json.loads(ENCRYPTED_SAMPLE), **change}).encode()
    with pytest.raises(TransferError, match=message):
        ENCRYPTED.read(data, PASSWORD)


def test_decrypted_content_must_be_an_export() -> None:
    with pytest.raises(TransferError, match="no list of entries"):
        ENCRYPTED.read(encrypt_export(b'{"version": 1}'), PASSWORD)


# The mutation fuzzing runs the real code with a cheap Argon2id: the format fixes the cost, so
# a real key per example would only slow the test, not reach more of the code.
CHEAP_ARGON2 = {"_KDF": Argon2id(memory_kib=64, passes=1, lanes=1)}
CHEAP_SAMPLE = encrypt_export(fixture("proton_authenticator.json"), argon2=(1, 64, 1))


def test_the_cheap_sample_reads_under_cheap_parameters() -> None:
    with mock.patch.multiple(proton, **CHEAP_ARGON2):
        assert len(ENCRYPTED.read(CHEAP_SAMPLE, PASSWORD)) == 3


@FUZZ
@given(data=mutated(CHEAP_SAMPLE))
def test_mutated_encrypted_export_raises_only_transfer_errors(data: bytes) -> None:
    with mock.patch.multiple(proton, **CHEAP_ARGON2), contextlib.suppress(TransferError):
        ENCRYPTED.read(data, PASSWORD)


@STRUCTURED
@given(
    entries=st.lists(shaped(["id", "content", "note"]) | json_values, max_size=4),
    contents=st.lists(shaped(["uri", "entry_type", "name"]), max_size=4),
    version=json_values,
)
def test_any_field_values_raise_only_transfer_errors(
    entries: list[object], contents: list[dict[str, object]], version: object
) -> None:
    items = [
        {**item, "content": content} if isinstance(item, dict) else item
        for item, content in zip(entries, contents + [{}] * len(entries), strict=False)
    ]
    with contextlib.suppress(TransferError):
        PLAIN.read(json.dumps({"version": version, "entries": items}).encode())


# The edges, pinned by mutation testing (`make mutation`) ------------------------------------


@pytest.mark.parametrize("version", [2, True, None])
def test_another_version_of_the_plain_export_is_refused(version: object) -> None:
    with pytest.raises(TransferError, match=rf"^This Proton Authenticator export has version {version!r}; only"):
        PLAIN.read(json.dumps({"version": version, "entries": []}).encode())


def test_the_uri_is_required_its_name_wins_and_steam_secrets_are_strict_base64() -> None:
    no_uri = {"id": "0", "content": {"entry_type": "Totp", "name": "x"}, "note": None}
    named = entry("otpauth://totp/Site:uri-name?secret=JBSWY3DPEHPK3PXP", name="entry-name")
    steam = entry("steam://AAAA!", entry_type="Steam", name="gamer")
    first, second, third = PLAIN.read(export(no_uri, named, steam))
    assert (first.spec, first.problem) == (None, "This entry has no uri field.")
    assert second.spec is not None and second.spec.name == "uri-name"
    assert (third.spec, third.problem) == (None, "The secret key of this Steam entry is damaged.")


def test_sniffing_tells_the_encrypted_export_from_the_plain_one_and_from_aegis() -> None:
    assert not ENCRYPTED.sniff(json.dumps({"version": 1, "salt": "a", "content": "b", "entries": []}).encode())
    assert not PLAIN.sniff(json.dumps({"version": 1, "entries": [], "db": {}}).encode())


def test_the_shortest_encrypted_content_is_opened() -> None:
    with pytest.raises(TransferError, match=r"^This Proton Authenticator export file is not valid JSON"):
        ENCRYPTED.read(encrypt_export(b""), PASSWORD)


def test_a_missing_content_and_an_unknown_type_are_named() -> None:
    no_content = {"id": "0", "note": None}
    hotp = entry("otpauth://hotp/Site:x?secret=JBSWY3DPEHPK3PXP", entry_type="Hotp")
    first, second = PLAIN.read(export(no_content, hotp))
    assert (first.spec, first.problem) == (None, "This entry is empty (it has no content).")
    assert (second.spec, second.problem) == (
        None,
        "This entry is of a kind Proton Authenticator does not export, 'Hotp'.",
    )


@pytest.mark.parametrize(
    ("change", "password", "message"),
    [
        ({"salt": "!"}, PASSWORD, "This Proton Authenticator export file is damaged: the salt is not valid base64."),
        (
            {"content": "!"},
            PASSWORD,
            "This Proton Authenticator export file is damaged: the content is not valid base64.",
        ),
        (
            {"salt": base64.b64encode(b"s" * 15).decode()},
            PASSWORD,
            "This Proton Authenticator export is damaged: its salt is not 16 bytes.",
        ),
        (
            {"content": base64.b64encode(b"c" * 27).decode()},
            PASSWORD,
            "This Proton Authenticator export is damaged: the encrypted content is truncated.",
        ),
        ({}, None, "This Proton Authenticator export file is encrypted: enter the password it was exported with."),
        ({}, "wrong", "The password is wrong, or the Proton Authenticator export was altered."),
    ],
)
def test_encrypted_refusals_are_exact(change: dict[str, object], password: str | None, message: str) -> None:
    data = json.dumps({**json.loads(ENCRYPTED_SAMPLE), **change}).encode()
    with pytest.raises(TransferError) as refusal:
        ENCRYPTED.read(data, password)
    assert str(refusal.value) == message


@pytest.mark.parametrize(
    ("importer", "data", "message"),
    [
        (ENCRYPTED, b"[]", "This is not a Proton Authenticator export file: it does not hold a JSON object."),
        (PLAIN, b"[]", "This is not a Proton Authenticator export file: it does not hold a JSON object."),
        (PLAIN, b'{"version": 1}', "This is not a Proton Authenticator export: it has no list of entries."),
    ],
)
def test_other_refusals_are_exact(importer: object, data: bytes, message: str) -> None:
    with pytest.raises(TransferError) as refusal:
        importer.read(data)  # type: ignore[attr-defined]
    assert str(refusal.value) == message


def test_a_decrypted_export_without_entries_is_named() -> None:
    with pytest.raises(TransferError) as refusal:
        ENCRYPTED.read(encrypt_export(b'{"version": 1}'), PASSWORD)
    assert str(refusal.value) == "The decrypted Proton Authenticator export has no list of entries."
