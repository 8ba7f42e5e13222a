"""Bitwarden: vault JSON and CSV, Authenticator JSON, and protected exports sealed here with Bitwarden's crypto."""

from __future__ import annotations

import base64
import contextlib
import csv
import hashlib
import hmac
import io
import json
import os
import uuid
from typing import Any

import pytest
from argon2.low_level import Type, hash_secret_raw
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given
from hypothesis import strategies as st
from interop_fixtures import assert_matches_vectors, fixture, fuzz, mutated
from transfer_strategies import json_mutated

from webauth.otp import Algorithm, OtpType
from webauth.otpauth import encode_secret
from webauth.transfer.base import PasswordRequired, TooMuchWork, TransferError, WrongPassword
from webauth.transfer.bitwarden import BitwardenAuthenticatorImporter, BitwardenCsvImporter, BitwardenJsonImporter

VAULT = BitwardenJsonImporter()
AUTHENTICATOR = BitwardenAuthenticatorImporter()
CSV = BitwardenCsvImporter()
FUZZ = fuzz(200)


def enc_string(plaintext: bytes, enc_key: bytes, mac_key: bytes) -> str:
    """A type-2 EncString: AES-256-CBC with PKCS#7, then HMAC-SHA256 over iv ‖ ciphertext."""
    iv = os.urandom(16)
    padder = padding.PKCS7(128).padder()
    encryptor = Cipher(algorithms.AES(enc_key), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padder.update(plaintext) + padder.finalize()) + encryptor.finalize()
    mac = hmac.new(mac_key, iv + ciphertext, hashlib.sha256).digest()
    return "2." + "|".join(base64.b64encode(part).decode() for part in (iv, ciphertext, mac))


def protect(payload: dict[str, Any], password: str, argon2: bool = False) -> bytes:
    """A password-protected export as Bitwarden's clients write it (the salt *text* feeds the KDF)."""
    salt = base64.b64encode(os.urandom(16)).decode()
    if argon2:
        kdf = {"kdfType": 1, "kdfIterations": 2, "kdfMemory": 16, "kdfParallelism": 1}
        material = hash_secret_raw(
            password.encode(), hashlib.sha256(salt.encode()).digest(), 2, 16 * 1024, 1, 32, Type.ID
        )
    else:
        kdf = {"kdfType": 0, "kdfIterations": 5000, "kdfMemory": None, "kdfParallelism": None}
        material = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), 5000, 32)
    # HKDF-Expand for a single 32-byte block is HMAC(prk, info ‖ 0x01).
    enc_key = hmac.new(material, b"enc\x01", hashlib.sha256).digest()
    mac_key = hmac.new(material, b"mac\x01", hashlib.sha256).digest()
    doc = {
        "encrypted": True,
        "passwordProtected": True,
        "salt": salt,
        **kdf,
        "encKeyValidation_DO_NOT_EDIT": enc_string(str(uuid.uuid4()).encode(), enc_key, mac_key),
        "data": enc_string(json.dumps(payload).encode(), enc_key, mac_key),
    }
    return json.dumps(doc).encode()


AUTHENTICATOR_EXPORT = json.loads(fixture("bitwarden_authenticator_plain.json"))
VAULT_EXPORT = {
    "encrypted": False,
    "folders": [{"id": "f1", "name": "Work"}],
    "items": [
        {
            "type": 1,
            "name": "GitHub",
            "favorite": True,
            "folderId": "f1",
            "login": {"username": "alice", "totp": "otpauth://totp/?secret=JBSWY3DPEHPK3PXP&digits=8"},
        },
        {"type": 1, "name": "Plain", "login": {"username": "bob", "totp": "jbsw y3dp ehpk 3pxq"}},
        {"type": 1, "name": "No code", "login": {"username": "carol", "password": "x", "totp": None}},
        {"type": 2, "name": "Secure note", "notes": "text", "secureNote": {"type": 0}},
        {"type": 1, "name": "Broken", "login": {"totp": "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&digits=12"}},
    ],
}


def test_vault_fixture_matches_the_vectors() -> None:
    data = fixture("bitwarden.json")
    assert VAULT.sniff(data)

    def steam_labels_are_free(vector: dict[str, Any]) -> dict[str, Any]:
        return {**vector, "name": "", "issuer": "Test Steam"} if vector["type"] == "steam" else vector

    assert_matches_vectors("bitwarden.json", VAULT.read(data), steam_labels_are_free)


def test_authenticator_fixture() -> None:
    data = fixture("bitwarden_authenticator_plain.json")
    assert AUTHENTICATOR.sniff(data)
    (entry,) = AUTHENTICATOR.read(data)
    assert entry.spec is not None
    params = entry.spec.params
    assert (entry.spec.issuer, entry.spec.name) == ("Test Issuer", "person@example.com")
    assert (params.type, encode_secret(params.secret), params.algorithm, params.digits, params.period) == (
        OtpType.TOTP,
        "JBSWY3DPEHPK3PXP",
        Algorithm.SHA1,
        6,
        30,
    )


def test_vault_items_fill_missing_labels_and_keep_favorite_and_folder() -> None:
    github, plain, broken = VAULT.read(json.dumps(VAULT_EXPORT).encode())
    assert github.spec is not None
    assert (github.spec.issuer, github.spec.name, github.spec.params.digits) == ("GitHub", "alice", 8)
    assert (github.spec.favorite, github.spec.groups) == (True, ("Work",))
    assert plain.spec is not None
    assert (plain.spec.issuer, plain.spec.name, plain.spec.params.type) == ("Plain", "bob", OtpType.TOTP)
    assert broken.spec is None and "digits" in (broken.problem or "")


def vault_csv() -> bytes:
    """A vault CSV export as Bitwarden writes it: two logins with codes, Steam, one without, a note, a broken one."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "folder",
            "favorite",
            "type",
            "name",
            "notes",
            "fields",
            "reprompt",
            "login_uri",
            "login_username",
            "login_password",
            "login_totp",
        ]
    )
    writer.writerow(
        [
            "Work",
            "1",
            "login",
            "GitHub",
            "",
            "",
            "0",
            "https://github.com",
            "alice",
            "pw",
            "otpauth://totp/GitHub:alice?secret=JBSWY3DPEHPK3PXP&issuer=GitHub",
        ]
    )
    writer.writerow(["", "", "login", "Plain", "", "", "0", "", "bob", "pw", "JBSW Y3DP EHPK 3PXQ"])
    writer.writerow(["", "", "login", "Steam", "", "", "0", "", "gamer", "pw", "steam://JRZCL47CMXVOQMNPZR2F7J4RGI"])
    writer.writerow(["", "", "login", "No code", "", "", "0", "", "carol", "pw", ""])
    writer.writerow(["", "", "note", "Note", "multi\nline, with comma", "", "0", "", "", "", ""])
    writer.writerow(["", "", "login", "Broken", "", "", "0", "", "dave", "pw", "otpauth://totp/x?secret=1"])
    return out.getvalue().encode()


CSV_SAMPLE = vault_csv()


def test_vault_csv() -> None:
    data = CSV_SAMPLE
    assert CSV.sniff(data) and not VAULT.sniff(data)
    github, plain, steam, broken = CSV.read(data)
    assert github.spec is not None and (github.spec.favorite, github.spec.groups) == (True, ("Work",))
    assert plain.spec is not None and (plain.spec.issuer, plain.spec.name) == ("Plain", "bob")
    assert steam.spec is not None and steam.spec.params.type is OtpType.STEAM
    assert broken.spec is None and "row 6" in broken.source


def test_csv_without_totp_column_is_refused() -> None:
    with pytest.raises(TransferError, match="login_totp"):
        CSV.read(b"name,login_username\nx,y\n")


@pytest.mark.parametrize("argon2", [False, True], ids=["pbkdf2", "argon2id"])
@pytest.mark.parametrize("payload", [VAULT_EXPORT, AUTHENTICATOR_EXPORT], ids=["vault", "authenticator"])
def test_password_protected_exports(payload: dict[str, Any], argon2: bool) -> None:
    data = protect(payload, "pässword", argon2=argon2)
    assert VAULT.sniff(data) and not AUTHENTICATOR.sniff(data)
    expected = [entry.spec for entry in VAULT.read(json.dumps(payload).encode())]
    assert [entry.spec for entry in VAULT.read(data, "pässword")] == expected
    assert [entry.spec for entry in AUTHENTICATOR.read(data, "pässword")] == expected
    with pytest.raises(PasswordRequired):
        VAULT.read(data)
    with pytest.raises(WrongPassword):
        VAULT.read(data, "password")


def test_altered_data_after_a_good_password_check() -> None:
    doc = json.loads(protect(VAULT_EXPORT, "pw"))
    iv, ciphertext, mac = doc["data"][2:].split("|")
    raw = bytearray(base64.b64decode(ciphertext))
    raw[0] ^= 1
    doc["data"] = "2." + "|".join([iv, base64.b64encode(bytes(raw)).decode(), mac])
    with pytest.raises(WrongPassword, match="altered"):
        VAULT.read(json.dumps(doc).encode(), "pw")


@pytest.mark.parametrize(
    ("field", "value"),
    [("kdfIterations", 10**9), ("kdfType", 7), ("kdfIterations", 100)],
)
def test_kdf_parameters_out_of_bounds_are_refused(field: str, value: int) -> None:
    doc = json.loads(protect(VAULT_EXPORT, "pw"))
    doc[field] = value
    with pytest.raises(TransferError):
        VAULT.read(json.dumps(doc).encode(), "pw")


def test_argon2_memory_beyond_the_bound_is_refused() -> None:
    doc = json.loads(protect(VAULT_EXPORT, "pw", argon2=True))
    doc["kdfMemory"] = 1024  # Bitwarden's largest: beyond the server's budget
    with pytest.raises(TooMuchWork, match="more work than this server allows"):
        VAULT.read(json.dumps(doc).encode(), "pw")
    doc["kdfMemory"] = 1025  # beyond what Bitwarden writes
    with pytest.raises(TransferError, match="kdfMemory"):
        VAULT.read(json.dumps(doc).encode(), "pw")


def test_account_restricted_export_is_explained() -> None:
    data = json.dumps({"encrypted": True, "encKeyValidation_DO_NOT_EDIT": "2.a|b|c", "folders": [], "items": []})
    assert VAULT.sniff(data.encode())
    with pytest.raises(TransferError, match="password protected"):
        VAULT.read(data.encode())


@FUZZ
@given(
    json_mutated(VAULT_EXPORT)
    | json_mutated(json.loads(fixture("bitwarden.json")))
    | json_mutated(json.loads(protect(VAULT_EXPORT, "pw")))
)
def test_reshaped_json_exports_raise_only_transfer_errors(data: bytes) -> None:
    for importer in (VAULT, AUTHENTICATOR):
        with contextlib.suppress(TransferError):
            importer.read(data, "pw")


SMALL_CSV = (
    "folder,favorite,type,name,notes,fields,reprompt,login_uri,login_username,login_password,login_totp\n"
    'Work,1,login,GitHub,"a ""quoted"" note",,0,,alice,pw,otpauth://totp/GitHub:alice?secret=JBSWY3DPEHPK3PXP\n'
)


@FUZZ
@given(mutated(SMALL_CSV.encode()) | st.text(max_size=300).map(lambda text: (SMALL_CSV + text).encode()))
def test_mutated_csv_raises_only_transfer_errors(data: bytes) -> None:
    with contextlib.suppress(TransferError):
        CSV.read(data)


# The edges, pinned by mutation testing (`make mutation`) ------------------------------------


def _protected_doc(**changes: Any) -> bytes:
    return json.dumps({**json.loads(protect(VAULT_EXPORT, "pw")), **changes}).encode()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"salt": ""}, "^The protected Bitwarden export has no salt$"),
        ({"salt": 5}, "^The protected Bitwarden export has no salt$"),
        ({"kdfType": True}, r"^The export uses an unknown key derivation \(kdfType True\)$"),
        ({"kdfType": 2}, r"^The export uses an unknown key derivation \(kdfType 2\)$"),
        ({"kdfIterations": True}, r"^The export's kdfIterations \(True\) is outside what Bitwarden writes$"),
        ({"kdfIterations": "5000"}, r"^The export's kdfIterations \('5000'\) is outside what Bitwarden writes$"),
    ],
)
def test_key_derivation_fields_are_checked_one_by_one(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(TransferError, match=message):
        VAULT.read(_protected_doc(**changes), "pw")


def _enc(iv: bytes, ciphertext: bytes, mac: bytes) -> str:
    return "2." + "|".join(base64.b64encode(part).decode() for part in (iv, ciphertext, mac))


@pytest.mark.parametrize(
    "value",
    [
        _enc(b"i" * 15, b"c" * 16, b"m" * 32),
        _enc(b"i" * 16, b"c" * 16, b"m" * 31),
        _enc(b"i" * 16, b"", b"m" * 32),
        _enc(b"i" * 16, b"c" * 17, b"m" * 32),
        "2.a|b",
    ],
)
def test_each_part_of_an_encrypted_string_is_checked(value: str) -> None:
    with pytest.raises(TransferError, match=r"^The encrypted data is malformed$"):
        VAULT.read(_protected_doc(data=value), "pw")
    with pytest.raises(TransferError, match=r"^The password check is not a Bitwarden encrypted string of type 2$"):
        VAULT.read(_protected_doc(encKeyValidation_DO_NOT_EDIT="0.abc"), "pw")


def test_csv_favorites_folders_and_a_byte_order_mark() -> None:
    rows = [
        "\ufeffname,login_username,login_totp,favorite,folder",
        "One,a,JBSWY3DPEHPK3PXP,TRUE, ",
        "Two,b,JBSWY3DPEHPK3PXP,true,Work",
        "Three,c,JBSWY3DPEHPK3PXP,0,",
    ]
    data = "\n".join(rows).encode()
    assert CSV.sniff(data)
    one, two, three = CSV.read(data)
    assert [entry.spec.favorite for entry in (one, two, three) if entry.spec] == [True, True, False]
    assert [entry.spec.groups for entry in (one, two, three) if entry.spec] == [(), ("Work",), ()]


def test_a_csv_header_needs_both_columns_and_quoting_is_strict() -> None:
    assert not CSV.sniff(b"login_totp,login_username\nJBSWY3DPEHPK3PXP,a\n")
    assert not CSV.sniff(b"name,login_username\nx,a\n")
    with pytest.raises(TransferError, match=r"^The CSV file is malformed"):
        CSV.read(b'name,login_totp\nx,"JBSWY3DPEHPK3PXP"junk\n')


def test_long_or_boolean_kdf_values_are_refused_and_cut() -> None:
    argon2 = json.loads(protect(VAULT_EXPORT, "pw", argon2=True))
    with pytest.raises(TransferError, match=r"^The export's kdfIterations \(True\) is outside what Bitwarden writes$"):
        VAULT.read(json.dumps({**argon2, "kdfIterations": True}).encode(), "pw")
    with pytest.raises(TransferError, match=r"^The export's kdfIterations \('xxxxxxxxxxxxxxxxxxx\) is outside"):
        VAULT.read(_protected_doc(kdfIterations="x" * 30), "pw")
    unknown = r"^The export uses an unknown key derivation \(kdfType 'yyyyyyyyyyyyyyyyyyy\)$"
    with pytest.raises(TransferError, match=unknown):
        VAULT.read(_protected_doc(kdfType="y" * 30), "pw")


def test_a_part_that_is_not_base64_and_bad_padding_under_a_good_mac_are_named() -> None:
    with pytest.raises(TransferError, match=r"^The encrypted data is not valid base64$"):
        VAULT.read(_protected_doc(data="2.!!|a|b"), "pw")
    doc = json.loads(protect(VAULT_EXPORT, "pw"))
    material = hashlib.pbkdf2_hmac("sha256", b"pw", doc["salt"].encode(), 5000, 32)
    enc_key = hmac.new(material, b"enc\x01", hashlib.sha256).digest()
    mac_key = hmac.new(material, b"mac\x01", hashlib.sha256).digest()
    iv = os.urandom(16)
    encryptor = Cipher(algorithms.AES(enc_key), modes.CBC(iv)).encryptor()
    unpadded = encryptor.update(b"\x00" * 16) + encryptor.finalize()  # ends in a zero byte: no valid padding
    mac = hmac.new(mac_key, iv + unpadded, hashlib.sha256).digest()
    doc["data"] = "2." + "|".join(base64.b64encode(part).decode() for part in (iv, unpadded, mac))
    with pytest.raises(TransferError, match=r"^The Bitwarden export is damaged \(bad padding\)$"):
        VAULT.read(json.dumps(doc).encode(), "pw")


def test_a_malformed_csv_says_what_the_reader_found() -> None:
    with pytest.raises(TransferError) as refusal:
        CSV.read(b'name,login_totp\nx,"JBSWY3DPEHPK3PXP"junk\n')
    assert str(refusal.value) == "The CSV file is malformed (',' expected after '\"')"


def _protected_plaintext(plaintext: bytes) -> bytes:
    """A password-protected export (password "pw") whose data decrypts to `plaintext`."""
    doc = json.loads(protect(VAULT_EXPORT, "pw"))
    material = hashlib.pbkdf2_hmac("sha256", b"pw", doc["salt"].encode(), 5000, 32)
    enc_key = hmac.new(material, b"enc\x01", hashlib.sha256).digest()
    mac_key = hmac.new(material, b"mac\x01", hashlib.sha256).digest()
    return json.dumps({**doc, "data": enc_string(plaintext, enc_key, mac_key)}).encode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"[]", "The Bitwarden export is not a JSON object"),
        (json.dumps({"encrypted": False, "folders": "x", "items": []}).encode(), "The folders is not a JSON list"),
        (json.dumps({"encrypted": False, "folders": []}).encode(), "The items is not a JSON list"),
        (_protected_plaintext(b"not json"), "The decrypted export is not valid JSON; it may be damaged or truncated."),
    ],
)
def test_the_parts_of_an_export_are_named_when_refused(data: bytes, message: str) -> None:
    with pytest.raises(TransferError) as refusal:
        VAULT.read(data, "pw")
    assert str(refusal.value) == message


def test_sources_folders_and_junk_items() -> None:
    export = {
        "encrypted": False,
        "folders": [{"id": 1, "name": "x"}, {"id": "f2", "name": 5}, "junk", {"id": "f1", "name": "Work"}],
        "items": [
            "junk",
            {"type": 1, "name": "GitHub", "folderId": "f1", "login": {"username": "alice", "totp": "JBSWY3DPEHPK3PXP"}},
            {"type": 1, "name": "Other", "folderId": "f2", "login": {"username": "bob", "totp": "JBSWY3DPEHPK3PXP"}},
        ],
    }
    github, other = VAULT.read(json.dumps(export).encode())
    assert (github.source, github.spec.groups if github.spec else None) == ("item 2 (GitHub: alice)", ("Work",))
    assert (other.source, other.spec.groups if other.spec else None) == ("item 3 (Other: bob)", ())
