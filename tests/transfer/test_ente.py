"""Ente Auth: the interop fixture, codeDisplay metadata, and encrypted exports made with Ente's real crypto."""

from __future__ import annotations

import base64
import json
import os
from typing import Any
from urllib.parse import quote

import nacl.bindings as sodium
import nacl.exceptions
import pytest
from hypothesis import given
from hypothesis import strategies as st
from interop_fixtures import STRUCTURED, assert_matches_vectors, fixture, fuzz, json_values, shaped

from webauth.otp import Algorithm, OtpType
from webauth.transfer import ente
from webauth.transfer.base import PasswordRequired, TransferError, WrongPassword
from webauth.transfer.ente import EnteEncryptedImporter, EntePlainImporter

PLAIN = EntePlainImporter()
ENCRYPTED = EnteEncryptedImporter()
PASSWORD = "correct horse"
FUZZ = fuzz(200)


def ente_line(code_display: object, secret: str = "JBSWY3DPEHPK3PXP") -> str:
    raw = code_display if isinstance(code_display, str) else json.dumps(code_display)
    return f"otpauth://totp/Mastodon:alice?secret={secret}&issuer=Mastodon&codeDisplay={quote(raw)}"


def encrypt_export(
    plaintext: bytes,
    password: str = PASSWORD,
    *,
    mem_limit: int = sodium.crypto_pwhash_argon2id_MEMLIMIT_MIN,
    ops_limit: int = 1,
    tag: int = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL,
) -> dict[str, Any]:
    """An export as Ente writes it: crypto_pwhash Argon2id key, one secretstream message, base64.

    The KDF parameters are stored in the file, so cheap ones keep the tests fast while going
    through exactly the code path of a real export.
    """
    salt = os.urandom(sodium.crypto_pwhash_SALTBYTES)
    key = sodium.crypto_pwhash_alg(
        32, password.encode(), salt, ops_limit, mem_limit, sodium.crypto_pwhash_ALG_ARGON2ID13
    )
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    header = sodium.crypto_secretstream_xchacha20poly1305_init_push(state, key)
    ciphertext = sodium.crypto_secretstream_xchacha20poly1305_push(state, plaintext, None, tag)
    return {
        "version": 1,
        "kdfParams": {"memLimit": mem_limit, "opsLimit": ops_limit, "salt": base64.b64encode(salt).decode()},
        "encryptedData": base64.b64encode(ciphertext).decode(),
        "encryptionNonce": base64.b64encode(header).decode(),
    }


def dump(export: dict[str, Any]) -> bytes:
    return json.dumps(export).encode()


def test_fixture_imports_as_expected() -> None:
    data = fixture("ente_auth.txt")
    assert PLAIN.sniff(data)
    entries = PLAIN.read(data)
    assert_matches_vectors("ente_auth.txt", entries)
    # The line with lowercase 'sha512' and a stray period is the WWE HOTP account.
    wwe = next(entry.spec for entry in entries if entry.spec and entry.spec.issuer == "WWE")
    assert (wwe.params.type, wwe.params.algorithm, wwe.params.counter) == (OtpType.HOTP, Algorithm.SHA512, 10300)
    assert all(not entry.trashed and entry.spec and "codedisplay" not in entry.spec.extra for entry in entries)


def test_code_display_becomes_favorite_trash_note_and_groups() -> None:
    line = ente_line({"pinned": True, "trashed": True, "note": "backup codes in the safe", "tags": ["Work", "Social"]})
    [entry] = PLAIN.read(line.encode())
    assert entry.trashed
    assert entry.spec is not None
    assert entry.spec.favorite
    assert entry.spec.note == "backup codes in the safe"
    assert entry.spec.groups == ("Work", "Social")
    assert (entry.spec.issuer, entry.spec.name) == ("Mastodon", "alice")


@pytest.mark.parametrize("code_display", ["{not json", "[1, 2]", {"pinned": "yes", "tags": [1, "Ok"], "note": 5}])
def test_unreadable_code_display_keeps_the_account_with_defaults(code_display: object) -> None:
    [entry] = PLAIN.read(ente_line(code_display).encode())
    assert entry.spec is not None
    assert not entry.trashed and not entry.spec.favorite
    assert entry.spec.note == ""
    assert entry.spec.groups == (("Ok",) if isinstance(code_display, dict) else ())


def test_a_bad_line_is_a_problem_named_by_its_line_number() -> None:
    lines = [ente_line({}), "", ente_line({}, secret="NOT*BASE32"), "otpauth://totp/x?issuer=y\r", "otpauth://[/x"]
    entries = PLAIN.read("\n".join(lines).encode())
    assert [entry.source for entry in entries] == ["line 1", "line 3", "line 4", "line 5"]
    assert entries[0].spec is not None
    assert entries[1].spec is None and entries[1].problem and entries[1].problem.startswith("The secret key")
    assert entries[2].spec is None and "secret" in (entries[2].problem or "")
    assert entries[3].spec is None and (entries[3].problem or "").startswith("This is not a valid link")


def test_sniff_tells_ente_from_a_plain_list_and_from_json() -> None:
    assert not PLAIN.sniff(fixture("plain.txt"))
    assert not PLAIN.sniff(b'{"uri": "otpauth://totp/a?secret=AA&codeDisplay=%7B%7D"}')
    assert not ENCRYPTED.sniff(fixture("ente_auth.txt"))
    assert ENCRYPTED.sniff(dump(encrypt_export(b"")))
    assert not PLAIN.sniff(dump(encrypt_export(b"")))


def test_encrypted_export_decrypts_to_the_plain_entries() -> None:
    data = dump(encrypt_export(fixture("ente_auth.txt")))
    entries = ENCRYPTED.read(data, PASSWORD)
    assert_matches_vectors("ente_auth.txt", entries)


def test_encrypted_export_with_a_message_tag_is_read_too() -> None:
    export = encrypt_export(fixture("ente_auth.txt"), tag=sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE)
    assert len(ENCRYPTED.read(dump(export), PASSWORD)) == 7


def test_encrypted_export_refuses_a_stream_tag_ente_never_writes() -> None:
    export = encrypt_export(fixture("ente_auth.txt"), tag=sodium.crypto_secretstream_xchacha20poly1305_TAG_REKEY)
    with pytest.raises(TransferError, match="single encrypted message"):
        ENCRYPTED.read(dump(export), PASSWORD)


def test_encrypted_export_needs_the_right_password() -> None:
    data = dump(encrypt_export(fixture("ente_auth.txt")))
    with pytest.raises(PasswordRequired):
        ENCRYPTED.read(data)
    with pytest.raises(WrongPassword):
        ENCRYPTED.read(data, "wrong horse")


def test_altered_ciphertext_is_refused() -> None:
    export = encrypt_export(fixture("ente_auth.txt"))
    ciphertext = bytearray(base64.b64decode(str(export["encryptedData"])))
    ciphertext[5] ^= 1
    export["encryptedData"] = base64.b64encode(ciphertext).decode()
    with pytest.raises(WrongPassword):
        ENCRYPTED.read(dump(export), PASSWORD)


@pytest.mark.parametrize(
    ("mem_limit", "ops_limit"),
    [(2 << 30, 1), (1 << 30, 5), (4096, 1), (8192, 0), ("65536", 2), (True, 1), (65536.0, 2)],
)
def test_kdf_parameters_beyond_what_ente_writes_are_refused_before_deriving(
    mem_limit: object, ops_limit: object
) -> None:
    export = encrypt_export(b"")
    export["kdfParams"] = {**export["kdfParams"], "memLimit": mem_limit, "opsLimit": ops_limit}
    with pytest.raises(TransferError, match="key derivation parameters"):
        ENCRYPTED.read(dump(export), PASSWORD)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": 2}, "version 2"),
        ({"kdfParams": None}, "kdfParams"),
        ({"encryptionNonce": "AAAA"}, "wrong length"),
        ({"encryptedData": "not base64!"}, "not valid base64"),
        ({"encryptedData": ""}, "truncated"),
    ],
)
def test_damaged_encrypted_exports_are_explained(change: dict[str, object], message: str) -> None:
    export = {**encrypt_export(b"otpauth://totp/a?secret=AAAA"), **change}
    with pytest.raises(TransferError, match=message):
        ENCRYPTED.read(dump(export), PASSWORD)


ENCRYPTED_SAMPLE = encrypt_export(fixture("ente_auth.txt"))


@FUZZ
@given(ciphertext=st.binary(max_size=512), nonce=st.binary(min_size=24, max_size=24))
def test_random_ciphertexts_raise_only_transfer_errors(ciphertext: bytes, nonce: bytes) -> None:
    export = {
        **ENCRYPTED_SAMPLE,
        "encryptedData": base64.b64encode(ciphertext).decode(),
        "encryptionNonce": base64.b64encode(nonce).decode(),
    }
    with pytest.raises(TransferError):
        ENCRYPTED.read(dump(export), PASSWORD)


@STRUCTURED
@given(code_display=json_values)
def test_any_code_display_value_keeps_the_account(code_display: object) -> None:
    [entry] = PLAIN.read(ente_line(json.dumps(code_display)).encode())
    assert entry.spec is not None or entry.problem is not None


@STRUCTURED
@given(
    export=shaped(["version", "kdfParams", "encryptedData", "encryptionNonce"]),
    kdf=shaped(["memLimit", "opsLimit", "salt"]),
)
def test_any_field_values_raise_only_transfer_errors(export: dict[str, Any], kdf: dict[str, Any]) -> None:
    # No password: a random memLimit may be legal yet costly, and the fields are all checked before.
    with pytest.raises(TransferError):
        ENCRYPTED.read(dump({**export, "kdfParams": kdf}))


@FUZZ
@given(rest=st.text(max_size=80))
def test_any_text_after_the_scheme_is_a_problem_at_worst(rest: str) -> None:
    # Lines that start like a URI reach parse_uri and urlsplit, whose own errors must not escape.
    for entry in PLAIN.read(f"otpauth://{rest}".encode("utf-8", "surrogatepass")):
        assert entry.spec is not None or entry.problem


# The edges, pinned by mutation testing (`make mutation`) ------------------------------------


def test_a_boolean_kdf_parameter_is_refused() -> None:
    export = encrypt_export(fixture("ente_auth.txt"))
    for key in ("memLimit", "opsLimit"):
        changed = {**export, "kdfParams": {**export["kdfParams"], key: True}}
        with pytest.raises(TransferError, match="key derivation parameters Ente never uses"):
            ENCRYPTED.read(dump(changed), PASSWORD)


def test_the_shortest_encrypted_message_is_opened() -> None:
    # An empty export is one tag long: it opens, and holds no account.
    assert ENCRYPTED.read(dump(encrypt_export(b"")), PASSWORD) == []


def test_sniffing_allows_a_byte_order_mark_and_blank_lines_and_wants_an_object() -> None:
    assert PLAIN.sniff(b"\xef\xbb\xbf\n  " + fixture("ente_auth.txt"))
    assert not ENCRYPTED.sniff(b'[{"kdfParams": 1, "encryptedData": 2, "encryptionNonce": 3}]')


def _changed(**changes: object) -> bytes:
    return dump({**encrypt_export(fixture("ente_auth.txt")), **changes})


@pytest.mark.parametrize(
    ("data", "password", "message"),
    [
        (b"[]", PASSWORD, "This is not a Ente Auth export file: it does not hold a JSON object."),
        (
            _changed(encryptionNonce="!"),
            PASSWORD,
            "This Ente Auth export file is damaged: the nonce is not valid base64.",
        ),
        (
            _changed(encryptedData=5),
            PASSWORD,
            "This Ente Auth export file is damaged: the encrypted data is missing or not text.",
        ),
        (_changed(), None, "This Ente Auth export file is encrypted: enter the password it was exported with."),
        (dump(encrypt_export(b"\xff")), PASSWORD, "This Ente Auth export file is not UTF-8 text; it may be damaged."),
    ],
)
def test_encrypted_refusals_name_the_export_and_its_part(data: bytes, password: str | None, message: str) -> None:
    with pytest.raises(TransferError) as refusal:
        ENCRYPTED.read(data, password)
    assert str(refusal.value) == message


def test_a_bad_salt_is_named() -> None:
    export = encrypt_export(fixture("ente_auth.txt"))
    data = dump({**export, "kdfParams": {**export["kdfParams"], "salt": "!"}})
    with pytest.raises(TransferError, match=r"^This Ente Auth export file is damaged: the salt is not valid base64\.$"):
        ENCRYPTED.read(data, PASSWORD)


def test_a_failed_key_derivation_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    def out_of_memory(*args: object) -> bytes:
        raise nacl.exceptions.CryptoError("cannot allocate")

    data = _changed()
    monkeypatch.setattr(ente.sodium, "crypto_pwhash_alg", out_of_memory)
    with pytest.raises(TransferError, match=r"^The file's key derivation parameters are invalid\.$"):
        ENCRYPTED.read(data, PASSWORD)


def test_a_uri_after_other_text_on_a_line_is_not_an_ente_export() -> None:
    with pytest.raises(TransferError, match=r"^This is not an Ente Auth export: no line holds"):
        PLAIN.read(b"note otpauth://totp/x?secret=JBSWY3DP&codeDisplay=%7B%7D\n")
    with pytest.raises(TransferError, match=r"^This Ente Auth export file is not UTF-8 text; it may be damaged\.$"):
        PLAIN.read(b"otpauth://totp/x?secret=JBSWY3DP \xff")


def test_sniffing_and_reading_edges() -> None:
    assert ENCRYPTED.sniff(b'{"kdfParams": {}, "encryptedData": "", "encryptionNonce": ""}')
    assert not PLAIN.sniff(b"Xotpauth://totp/x?secret=JBSWY3DP&codeDisplay=%7B%7D")
    # A first line that is not a URI does not hide the URIs after it.
    entries = PLAIN.read(b"# exported by Ente\n" + ente_line({"pinned": True}).encode())
    assert [entry.spec is not None for entry in entries] == [False, True]
