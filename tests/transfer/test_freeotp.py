"""FreeOTP+: the interop fixture (signed-byte secrets, stored counters) and the app's edit fields."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from interop_fixtures import STRUCTURED, assert_matches_vectors, fixture, fuzz, json_values, shaped

from webauth.otp import Algorithm, OtpType
from webauth.transfer.base import ImportedEntry, TransferError
from webauth.transfer.freeotp import FreeOtpPlusImporter

IMPORTER = FreeOtpPlusImporter()
FUZZ = fuzz(200)
SECRET = [-19, 64, -59, -18, -5, -20, -50, 34, 6, -79]  # 10 bytes, some above 127 once unsigned


def backup(**token: Any) -> bytes:
    base = {"type": "TOTP", "algo": "SHA1", "digits": 6, "period": 30, "counter": 0, "secret": SECRET}
    return json.dumps({"tokens": [{**base, **token}], "tokenOrder": []}).encode()


def read_one(**token: Any) -> ImportedEntry:
    [entry] = IMPORTER.read(backup(**token))
    return entry


def test_fixture_imports_as_expected_with_stored_counters() -> None:
    data = fixture("freeotp_plus.json")
    assert IMPORTER.sniff(data)

    def stored_counter(vector: dict[str, Any]) -> dict[str, Any]:
        # FreeOTP+ stores each HOTP counter one lower than the vector: it is imported as stored.
        return {**vector, "counter": vector["counter"] - 1} if vector["type"] == "hotp" else vector

    assert_matches_vectors("freeotp_plus.json", IMPORTER.read(data), adjust=stored_counter)


def test_signed_bytes_become_the_raw_secret() -> None:
    entry = read_one(issuerExt="Acme", label="bob")
    assert entry.spec.params.secret == bytes(byte & 0xFF for byte in SECRET)


def test_the_users_edits_win_over_the_original_issuer_and_label() -> None:
    entry = read_one(issuerExt="Orig", issuerAlt="Edited", label="bob", labelAlt="robert")
    assert (entry.spec.issuer, entry.spec.name) == ("Edited", "robert")


def test_issuer_falls_back_to_the_uri_issuer_parameter() -> None:
    entry = read_one(issuerExt="", issuerInt="FromParam", label="bob")
    assert entry.spec.issuer == "FromParam"


def test_a_steam_issuer_gives_a_steam_account() -> None:
    entry = read_one(issuerExt="Steam", label="gaben", digits=5)
    assert entry.spec.params.type is OtpType.STEAM


def test_hotp_counter_algorithm_and_category() -> None:
    entry = read_one(type="HOTP", algo="sha256", counter=41, digits=8, label="x", category="Work")
    params = entry.spec.params
    assert (params.type, params.algorithm, params.counter, params.digits) == (OtpType.HOTP, Algorithm.SHA256, 41, 8)
    assert entry.spec.groups == ("Work",)


@pytest.mark.parametrize(
    ("token", "field"),
    [
        ({"secret": [1, 200]}, "secret"),
        ({"secret": "JBSWY3DP"}, "secret"),
        ({"secret": []}, "secret"),
        ({"algo": "MD5"}, "algorithm"),
        ({"type": "MOTP"}, "kind"),
        ({"type": None}, "type"),
        ({"digits": "6"}, "digits"),
        ({"period": 0}, "period"),
        ({"label": ["x"]}, "label"),
    ],
)
def test_a_bad_token_is_a_problem(token: dict[str, Any], field: str) -> None:
    entry = read_one(**{"issuerExt": "Acme", "label": "bob", **token})
    assert entry.spec is None
    assert entry.problem is not None and field in entry.problem.lower()
    assert entry.source == ("token 1 (Acme)" if field == "label" else "token 1 (Acme: bob)")


def test_a_file_without_tokens_is_refused() -> None:
    assert not IMPORTER.sniff(b'{"tokenOrder": []}')
    with pytest.raises(TransferError, match="no list of tokens"):
        IMPORTER.read(b'{"tokens": {}}')


TOKEN_KEYS = ["type", "issuerExt", "issuerInt", "issuerAlt", "label", "labelAlt", "secret", "algo", "digits"]


@STRUCTURED
@given(tokens=st.lists(shaped([*TOKEN_KEYS, "period", "counter", "category"]) | json_values, max_size=5))
def test_any_field_values_raise_only_transfer_errors(tokens: list[object]) -> None:
    entries = IMPORTER.read(json.dumps({"tokens": tokens}).encode())
    assert len(entries) == len(tokens)


# The edges, pinned by mutation testing (`make mutation`) ------------------------------------


def test_missing_numbers_take_freeotps_defaults_and_a_missing_type_is_a_problem() -> None:
    raw = {"tokens": [{"type": "HOTP", "secret": SECRET, "label": "x"}, {"secret": SECRET, "label": "y"}]}
    hotp, untyped = IMPORTER.read(json.dumps(raw).encode())
    assert hotp.spec is not None
    params = hotp.spec.params
    assert (params.algorithm, params.digits, params.period, params.counter) == (Algorithm.SHA1, 6, 30, 0)
    assert (untyped.spec, untyped.problem) == (None, "This entry has no type field.")


@pytest.mark.parametrize(("byte", "ok"), [(-128, True), (127, True), (-129, False), (128, False)])
def test_secret_bytes_are_signed_java_bytes(byte: int, ok: bool) -> None:
    entry = read_one(secret=[byte, 1, 2, 3, 4], label="x")
    assert (entry.spec is not None) is ok
    if ok:
        assert entry.spec is not None and entry.spec.params.secret[0] == byte % 256


def test_the_source_prefers_the_users_names_and_sniffing_needs_an_object() -> None:
    entry = read_one(issuerExt="Ext", issuerAlt="Alt", label="Label", labelAlt="Edited")
    assert entry.source == "token 1 (Alt: Edited)"
    assert read_one(issuerExt="Ext", label="Label").source == "token 1 (Ext: Label)"
    assert not IMPORTER.sniff(json.dumps([{"tokens": []}]).encode())


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"[]", "This is not a FreeOTP+ backup file: it does not hold a JSON object."),
        (b'{"tokens": {}}', "This is not a FreeOTP+ backup: it has no list of tokens."),
    ],
)
def test_refusals_name_the_backup(data: bytes, message: str) -> None:
    with pytest.raises(TransferError) as refusal:
        IMPORTER.read(data)
    assert str(refusal.value) == message


def test_an_unknown_token_type_is_named_and_a_missing_period_is_thirty_seconds() -> None:
    assert read_one(type="MOTP", label="x").problem == (
        "This entry is of an unknown kind, 'MOTP': FreeOTP+ writes TOTP and HOTP."
    )
    raw = {"tokens": [{"type": "TOTP", "secret": SECRET, "label": "x"}]}
    [entry] = IMPORTER.read(json.dumps(raw).encode())
    assert entry.spec is not None and entry.spec.params.period == 30
