"""Aegis vaults: the interop fixtures, v1/v2/v3 databases written here, real Aegis crypto, export round trips."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import uuid
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from hypothesis import given
from interop_fixtures import assert_matches_vectors, fixture, fuzz
from transfer_strategies import json_mutated

from tests.support.i18n import chinese, is_translated
from webauth.otp import Algorithm, OtpParams, OtpType, code_at
from webauth.otpauth import AccountSpec, decode_secret
from webauth.transfer.aegis import AegisImporter, export_aegis
from webauth.transfer.base import PasswordRequired, TransferError, WrongPassword

AEGIS = AegisImporter()
FUZZ = fuzz(200)
PNG_ICON = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def totp_info(secret: str = "JBSWY3DPEHPK3PXP", **extra: Any) -> dict[str, Any]:
    return {"secret": secret, "algo": "SHA1", "digits": 6, "period": 30, **extra}


def plain_vault(db: dict[str, Any]) -> bytes:
    return json.dumps({"version": 1, "header": {"slots": None, "params": None}, "db": db}).encode()


def sealed_vault(db: dict[str, Any], password: str, n: int = 2**10) -> bytes:
    """An encrypted vault as Aegis writes it, with a cheap scrypt cost and a biometric slot before the password slot."""
    master_key = os.urandom(32)
    salt = os.urandom(32)
    slot_key = Scrypt(salt=salt, length=32, n=n, r=8, p=1).derive(password.encode())
    key_nonce = os.urandom(12)
    sealed_key = AESGCM(slot_key).encrypt(key_nonce, master_key, None)
    nonce = os.urandom(12)
    sealed_db = AESGCM(master_key).encrypt(nonce, json.dumps(db).encode(), None)
    biometric = {
        "type": 2,
        "uuid": "00000000-0000-4000-8000-000000000002",
        "key": os.urandom(32).hex(),
        "key_params": {"nonce": os.urandom(12).hex(), "tag": os.urandom(16).hex()},
    }
    password_slot = {
        "type": 1,
        "uuid": "00000000-0000-4000-8000-000000000001",
        "key": sealed_key[:-16].hex(),
        "key_params": {"nonce": key_nonce.hex(), "tag": sealed_key[-16:].hex()},
        "n": n,
        "r": 8,
        "p": 1,
        "salt": salt.hex(),
        "repaired": True,
    }
    header = {"slots": [biometric, password_slot], "params": {"nonce": nonce.hex(), "tag": sealed_db[-16:].hex()}}
    return json.dumps({"version": 1, "header": header, "db": base64.b64encode(sealed_db[:-16]).decode()}).encode()


def open_vault(data: bytes, password: str) -> dict[str, Any]:
    """Decrypt a vault the way Aegis's documented decrypt.py does, independently of the importer."""
    vault = json.loads(data)
    for slot in vault["header"]["slots"]:
        if slot["type"] != 1:
            continue
        kdf = Scrypt(salt=bytes.fromhex(slot["salt"]), length=32, n=slot["n"], r=slot["r"], p=slot["p"])
        params = slot["key_params"]
        sealed_key = bytes.fromhex(slot["key"]) + bytes.fromhex(params["tag"])
        master_key = AESGCM(kdf.derive(password.encode())).decrypt(bytes.fromhex(params["nonce"]), sealed_key, None)
        params = vault["header"]["params"]
        sealed_db = base64.b64decode(vault["db"]) + bytes.fromhex(params["tag"])
        return json.loads(AESGCM(master_key).decrypt(bytes.fromhex(params["nonce"]), sealed_db, None))
    raise AssertionError("no password slot")


V3_DB = {
    "version": 3,
    "entries": [
        {
            "type": "totp",
            "uuid": "3ae6f1ad-2e65-4ed2-a953-1ec0dff2386d",
            "name": "alice@example.com",
            "issuer": "GitHub",
            "note": "recovery codes in the safe",
            "favorite": True,
            "icon": base64.b64encode(PNG_ICON).decode(),
            "icon_mime": "image/png",
            "info": totp_info(algo="SHA256", digits=8),
            "groups": ["9d4a1c2e-0000-4000-8000-00000000000a", "9d4a1c2e-0000-4000-8000-00000000000b"],
        },
        {
            "type": "hotp",
            "uuid": "0a8c0571-ff6f-4b02-aa4b-50553b4fb4fe",
            "name": "bob",
            "issuer": "Bank",
            "icon": None,
            "info": {"secret": "KUVJJOM753IHTNDSZVCNKL7GII", "algo": "SHA512", "digits": 7, "counter": 42},
            "groups": ["9d4a1c2e-0000-4000-8000-0000000000ff"],
        },
        {
            "type": "motp",
            "uuid": "1b0b0b0b-0000-4000-8000-000000000001",
            "name": "legacy",
            "issuer": "Old VPN",
            # Aegis's MOTPTest secret e3152afee62599c8, as its vault writes every secret: base32.
            "info": {"secret": "4MKSV7XGEWM4Q", "algo": "MD5", "digits": 6, "period": 10, "pin": "1234"},
        },
        {
            "type": "yandex",
            "uuid": "1b0b0b0b-0000-4000-8000-000000000002",
            "name": "me",
            "issuer": "Yandex",
            # Aegis's YAOTPTest secret, typed with its checksum (26 bytes).
            "info": {
                "secret": "LA2V6KMCGYMWWVEW64RNP3JA3IAAAAAAHTSG4HRZPI",
                "algo": "SHA256",
                "digits": 8,
                "period": 30,
                "pin": "7586",
            },
        },
        {
            "type": "yandex",
            "uuid": "1b0b0b0b-0000-4000-8000-000000000003",
            "name": "short",
            "issuer": "Yandex",
            "info": {"secret": "JBSWY3DPEHPK3PXP", "algo": "SHA256", "digits": 8, "period": 30, "pin": "5678"},
        },
        {
            "type": "motp",
            "uuid": "1b0b0b0b-0000-4000-8000-000000000004",
            "name": "no pin",
            "issuer": "Old VPN",
            "info": {"secret": "4MKSV7XGEWM4Q", "algo": "MD5", "digits": 6, "period": 10},
        },
    ],
    "groups": [
        {"uuid": "9d4a1c2e-0000-4000-8000-00000000000a", "name": "Work"},
        {"uuid": "9d4a1c2e-0000-4000-8000-00000000000b", "name": "Code"},
    ],
}


def test_plain_fixture_matches_the_vectors() -> None:
    assert AEGIS.sniff(fixture("aegis_plain.json"))
    assert_matches_vectors("aegis_plain.json", AEGIS.read(fixture("aegis_plain.json")))


def test_encrypted_fixture_matches_the_vectors() -> None:
    assert_matches_vectors("aegis_encrypted.json", AEGIS.read(fixture("aegis_encrypted.json"), "test"))


def test_v3_groups_note_favorite_icon_motp_and_yandex() -> None:
    entries = AEGIS.read(plain_vault(V3_DB))
    github, bank, motp, yandex, short_yandex, motp_without_pin = entries
    assert github.spec == AccountSpec(
        issuer="GitHub",
        name="alice@example.com",
        params=OtpParams(OtpType.TOTP, bytes.fromhex("48656c6c6f21deadbeef"), Algorithm.SHA256, 8, 30),
        note="recovery codes in the safe",
        groups=("Work", "Code"),
        favorite=True,
        icon=PNG_ICON,
        icon_mime="image/png",
    )
    assert bank.spec is not None
    assert bank.spec.params.counter == 42 and bank.spec.params.digits == 7
    assert bank.spec.groups == ()  # a group uuid the vault does not list is dropped, as Aegis does
    # mOTP and Yandex come with their PIN, and give Aegis's own test vectors (MOTPTest, YAOTPTest).
    assert motp.spec == AccountSpec(
        issuer="Old VPN",
        name="legacy",
        params=OtpParams(OtpType.MOTP, bytes.fromhex("e3152afee62599c8"), pin="1234"),
    )
    assert (motp.spec.params.algorithm, motp.spec.params.digits, motp.spec.params.period) == ("MD5", 6, 10)
    assert code_at(motp.spec.params, 165892298) == "e7d8b6"
    assert yandex.spec is not None and yandex.spec.params.pin == "7586"
    assert yandex.spec.params.secret == decode_secret("LA2V6KMCGYMWWVEW64RNP3JA3I")  # the checksum is dropped
    assert code_at(yandex.spec.params, 1581064020) == "oactmacq"
    assert short_yandex.spec is None
    assert short_yandex.problem == (
        "A Yandex secret key holds 16 or 26 bytes, and this one holds 10: copy it again, in full."
    )
    assert motp_without_pin.spec is None
    assert motp_without_pin.problem == "This account needs its PIN, which the file does not hold: add it on its own."


def test_v2_group_name_and_default_icon_type() -> None:
    db = {
        "version": 2,
        "entries": [
            {
                "type": "steam",
                "name": "gamer",
                "issuer": "Steam",
                "group": "Games",
                "icon": base64.b64encode(b"\xff\xd8\xff\xe0jpeg").decode(),
                "info": {"secret": "JRZCL47CMXVOQMNPZR2F7J4RGI", "algo": "SHA1", "digits": 5, "period": 30},
            }
        ],
    }
    (entry,) = AEGIS.read(plain_vault(db))
    assert entry.spec is not None
    assert entry.spec.params.type is OtpType.STEAM
    assert entry.spec.groups == ("Games",)
    assert (entry.spec.icon, entry.spec.icon_mime) == (b"\xff\xd8\xff\xe0jpeg", "image/jpeg")


def test_v1_entries_without_optional_fields() -> None:
    db = {"version": 1, "entries": [{"type": "totp", "name": "n", "issuer": "i", "icon": None, "info": totp_info()}]}
    (entry,) = AEGIS.read(plain_vault(db))
    assert entry.spec is not None
    assert (entry.spec.note, entry.spec.groups, entry.spec.favorite, entry.spec.icon) == ("", (), False, None)


def test_broken_icon_is_dropped_and_bad_entry_is_a_problem() -> None:
    db = {
        "version": 3,
        "entries": [
            {"type": "totp", "name": "a", "issuer": "x", "icon": "***", "icon_mime": "image/png", "info": totp_info()},
            {"type": "totp", "name": "b", "issuer": "x", "info": totp_info(secret="not base32!")},
            {"type": "totp", "name": "c", "issuer": "x", "info": totp_info(algo="MD5")},
            {"type": "totp", "name": "\ud800", "issuer": "x", "info": totp_info()},
            "not an entry",
        ],
        "groups": [],
    }
    good, bad_secret, md5, surrogate, junk = AEGIS.read(plain_vault(db))
    assert good.spec is not None and good.spec.icon is None
    assert bad_secret.spec is None and (bad_secret.problem or "").startswith("The secret key")
    assert md5.spec is None and "MD5" in (md5.problem or "")
    assert surrogate.spec is None and "broken text" in (surrogate.problem or "")
    assert junk.spec is None


def test_unsupported_versions_are_refused() -> None:
    with pytest.raises(TransferError, match="version"):
        AEGIS.read(plain_vault({"version": 4, "entries": []}))
    doc = json.loads(plain_vault({"version": 3, "entries": []}))
    doc["version"] = 2
    with pytest.raises(TransferError, match="version"):
        AEGIS.read(json.dumps(doc).encode())


def test_encrypted_vault_written_with_aegis_crypto() -> None:
    data = sealed_vault(V3_DB, "pässword")
    entries = AEGIS.read(data, "pässword")
    assert [e.spec.issuer for e in entries if e.spec] == ["GitHub", "Bank", "Old VPN", "Yandex"]
    with pytest.raises(PasswordRequired):
        AEGIS.read(data)
    with pytest.raises(WrongPassword):
        AEGIS.read(data, "password")


def test_altered_ciphertext_is_refused() -> None:
    doc = json.loads(sealed_vault(V3_DB, "pw"))
    sealed = bytearray(base64.b64decode(doc["db"]))
    sealed[0] ^= 1
    doc["db"] = base64.b64encode(bytes(sealed)).decode()
    with pytest.raises(WrongPassword, match="altered"):
        AEGIS.read(json.dumps(doc).encode(), "pw")


def test_excessive_scrypt_cost_is_refused_before_deriving() -> None:
    doc = json.loads(sealed_vault(V3_DB, "pw"))
    doc["header"]["slots"][1]["n"] = 2**24
    with pytest.raises(TransferError, match="scrypt"):
        AEGIS.read(json.dumps(doc).encode(), "pw")


def test_vault_without_password_slot() -> None:
    doc = json.loads(sealed_vault(V3_DB, "pw"))
    del doc["header"]["slots"][1]
    with pytest.raises(TransferError, match="no password slot"):
        AEGIS.read(json.dumps(doc).encode(), "pw")


SAMPLE_SPECS = [
    AccountSpec(
        issuer="GitHub",
        name="alice",
        params=OtpParams(OtpType.TOTP, b"0123456789", Algorithm.SHA512, 8, 45),
        note="line one\nline two",
        groups=("Work", "Dev"),
        favorite=True,
        icon=PNG_ICON,
        icon_mime="image/png",
    ),
    AccountSpec(issuer="", name="bob", params=OtpParams(OtpType.HOTP, b"secret", counter=2**40), groups=("Dev",)),
    AccountSpec(issuer="Steam", name="", params=OtpParams(OtpType.STEAM, b"steam secret")),
    AccountSpec(issuer="VPN", name="cy", params=OtpParams(OtpType.MOTP, bytes.fromhex("e3152afee62599c8"), pin="12")),
    AccountSpec(issuer="Yandex", name="dave", params=OtpParams(OtpType.YANDEX, bytes(range(16)), pin="0042")),
]


def test_plain_export_round_trip_and_v3_layout() -> None:
    data = export_aegis(SAMPLE_SPECS, None)
    assert AEGIS.sniff(data)
    assert [entry.spec for entry in AEGIS.read(data)] == SAMPLE_SPECS
    db = json.loads(data)["db"]
    assert db["version"] == 3
    groups = {group["name"]: group["uuid"] for group in db["groups"]}
    assert set(groups) == {"Work", "Dev"}
    assert db["entries"][0]["groups"] == [groups["Work"], groups["Dev"]]
    first = db["entries"][0]
    assert first["icon_hash"] == hashlib.sha256(b"image/png" + PNG_ICON).hexdigest()
    assert first["info"] == {"secret": "GAYTEMZUGU3DOOBZ", "algo": "SHA512", "digits": 8, "period": 45}
    # Aegis's own layout of these types (MotpInfo, YandexInfo): fixed parameters, the PIN in clear.
    motp, yandex = db["entries"][3:]
    assert (motp["type"], yandex["type"]) == ("motp", "yandex")
    assert motp["info"] == {"secret": "4MKSV7XGEWM4Q", "algo": "MD5", "digits": 6, "period": 10, "pin": "12"}
    assert yandex["info"] == {
        "secret": "AAAQEAYEAUDAOCAJBIFQYDIOB4",
        "algo": "SHA256",
        "digits": 8,
        "period": 30,
        "pin": "0042",
    }


def test_encrypted_export_round_trip_and_aegis_readable() -> None:
    data = export_aegis(SAMPLE_SPECS, "backup pw")
    assert [entry.spec for entry in AEGIS.read(data, "backup pw")] == SAMPLE_SPECS
    slot = json.loads(data)["header"]["slots"][0]
    assert (slot["type"], slot["n"], slot["r"], slot["p"], len(bytes.fromhex(slot["salt"]))) == (1, 32768, 8, 1, 32)
    db = open_vault(data, "backup pw")
    assert db["version"] == 3 and len(db["entries"]) == 5
    with pytest.raises(WrongPassword):
        AEGIS.read(data, "other")


def test_icon_without_mime_type_is_exported_with_a_sniffed_one() -> None:
    spec = AccountSpec(issuer="x", name="y", params=OtpParams(OtpType.TOTP, b"k"), icon=b"<svg/>")
    (entry,) = AEGIS.read(export_aegis([spec], None))
    assert entry.spec is not None and entry.spec.icon_mime == "image/svg+xml"


@FUZZ
@given(json_mutated(json.loads(plain_vault(V3_DB))) | json_mutated(json.loads(fixture("aegis_plain.json"))))
def test_reshaped_plain_vaults_raise_only_transfer_errors(data: bytes) -> None:
    with contextlib.suppress(TransferError):
        AEGIS.read(data)


SMALL_SEALED = json.loads(sealed_vault({"version": 3, "entries": [], "groups": []}, "pw", n=2**4))


@FUZZ
@given(json_mutated(SMALL_SEALED))
def test_reshaped_encrypted_vaults_raise_only_transfer_errors(data: bytes) -> None:
    with contextlib.suppress(TransferError):
        AEGIS.read(data, "pw")


# The edges, pinned by mutation testing (`make mutation`) ------------------------------------

WEBP_ICON = b"RIFF\x24\x00\x00\x00WEBPVP8 \x18\x00\x00\x00"


@pytest.mark.parametrize(
    ("icon", "mime"),
    [
        (PNG_ICON, "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"GIF89a\x01\x00\x01\x00", "image/gif"),
        (b'<?xml version="1.0"?><svg/>', "image/svg+xml"),
        (b"\n  <svg/>", "image/svg+xml"),  # editors leave a line break before the tag
        (b" " * 60 + b"<svg/>", "image/svg+xml"),  # the tag opens within the first 64 bytes
        (b" " * 61 + b"<svg/>", "image/png"),  # ... and is not looked for beyond them
        (WEBP_ICON, "image/webp"),
        (b"RIFF\x24\x00\x00\x00AVI LIST", "image/png"),  # RIFF holds other media too
        (b"\x00\x00\x00\x00\x00\x00\x00\x00WEBP", "image/png"),
        (b"no known signature", "image/png"),
    ],
)
def test_an_icon_without_a_mime_type_is_exported_with_the_type_its_bytes_show(icon: bytes, mime: str) -> None:
    spec = AccountSpec(issuer="x", name="y", params=OtpParams(OtpType.TOTP, b"k"), icon=icon)
    [entry] = json.loads(export_aegis([spec], None))["db"]["entries"]
    assert entry["icon_mime"] == mime
    assert entry["icon_hash"] == hashlib.sha256(mime.encode() + icon).hexdigest()


def test_an_empty_password_cannot_seal_an_export() -> None:
    with chinese(), pytest.raises(TransferError) as refusal:
        export_aegis(SAMPLE_SPECS, "")
    assert is_translated(str(refusal.value))


def test_the_exported_password_slot_has_every_field_aegis_reads() -> None:
    # Aegis's Slot.fromJson reads the uuid of every slot (UUID.fromString), then the scrypt fields.
    data = export_aegis(SAMPLE_SPECS[:1], "backup pw")
    [slot] = json.loads(data)["header"]["slots"]
    assert str(uuid.UUID(slot["uuid"])) == slot["uuid"]
    assert (slot["repaired"], slot["is_backup"]) == (True, False)
    assert len(bytes.fromhex(slot["key"])) == 32 and len(bytes.fromhex(slot["key_params"]["nonce"])) == 12


def test_each_exported_entry_has_its_own_uuid_and_an_explicit_icon() -> None:
    # Aegis writes every key of an entry, `"icon": null` included, and tells entries apart by uuid.
    entries = json.loads(export_aegis(SAMPLE_SPECS, None))["db"]["entries"]
    uuids = [entry["uuid"] for entry in entries]
    assert [str(uuid.UUID(text)) for text in uuids] == uuids and len(set(uuids)) == len(entries)
    assert {key for entry in entries for key in entry} >= {"type", "name", "issuer", "note", "favorite", "icon"}
    assert [entry["icon"] is None for entry in entries] == [False, True, True, True, True]


def test_a_plain_export_is_laid_out_as_aegis_writes_it() -> None:
    # Aegis writes a plain vault with a null header, indented by four spaces, text as it is (not \u escapes):
    # a file people open in an editor to check their backup.
    spec = AccountSpec(issuer="Bücherei", name="李雷", params=OtpParams(OtpType.TOTP, b"k"))
    data = export_aegis([spec], None)
    assert data.startswith(b'{\n    "version": 1,\n    "header": {\n        "slots": null,\n        "params": null\n')
    assert "Bücherei".encode() in data and "李雷".encode() in data
