"""2FAS backups: the interop fixtures, schema 1, groups, and protected backups sealed here with 2FAS's crypto."""

from __future__ import annotations

import base64
import contextlib
import json
import os
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
