"""andOTP backups: the plain fixture, and both encrypted layouts sealed here with andOTP's crypto."""

from __future__ import annotations

import contextlib
import hashlib
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

from webauth.otp import OtpType
from webauth.transfer import andotp
from webauth.transfer.andotp import AndOtpImporter
from webauth.transfer.base import PasswordRequired, TransferError, WrongPassword

ANDOTP = AndOtpImporter()
FUZZ = fuzz(200)

ENTRIES: list[dict[str, Any]] = [
    {
        "secret": "JBSWY3DPEHPK3PXP",
        "issuer": "GitHub",
        "label": "alice",
        "digits": 6,
        "type": "TOTP",
        "algorithm": "SHA1",
        "period": 30,
        "tags": ["Work", "Dev"],
    },
    {
        "secret": "KUVJJOM753IHTNDSZVCNKL7GII======",
        "label": "Bank - bob",
        "digits": 8,
        "type": "HOTP",
        "algorithm": "SHA256",
        "counter": 7,
        "tags": [],
    },
    {"secret": "JBSWY3DPEHPK3PXP", "issuer": "Old", "label": "m", "digits": 6, "type": "MOTP", "algorithm": "MD5"},
]


def seal_new(plaintext: bytes, password: str, iterations: int = 140_000) -> bytes:
    """andOTP's `.json.aes`: iterations (4 bytes, big-endian), salt, nonce, AES-GCM; key from PBKDF2-HMAC-SHA1."""
    salt, nonce = os.urandom(12), os.urandom(12)
    kdf = PBKDF2HMAC(algorithm=hashes.SHA1(), length=32, salt=salt, iterations=iterations)  # noqa: S303
    return (
        iterations.to_bytes(4, "big")
        + salt
        + nonce
        + AESGCM(kdf.derive(password.encode())).encrypt(nonce, plaintext, None)
    )


def seal_old(plaintext: bytes, password: str) -> bytes:
    """The old layout: nonce then AES-GCM, with SHA-256(password) as the key."""
    nonce = os.urandom(12)
    return nonce + AESGCM(hashlib.sha256(password.encode()).digest()).encrypt(nonce, plaintext, None)


def test_plain_fixture_matches_the_vectors() -> None:
    data = fixture("andotp_plain.json")
    assert ANDOTP.sniff(data)
    assert_matches_vectors("andotp_plain.json", ANDOTP.read(data))


def test_tags_old_labels_and_unsupported_types() -> None:
    github, bank, motp = ANDOTP.read(json.dumps(ENTRIES).encode())
    assert github.spec is not None and github.spec.groups == ("Work", "Dev")
    assert bank.spec is not None
    assert (bank.spec.issuer, bank.spec.name, bank.spec.params.type, bank.spec.params.counter) == (
        "Bank",
        "bob",
        OtpType.HOTP,
        7,
    )
    assert motp.spec is None and "MOTP" in (motp.problem or "")


def test_new_encrypted_format() -> None:
    data = seal_new(json.dumps(ENTRIES).encode(), "pässword")
    assert ANDOTP.sniff(data)
    entries = ANDOTP.read(data, "pässword")
    assert [entry.spec.issuer for entry in entries if entry.spec] == ["GitHub", "Bank"]
    with pytest.raises(PasswordRequired):
        ANDOTP.read(data)
    with pytest.raises(WrongPassword):
        ANDOTP.read(data, "password")


def test_old_encrypted_format() -> None:
    data = seal_old(json.dumps(ENTRIES).encode(), "old secret")
    entries = ANDOTP.read(data, "old secret")
    assert len(entries) == 3 and entries[0].spec is not None
    with pytest.raises(WrongPassword):
        ANDOTP.read(data, "new secret")


def test_json_object_is_not_an_andotp_backup() -> None:
    with pytest.raises(TransferError, match="not a list"):
        ANDOTP.read(b'{"entries": []}')


SMALL_SEALED = seal_new(json.dumps(ENTRIES).encode(), "pw", iterations=10)


@FUZZ
@given(json_mutated(ENTRIES))
def test_reshaped_backups_raise_only_transfer_errors(data: bytes) -> None:
    with contextlib.suppress(TransferError):
        ANDOTP.read(data, "pw")


# The edges, pinned by mutation testing (`make mutation`) ------------------------------------


def test_the_iteration_bounds_are_inclusive(monkeypatch: pytest.MonkeyPatch) -> None:
    assert len(ANDOTP.read(seal_new(json.dumps(ENTRIES).encode(), "pw", iterations=1), "pw")) == 3
    monkeypatch.setattr(andotp, "MAX_ITERATIONS", 20)
    assert len(ANDOTP.read(seal_new(json.dumps(ENTRIES).encode(), "pw", iterations=20), "pw")) == 3
    # Past the bound the new layout is not tried: the old one does not open it either.
    with pytest.raises(WrongPassword):
        ANDOTP.read(seal_new(json.dumps(ENTRIES).encode(), "pw", iterations=21), "pw")


def test_the_shortest_files_of_each_layout_are_read_not_refused_as_short() -> None:
    new = seal_new(b"", "pw", iterations=140_000)
    old = seal_old(b"", "pw")
    assert (len(new), len(old)) == (4 + 12 + 12 + 16, 12 + 16)
    assert ANDOTP.sniff(new) and not ANDOTP.sniff(new[:-1])
    for data in (new, old):
        with pytest.raises(TransferError, match=r"^The decrypted backup is not valid JSON"):
            ANDOTP.read(data, "pw")
    with pytest.raises(TransferError, match=r"^The file is too short to be an andOTP backup$"):
        ANDOTP.read(old[:-1], "pw")


def test_entries_without_a_type_text_numbers_and_old_labels() -> None:
    raw = [
        7,
        {"secret": "JBSWY3DPEHPK3PXP", "label": "Bank - bob - work", "digits": "8", "period": "60"},
    ]
    problem, entry = ANDOTP.read(json.dumps(raw).encode())
    assert (problem.source, problem.problem) == ("entry 1", "This is not an andOTP entry.")
    assert entry.spec is not None and entry.source == "entry 2 (Bank - bob - work)"
    assert (entry.spec.issuer, entry.spec.name) == ("Bank", "bob - work")
    assert (entry.spec.params.type, entry.spec.params.digits, entry.spec.params.period) == (OtpType.TOTP, 8, 60)


def test_a_list_of_one_entry_with_only_the_keys_andotp_always_writes_is_andotp() -> None:
    assert ANDOTP.sniff(json.dumps([{"secret": "JBSWY3DPEHPK3PXP", "type": "TOTP", "label": "x"}]).encode())
    assert not ANDOTP.sniff(json.dumps([{"secret": "JBSWY3DPEHPK3PXP", "label": "x"}]).encode())


def test_an_issuer_keeps_the_label_whole_and_tags_must_be_text() -> None:
    raw = [
        {"secret": "JBSWY3DPEHPK3PXP", "issuer": "Bank", "label": "a - b", "type": "TOTP"},
        {"secret": "JBSWY3DPEHPK3PXP", "label": "x", "type": "TOTP", "tags": ["Work", 1]},
        {"secret": "JBSWY3DPEHPK3PXP", "label": "y", "type": "M" * 30},
    ]
    kept, bad_tags, long_type = ANDOTP.read(json.dumps(raw).encode())
    assert kept.spec is not None and (kept.spec.issuer, kept.spec.name) == ("Bank", "a - b")
    assert (bad_tags.spec, bad_tags.problem) == (None, "The tags of this entry are damaged.")
    assert long_type.problem == (
        "'MMMMMMMMMMMMMMMMMMM accounts cannot be imported: webauth makes TOTP, HOTP and Steam codes."
    )
