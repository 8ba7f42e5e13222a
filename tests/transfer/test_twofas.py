"""2FAS backups: the interop fixtures, schema 1, groups, and protected backups sealed here with 2FAS's crypto."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from hypothesis import given
from interop_fixtures import assert_matches_vectors, fixture, fuzz
from transfer_strategies import json_mutated

from webauth.otp import Algorithm, OtpType
from webauth.transfer.base import PasswordRequired, TransferError, WrongPassword
from webauth.transfer.twofas import TwoFasImporter

TWOFAS = TwoFasImporter()
FUZZ = fuzz(200)
REFERENCE = b"tRViSsLKzd86Hprh4ceC2OP7xazn4rrt4xhfEUbOjxLX8Rc3mkISXE0lWbmnWfggogbBJhtYgpK6fMl1D6mtsy92R3HkdGfwuX"


def seal(plaintext: bytes, password: str, salt: bytes) -> str:
    """`base64(ciphertext+tag):base64(salt):base64(iv)` with PBKDF2-HMAC-SHA256 10,000 and AES-GCM, as 2FAS writes."""
    key = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt, iterations=10_000).derive(password.encode())
    iv = os.urandom(12)
    sealed = AESGCM(key).encrypt(iv, plaintext, None)
    return ":".join(base64.b64encode(part).decode() for part in (sealed, salt, iv))


def backup(services: list[Any], schema: int = 4, **extra: Any) -> dict[str, Any]:
    return {
        "services": services,
        "groups": [],
        "updatedAt": 1702934732299,
        "schemaVersion": schema,
        "appVersionCode": 5000009,
        "appVersionName": "5.1.0",
        "appOrigin": "android",
        **extra,
    }


def protected(services: list[Any], password: str, **extra: Any) -> bytes:
    salt = os.urandom(256)
    doc = backup(
        [],
        servicesEncrypted=seal(json.dumps(services).encode(), password, salt),
        reference=seal(REFERENCE, password, salt),
        **extra,
    )
    return json.dumps(doc).encode()


SERVICES = [
    {
        "name": "GitHub",
        "secret": "JBSWY3DPEHPK3PXP",
        "otp": {
            "account": "alice",
            "issuer": "GitHub",
            "digits": 8,
            "period": 60,
            "algorithm": "SHA512",
            "tokenType": "TOTP",
        },
        "order": {"position": 0},
        "groupId": "g-work",
    },
    {
        "name": "Steam",
        "secret": "JRZCL47CMXVOQMNPZR2F7J4RGI",
        "otp": {"account": "gamer", "tokenType": "STEAM", "digits": 5, "period": 30, "algorithm": "SHA1"},
    },
    {"name": "Odd", "secret": "JBSWY3DPEHPK3PXP", "otp": {"account": "x", "tokenType": "YANDEX"}},
]
GROUPS = [{"id": "g-work", "name": "Work", "isExpanded": True}]


def test_plain_fixture_matches_the_vectors() -> None:
    data = fixture("2fas_authenticator_plain_v4.2fas")
    assert TWOFAS.sniff(data)
    assert_matches_vectors("2fas_authenticator_plain_v4.2fas", TWOFAS.read(data))


def test_encrypted_fixture_matches_the_vectors() -> None:
    data = fixture("2fas_authenticator_encrypted_v4.2fas")
    assert_matches_vectors("2fas_authenticator_encrypted_v4.2fas", TWOFAS.read(data, "test"))


def test_schema_1_without_algorithm_digits_or_period() -> None:
    doc = {
        "services": [{"name": "Dropbox", "secret": "jbsw y3dp ehpk 3pxp", "otp": {"account": "me"}}],
        "schemaVersion": 1,
    }
    (entry,) = TWOFAS.read(json.dumps(doc).encode())
    assert entry.spec is not None
    params = entry.spec.params
    assert (entry.spec.issuer, entry.spec.name) == ("Dropbox", "me")
    assert (params.type, params.algorithm, params.digits, params.period) == (OtpType.TOTP, Algorithm.SHA1, 6, 30)


def test_groups_types_and_unsupported_tokens() -> None:
    github, steam, odd = TWOFAS.read(json.dumps(backup(SERVICES, groups=GROUPS)).encode())
    assert github.spec is not None and github.spec.groups == ("Work",)
    assert (github.spec.params.algorithm, github.spec.params.digits, github.spec.params.period) == (
        Algorithm.SHA512,
        8,
        60,
    )
    assert steam.spec is not None and steam.spec.params.type is OtpType.STEAM
    assert odd.spec is None and "YANDEX" in (odd.problem or "")


def test_protected_backup_written_with_2fas_crypto() -> None:
    data = protected(SERVICES, "hunter2", groups=GROUPS)
    entries = TWOFAS.read(data, "hunter2")
    assert [entry.spec.name for entry in entries if entry.spec] == ["alice", "gamer"]
    assert entries[0].spec is not None and entries[0].spec.groups == ("Work",)
    with pytest.raises(PasswordRequired):
        TWOFAS.read(data)
    with pytest.raises(WrongPassword):
        TWOFAS.read(data, "hunter3")


def test_protected_backup_with_altered_services_after_a_good_reference() -> None:
    doc = json.loads(protected(SERVICES, "pw"))
    sealed, salt, iv = doc["servicesEncrypted"].split(":")
    raw = bytearray(base64.b64decode(sealed))
    raw[0] ^= 1
    doc["servicesEncrypted"] = ":".join([base64.b64encode(bytes(raw)).decode(), salt, iv])
    with pytest.raises(WrongPassword, match="altered"):
        TWOFAS.read(json.dumps(doc).encode(), "pw")


def test_unknown_schema_is_refused() -> None:
    with pytest.raises(TransferError, match="schema"):
        TWOFAS.read(json.dumps(backup(SERVICES, schema=5)).encode())


@FUZZ
@given(
    json_mutated(json.loads(fixture("2fas_authenticator_plain_v4.2fas")))
    | json_mutated(backup(SERVICES, groups=GROUPS))
    | json_mutated(json.loads(fixture("2fas_authenticator_encrypted_v4.2fas")))
)
def test_reshaped_backups_raise_only_transfer_errors(data: bytes) -> None:
    with contextlib.suppress(TransferError):
        TWOFAS.read(data, "test")


# The edges, pinned by mutation testing (`make mutation`) ------------------------------------


@pytest.mark.parametrize("schema", [1, 2, 3, 4])
def test_every_supported_schema_is_read(schema: int) -> None:
    (entry, *_rest) = TWOFAS.read(json.dumps(backup(SERVICES, schema=schema)).encode())
    assert entry.spec is not None and entry.spec.name == "alice"


@pytest.mark.parametrize("schema", [0, 5, True, "4", None])
def test_other_schemas_are_refused_by_name(schema: object) -> None:
    expected = rf"^2FAS backup schema {re.escape(repr(schema))} is not supported \(1 to 4 are\)$"
    with pytest.raises(TransferError, match=expected):
        TWOFAS.read(json.dumps(backup(SERVICES, schema=schema)).encode())  # type: ignore[arg-type]


def test_labels_fall_back_and_groups_need_an_id_and_a_name() -> None:
    services = [
        {"secret": "JBSWY3DPEHPK3PXP", "otp": {"issuer": "Otp Issuer", "label": "Label", "digits": "8"}},
        {"name": "Named", "secret": "JBSWY3DPEHPK3PXP", "otp": {"account": "acct"}, "groupId": "g2"},
        "not a service",
        {"name": "No otp", "secret": "JBSWY3DPEHPK3PXP", "groupId": "g3"},
        {"name": "Bad otp", "secret": "JBSWY3DPEHPK3PXP", "otp": ["x"]},
        {"name": "Hotp", "secret": "JBSWY3DPEHPK3PXP", "otp": {"tokenType": "hotp", "counter": "7"}},
    ]
    groups = [{"id": "g2", "name": "Two"}, {"id": "g3"}, {"name": "orphan"}, "junk", {"id": 3, "name": "x"}]
    fallback, named, junk, no_otp, bad_otp, hotp = TWOFAS.read(json.dumps(backup(services, groups=groups)).encode())
    assert fallback.spec is not None and fallback.source == "service 1"
    assert (fallback.spec.issuer, fallback.spec.name, fallback.spec.params.digits) == ("Otp Issuer", "Label", 8)
    assert named.spec is not None and named.source == "service 2 (Named: acct)" and named.spec.groups == ("Two",)
    assert (junk.source, junk.spec, junk.problem) == ("service 3", None, "This is not a 2FAS service.")
    assert no_otp.spec is not None and no_otp.spec.groups == () and no_otp.spec.params.type is OtpType.TOTP
    assert (bad_otp.source, bad_otp.problem) == (
        "service 5 (Bad otp)",
        "This service has no code settings (its otp part is damaged).",
    )
    assert hotp.spec is not None and (hotp.spec.params.type, hotp.spec.params.counter) == (OtpType.HOTP, 7)


def test_an_empty_sealed_value_is_a_plain_backup_and_a_password_check_is_optional() -> None:
    assert len(TWOFAS.read(json.dumps(backup(SERVICES, servicesEncrypted="")).encode())) == 3
    doc = json.loads(protected(SERVICES, "pw"))
    del doc["reference"]
    assert len(TWOFAS.read(json.dumps(doc).encode(), "pw")) == 3
    with pytest.raises(WrongPassword, match=r"^Wrong password for this 2FAS backup$"):
        TWOFAS.read(json.dumps(doc).encode(), "other")


@pytest.mark.parametrize(
    "value",
    [
        "a:b",  # two parts
        "a:b:c:d",  # four
        "{sealed}:{salt}:" + base64.b64encode(b"\0" * 11).decode(),  # an 11-byte iv
        base64.b64encode(b"\0" * 15).decode() + ":{salt}:{iv}",  # shorter than a tag
    ],
)
def test_a_malformed_sealed_value_is_named(value: str) -> None:
    doc = json.loads(protected(SERVICES, "pw"))
    sealed, salt, iv = doc["servicesEncrypted"].split(":")
    doc["servicesEncrypted"] = value.format(sealed=sealed, salt=salt, iv=iv)
    del doc["reference"]
    with pytest.raises(TransferError, match=r"^The service list of the 2FAS backup is malformed$"):
        TWOFAS.read(json.dumps(doc).encode(), "pw")


def test_the_shortest_sealed_value_is_opened() -> None:
    # An empty service list sealed is exactly one tag long: the bound is inclusive.
    salt = os.urandom(256)
    doc = backup([], servicesEncrypted=seal(b"[]", "pw", salt), reference=seal(REFERENCE, "pw", salt))
    sealed = doc["servicesEncrypted"].split(":")[0]
    assert len(base64.b64decode(sealed)) == 2 + 16
    assert TWOFAS.read(json.dumps(doc).encode(), "pw") == []


def test_sniff_needs_a_schema_number_and_a_service_list() -> None:
    assert TWOFAS.sniff(json.dumps({"schemaVersion": 4, "services": []}).encode())
    assert not TWOFAS.sniff(json.dumps({"schemaVersion": "4", "services": []}).encode())
    assert not TWOFAS.sniff(json.dumps({"schemaVersion": 4, "services": {}}).encode())
    assert not TWOFAS.sniff(json.dumps([{"schemaVersion": 4, "services": []}]).encode())


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([], r"^The 2FAS backup is not a JSON object$"),
        ({"schemaVersion": 4, "services": [], "groups": "g"}, r"^The groups is not a JSON list$"),
        ({"schemaVersion": 4, "services": {}}, r"^The service list is not a JSON list$"),
        ({"schemaVersion": "4" * 30, "services": []}, r"^2FAS backup schema '4444444444444444444 is not supported"),
    ],
)
def test_the_parts_of_a_backup_are_named_when_refused(doc: object, message: str) -> None:
    with pytest.raises(TransferError, match=message):
        TWOFAS.read(json.dumps(doc).encode())


def test_a_long_unknown_token_type_is_cut_in_the_problem() -> None:
    [entry] = TWOFAS.read(json.dumps(backup([{**SERVICES[2], "otp": {"tokenType": "Y" * 30}}])).encode())
    assert entry.problem == (
        "'YYYYYYYYYYYYYYYYYYY accounts cannot be imported: webauth makes TOTP, HOTP and Steam codes."
    )


def test_an_empty_password_check_is_no_check() -> None:
    doc = json.loads(protected(SERVICES, "pw"))
    doc["reference"] = ""
    assert len(TWOFAS.read(json.dumps(doc).encode(), "pw")) == 3
    with pytest.raises(WrongPassword, match=r"^Wrong password for this 2FAS backup$"):
        TWOFAS.read(json.dumps(doc).encode(), "other")


def test_damaged_sealed_parts_are_named() -> None:
    doc = json.loads(protected(SERVICES, "pw"))
    sealed, salt, _iv = doc["reference"].split(":")
    with pytest.raises(TransferError, match=r"^The password check of the 2FAS backup is malformed$"):
        TWOFAS.read(json.dumps({**doc, "reference": f"{sealed}:{salt}"}).encode(), "pw")
    with pytest.raises(TransferError, match=r"^The password check is not valid base64$"):
        TWOFAS.read(json.dumps({**doc, "reference": f"{sealed}:{salt}:!!"}).encode(), "pw")
    empty = seal(b"", "pw", base64.b64decode(salt))
    assert len(base64.b64decode(empty.split(":")[0])) == 16  # a tag and nothing else: the shortest value
    with pytest.raises(TransferError, match=r"^The decrypted service list is not valid JSON"):
        TWOFAS.read(json.dumps({**doc, "servicesEncrypted": empty}).encode(), "pw")
