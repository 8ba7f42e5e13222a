"""Google Authenticator transfer URIs: the interop example, payloads built here byte by byte, and the exporter."""

from __future__ import annotations

import base64
import contextlib
import json
import re
from urllib.parse import quote, unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from interop_fixtures import fixture, fuzz, mutated
from transfer_strategies import account_specs, secret_bytes

from tests.support.i18n import chinese, is_translated
from webauth.otp import HMAC_ALGORITHMS, MAX_COUNTER, Algorithm, OtpParams, OtpType
from webauth.otpauth import AccountSpec, encode_secret
from webauth.transfer.base import TransferError
from webauth.transfer.google import (
    MAX_BATCH_PAYLOAD,
    GoogleMigrationImporter,
    decode_payload,
    encode_migration_uris,
    parse_migration_uri,
    split_migration_compatible,
)

GOOGLE = GoogleMigrationImporter()
FUZZ = fuzz(200)


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = b""
    while value > 0x7F:
        out += bytes([value & 0x7F | 0x80])
        value >>= 7
    return out + bytes([value])


def field(number: int, value: int | bytes | str) -> bytes:
    """One protobuf field: a varint for ints, length-delimited for bytes and text."""
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    raw = value.encode() if isinstance(value, str) else value
    return varint(number << 3 | 2) + varint(len(raw)) + raw


def account(
    secret: bytes = b"Hello!\xde\xad\xbe\xef",
    name: str = "Issuer:alice",
    issuer: str = "Issuer",
    algorithm: int = 1,
    digits: int = 1,
    otp_type: int = 2,
    counter: int | None = None,
) -> bytes:
    body = field(1, secret) + field(2, name) + field(3, issuer) + field(4, algorithm) + field(5, digits)
    body += field(6, otp_type) + (field(7, counter) if counter is not None else b"")
    return field(1, body)


def payload(*accounts: bytes, batch_id: int = -12345) -> bytes:
    return b"".join(accounts) + field(2, 1) + field(3, 1) + field(4, 0) + field(5, batch_id)


def uri(*accounts: bytes) -> str:
    return "otpauth-migration://offline?data=" + quote(base64.b64encode(payload(*accounts)).decode(), safe="")


def test_interop_example_matches_its_expected_file() -> None:
    data = fixture("google_migration_example.txt")
    assert GOOGLE.sniff(data)
    entries = GOOGLE.read(data)
    expected = json.loads(fixture("google_migration_example.expected.json"))
    assert len(entries) == len(expected) == 6
    for entry, wanted in zip(entries, expected, strict=True):
        assert entry.spec is not None, entry.problem
        params = entry.spec.params
        assert (entry.spec.name, entry.spec.issuer, params.type.value, encode_secret(params.secret)) == (
            wanted["name"],
            wanted["issuer"],
            wanted["type"],
            wanted["secret"],
        )
        assert params.counter == (wanted["counter"] or 0)


def test_uri_with_a_prefix_is_read() -> None:
    data = fixture("google_migration_bad_prefix.txt")
    assert GOOGLE.sniff(data)
    (entry,) = GOOGLE.read(data)
    assert entry.spec is not None and (entry.spec.issuer, entry.spec.name) == ("raspberrypi", "pi@raspberrypi")


def test_negative_batch_id_and_unescaped_plus() -> None:
    line = fixture("google_migration_bad_prefix.txt").decode().split("QR-Code:")[1].strip()
    batch = parse_migration_uri(line, "line 1")
    assert batch.batch_id < 0 and (batch.version, batch.batch_size, batch.batch_index) == (1, 1, 0)
    for variant in (line.replace("%2B", "+"), line.replace("%2B", " "), line.replace("%2F", "/")):
        assert parse_migration_uri(variant, "line 1").entries == batch.entries


def test_algorithms_digits_types_and_prefix_stripping() -> None:
    text = uri(
        account(algorithm=2, digits=2, name="Issuer:alice"),
        account(algorithm=3, otp_type=1, counter=99, name="Other:bob"),
        account(algorithm=0, digits=0, issuer="", name="plain:name"),
        account(algorithm=4),
        account(digits=3),
        account(otp_type=0),
    )
    sha256, hotp, unspecified, md5, bad_digits, bad_type = parse_migration_uri(text, "code").entries
    assert sha256.spec is not None and sha256.spec.name == "alice"
    assert (sha256.spec.params.algorithm, sha256.spec.params.digits) == (Algorithm.SHA256, 8)
    assert hotp.spec is not None and hotp.spec.name == "Other:bob"  # the prefix is not its issuer
    assert (hotp.spec.params.type, hotp.spec.params.algorithm, hotp.spec.params.counter) == (
        OtpType.HOTP,
        Algorithm.SHA512,
        99,
    )
    assert unspecified.spec is not None and unspecified.spec.name == "plain:name"
    assert (unspecified.spec.params.algorithm, unspecified.spec.params.digits) == (Algorithm.SHA1, 6)
    assert md5.spec is None and "MD5" in (md5.problem or "")
    assert bad_digits.spec is None and "number of digits" in (bad_digits.problem or "")
    assert bad_type.spec is None and "unknown kind" in (bad_type.problem or "")
    assert sha256.source == "code, account 1 (Issuer: alice)"


def test_broken_payloads() -> None:
    with pytest.raises(TransferError, match="base64"):
        parse_migration_uri("otpauth-migration://offline?data=!!!", "x")
    with pytest.raises(TransferError, match="no data"):
        parse_migration_uri("otpauth-migration://offline?foo=bar", "x")
    with pytest.raises(TransferError, match="truncated"):
        decode_payload(field(1, b"\x0a\x10abc")[:-1], "x")
    with pytest.raises(TransferError) as error:
        decode_payload(varint(1 << 3) + varint(5), "x")  # accounts must be length-delimited
    assert str(error.value) == "The transfer data is malformed (field 1 has wire type 0)"
    with pytest.raises(TransferError) as error:
        decode_payload(field(3, b"\x01"), "x")  # the batch size must be a number
    assert str(error.value) == "The transfer data is malformed (field 3 has wire type 2)"
    with pytest.raises(TransferError) as error:
        decode_payload(varint(2 << 3 | 3), "x")  # a group, which no proto3 message holds
    assert str(error.value) == "The transfer data is malformed (wire type 3)"
    (entry,) = decode_payload(field(1, b"\x08\x01"), "x").entries  # a secret written as a number
    assert entry.spec is None and "wire type" in (entry.problem or "")


def test_a_line_that_is_not_a_transfer_uri_is_a_problem() -> None:
    text = fixture("google_migration_example.txt") + b"\notpauth://totp/x?secret=JBSWY3DPEHPK3PXP\n"
    entries = GOOGLE.read(text)
    assert len(entries) == 7 and entries[-1].spec is None


compatible_params = st.builds(
    OtpParams,
    type=st.sampled_from([OtpType.TOTP, OtpType.HOTP]),
    secret=secret_bytes,
    algorithm=st.sampled_from(HMAC_ALGORITHMS),
    digits=st.sampled_from([6, 8]),
    counter=st.integers(0, MAX_COUNTER),
)


@settings(max_examples=100, deadline=None)
@given(st.lists(account_specs(params=compatible_params, full=False), max_size=15), st.integers(1, 12))
def test_export_round_trip(specs: list[AccountSpec], batch_size: int) -> None:
    uris = encode_migration_uris(specs, batch_size)
    batches = [parse_migration_uri(text, f"code {index}") for index, text in enumerate(uris)]
    assert [entry.spec for batch in batches for entry in batch.entries] == specs
    assert all(len(batch.entries) <= batch_size for batch in batches)
    assert [batch.batch_index for batch in batches] == list(range(len(uris)))
    assert {(batch.batch_size, batch.version) for batch in batches} <= {(len(uris), 1)}
    assert len({batch.batch_id for batch in batches}) <= 1


def test_exporter_refuses_what_the_format_cannot_hold() -> None:
    ok = AccountSpec(issuer="a", name="b", params=OtpParams(OtpType.TOTP, b"k"))
    steam = AccountSpec(issuer="Steam", name="g", params=OtpParams(OtpType.STEAM, b"k"))
    slow = AccountSpec(issuer="Slow", name="s", params=OtpParams(OtpType.TOTP, b"k", period=60))
    seven = AccountSpec(issuer="Seven", name="d", params=OtpParams(OtpType.HOTP, b"k", digits=7))
    compatible, incompatible = split_migration_compatible([ok, steam, slow, seven])
    assert compatible == [ok]
    assert [spec for spec, _ in incompatible] == [steam, slow, seven]
    with pytest.raises(TransferError, match=r"Steam: g.*Slow: s.*Seven: d"):
        encode_migration_uris([ok, steam, slow, seven])


def test_long_names_split_batches_below_the_qr_limit() -> None:
    spec = AccountSpec(issuer="I" * 200, name="n" * 200, params=OtpParams(OtpType.TOTP, b"k" * 32))
    uris = encode_migration_uris([spec] * 10)
    assert len(uris) > 1 and all(len(text) < 2400 for text in uris)


@FUZZ
@given(st.binary(max_size=300))
def test_arbitrary_payloads_raise_only_transfer_errors(data: bytes) -> None:
    with contextlib.suppress(TransferError):
        decode_payload(data, "x")


@FUZZ
@given(
    mutated(
        base64.b64decode(
            uri(account(), account(otp_type=1, counter=5))[33:]
            .replace("%2B", "+")
            .replace("%2F", "/")
            .replace("%3D", "=")
        )
    )
)
def test_mutated_payloads_raise_only_transfer_errors(data: bytes) -> None:
    with contextlib.suppress(TransferError):
        decode_payload(data, "x")


# The edges, pinned by mutation testing (`make mutation`) ------------------------------------


def test_every_line_is_read_after_one_that_is_not_a_transfer_uri() -> None:
    text = f"hello\n{uri(account())}\notpauth-migration://offline?data=%21%21\n{uri(account(name='bob'))}\n"
    junk, alice, broken, bob = GOOGLE.read(text.encode())
    assert (junk.source, junk.spec, junk.problem) == (
        "line 1",
        None,
        "This is not a Google Authenticator transfer link (otpauth-migration://).",
    )
    assert alice.spec is not None and alice.spec.name == "alice"
    assert (broken.source, broken.spec, broken.problem) == ("line 3", None, "The transfer data is not valid base64")
    assert bob.spec is not None and bob.spec.name == "bob"


def test_transfer_codes_without_any_account_are_refused() -> None:
    with pytest.raises(TransferError) as refusal:
        GOOGLE.read(f"{uri()}\n".encode())
    assert str(refusal.value) == "The transfer codes in this file hold no account"


def test_the_exported_name_carries_the_issuer_as_google_writes_it() -> None:
    spec = AccountSpec(issuer="Issuer", name="alice", params=OtpParams(OtpType.TOTP, b"k"))
    [text] = encode_migration_uris([spec])
    payload = base64.b64decode(unquote(text.split("data=", 1)[1]))
    assert b"Issuer:alice" in payload


def refusal(data: bytes) -> str:
    """The refusal of a payload, as a reader of Chinese sees it (it must have been translated)."""
    with chinese(), pytest.raises(TransferError) as refused:
        decode_payload(data, "x")
    assert is_translated(str(refused.value)), refused.value
    return str(refused.value)


def test_numbers_are_read_up_to_64_bits_and_refused_beyond() -> None:
    largest = b"\xff" * 9 + b"\x01"  # 2**64 - 1 in ten bytes: how protobuf writes -1 as an int32
    assert decode_payload(varint(2 << 3) + largest, "x").version == -1
    oversized = b"\x80" * 9 + b"\x02"  # 2**64, still ten bytes
    overlong = b"\x80" * 10 + b"\x00"  # eleven bytes: no varint is that long
    truncated = b"\x80\x80"
    messages = {refusal(varint(2 << 3) + number) for number in (oversized, overlong, truncated)}
    assert len(messages) == 3  # each says what is wrong


def test_fixed_width_and_unknown_fields_are_skipped_as_protobuf_does() -> None:
    # Newer versions of the app may add fields; a reader skips what it does not know, whatever its wire type.
    fixed32, fixed64 = varint(8 << 3 | 5) + b"\x01\x02\x03\x04", varint(9 << 3 | 1) + b"\x01" * 8
    extra = fixed32 + fixed64 + field(10, b"later") + field(11, 7)
    known = account()
    inner = known[2:]  # the account's own fields, after its tag and its one-byte length
    with_extra = field(1, inner + extra)
    [plain] = decode_payload(known, "x").entries
    [extended] = decode_payload(with_extra + extra, "x").entries
    assert extended.spec == plain.spec and plain.spec is not None
    assert refusal(known + fixed32[:-1])  # a fixed-width field cut short is truncated
    assert refusal(known + varint(12 << 3 | 3))  # group wire types are not part of this message


def test_a_field_that_ends_exactly_at_the_end_of_the_data_is_read() -> None:
    [entry] = decode_payload(account(), "x").entries  # no batch fields after the account
    assert entry.spec is not None and entry.spec.name == "alice"
    assert refusal(account()[:-1])


def test_a_field_numbered_zero_is_refused() -> None:
    assert refusal(varint(0 << 3) + varint(1))


@pytest.mark.parametrize(("name", "value"), [("algorithm", -1), ("digits", -2), ("type", -3)])
def test_negative_codes_are_named_as_the_app_wrote_them(name: str, value: int) -> None:
    # protobuf writes a negative int32 as a ten-byte varint; the problem names the code, not 2**64 - 1.
    [entry] = decode_payload(account(**{"otp_type" if name == "type" else name: value}), "x").entries
    assert entry.spec is None and entry.problem is not None
    assert str(value) in entry.problem


def test_a_batch_holds_at_most_the_batch_size() -> None:
    spec = AccountSpec(issuer="a", name="b", params=OtpParams(OtpType.TOTP, b"k"))
    assert len(encode_migration_uris([spec] * 10)) == 1
    assert len(encode_migration_uris([spec] * 11)) == 2
    assert len(encode_migration_uris([spec] * 3, batch_size=1)) == 3
    with pytest.raises(ValueError):
        encode_migration_uris([spec], batch_size=0)


def test_the_export_is_the_payload_google_writes_byte_for_byte() -> None:
    alice = AccountSpec(issuer="Issuer", name="alice", params=OtpParams(OtpType.TOTP, b"\xff\xff\xff"))
    bob = AccountSpec(issuer="", name="bob", params=OtpParams(OtpType.HOTP, b"k", Algorithm.SHA256, 8, counter=7))
    [text] = encode_migration_uris([alice, bob])
    assert re.fullmatch(r"otpauth-migration://offline\?data=[A-Za-z0-9%]+", text)  # "/", "+" and "=" escaped
    batch_id = parse_migration_uri(text, "x").batch_id
    expected = account(secret=b"\xff\xff\xff", name="Issuer:alice") + field(
        1, field(1, b"k") + field(2, "bob") + field(4, 2) + field(5, 2) + field(6, 1) + field(7, 7)
    )
    data = base64.b64decode(unquote(text.split("data=", 1)[1]))
    assert data == expected + field(2, 1) + field(3, 1) + field(4, 0) + field(5, batch_id)


def spec_of_encoded_size(size: int) -> AccountSpec:
    """A TOTP account whose encoded `OtpParameters` field takes exactly `size` bytes (secret and names at length)."""
    secret, issuer = b"k" * 256, "I" * 100
    [name] = [
        "n" * length
        for length in range(200)
        if len(account(secret=secret, name=f"{issuer}:{'n' * length}", issuer=issuer)) == size
    ]
    return AccountSpec(issuer=issuer, name=name, params=OtpParams(OtpType.TOTP, secret))


def test_a_code_holds_accounts_up_to_exactly_its_payload_bound() -> None:
    half = spec_of_encoded_size(MAX_BATCH_PAYLOAD // 2)
    assert [len(parse_migration_uri(uri, "x").entries) for uri in encode_migration_uris([half] * 3)] == [2, 1]
    over = spec_of_encoded_size(MAX_BATCH_PAYLOAD // 2 + 1)
    assert [len(parse_migration_uri(uri, "x").entries) for uri in encode_migration_uris([half, over])] == [1, 1]


def test_refusals_of_the_exporter_list_each_account_apart() -> None:
    steam = AccountSpec(issuer="Steam", name="g", params=OtpParams(OtpType.STEAM, b"k"))
    slow = AccountSpec(issuer="Slow", name="s", params=OtpParams(OtpType.TOTP, b"k", period=60))
    with pytest.raises(TransferError) as refusal:
        encode_migration_uris([steam, slow])
    assert "; Slow: s:" in str(refusal.value)
    with pytest.raises(ValueError, match=r"^batch_size must be at least 1$"):
        encode_migration_uris([steam], batch_size=0)


def test_each_account_google_cannot_hold_has_its_own_reason() -> None:
    motp = AccountSpec(issuer="VPN", name="m", params=OtpParams(OtpType.MOTP, bytes(8), pin="1234"))
    yandex = AccountSpec(issuer="Yandex", name="y", params=OtpParams(OtpType.YANDEX, bytes(16), pin="1234"))
    slow = AccountSpec(issuer="Slow", name="s", params=OtpParams(OtpType.TOTP, b"k", period=45))
    seven = AccountSpec(issuer="Seven", name="d", params=OtpParams(OtpType.HOTP, b"k", digits=7))
    with chinese():
        _compatible, incompatible = split_migration_compatible([motp, yandex, slow, seven])
    reasons = [reason for _spec, reason in incompatible]
    assert all(is_translated(reason) for reason in reasons) and len(set(reasons)) == 4
    assert "45" in reasons[2] and "7" in reasons[3]  # the period and the digits the account has


def test_transfer_uris_in_the_forms_scanners_save_them() -> None:
    text = uri(account())
    padded = text.replace("%3D", "=").replace("%2B", "+").replace("%2F", "/")
    assert "=" in padded.split("data=", 1)[1]  # the base64 padding, unescaped
    for variant in (padded, text.replace("?data=", "?v=1&data=") + "&x=y"):
        [entry] = parse_migration_uri(variant, "x").entries
        assert entry.spec is not None and entry.spec.name == "alice"


@pytest.mark.parametrize(
    "text",
    ["otpauth-migration://online?data=CgA", "otpauth://offline?data=CgA", "otpauth-migration://[offline?data=CgA"],
)
def test_only_offline_transfer_uris_are_read(text: str) -> None:
    with chinese(), pytest.raises(TransferError) as refusal:
        parse_migration_uri(text, "x")
    assert is_translated(str(refusal.value))


def test_a_name_or_issuer_that_is_not_utf8_is_a_problem_naming_the_field() -> None:
    broken_name = field(1, field(1, b"k") + field(2, b"\xff") + field(4, 1) + field(5, 1) + field(6, 2))
    broken_issuer = field(
        1, field(1, b"k") + field(2, "a") + field(3, b"\xff") + field(4, 1) + field(5, 1) + field(6, 2)
    )
    with chinese():
        name, issuer = decode_payload(broken_name + broken_issuer, "x").entries
    assert name.spec is None and issuer.spec is None and name.problem and issuer.problem
    assert is_translated(name.problem) and is_translated(issuer.problem)
    # each names its field as the format does
    assert re.search(r"(?<![A-Za-z])name(?![A-Za-z])", name.problem)
    assert re.search(r"(?<![A-Za-z])issuer(?![A-Za-z])", issuer.problem)


def test_a_code_written_with_the_wrong_wire_type_is_a_problem() -> None:
    with chinese():
        [entry] = decode_payload(field(1, field(1, b"k") + field(2, "a") + field(5, b"\x01")), "x").entries
    assert entry.spec is None and entry.problem is not None and is_translated(entry.problem)


def test_int32_codes_are_read_from_their_low_32_bits_as_protobuf_reads_them() -> None:
    [entry] = decode_payload(account(algorithm=1 << 32 | 2, digits=1 << 32 | 2, otp_type=1 << 32 | 1), "x").entries
    assert entry.spec is not None
    assert (entry.spec.params.algorithm, entry.spec.params.digits) == (Algorithm.SHA256, 8)
    assert entry.spec.params.type is OtpType.HOTP


def test_a_payload_without_its_batch_fields_reads_them_as_zero_as_protobuf_does() -> None:
    batch = decode_payload(account(), "x")
    assert (batch.version, batch.batch_size, batch.batch_index, batch.batch_id) == (0, 0, 0, 0)
    assert len(batch.entries) == 1 and batch.entries[0].spec is not None
    # The batch fields are int32 too: their low 32 bits are read, as protobuf reads them.
    batch = decode_payload(account() + field(2, 1 << 32 | 1) + field(5, 1 << 32 | 7), "x")
    assert (batch.version, batch.batch_id) == (1, 7)
