"""The strict readers every importer is built on (`webauth/transfer/_parsing.py`), edge by edge.

The importers' tests go through these helpers with real files; here each helper's bounds,
defaults and exact messages are pinned, so that a change to one shows at once.
"""

from __future__ import annotations

import base64

import pytest

from webauth.otp import Algorithm, OtpParams, OtpType
from webauth.otpauth import AccountSpec
from webauth.transfer import _parsing as parsing
from webauth.transfer._parsing import EntryProblem
from webauth.transfer.base import PasswordRequired, TransferError, WrongPassword
from webauth.transfer.limits import MAX_IMPORT_BYTES, MAX_IMPORT_ENTRIES

TOTP = OtpParams(type=OtpType.TOTP, secret=b"12345678901234567890")


def test_the_size_and_count_limits_are_inclusive() -> None:
    parsing.check_size(b"x" * MAX_IMPORT_BYTES)
    with pytest.raises(TransferError, match=r"^The file is larger than 5 MB$"):
        parsing.check_size(b"x" * (MAX_IMPORT_BYTES + 1))
    parsing.check_count(MAX_IMPORT_ENTRIES)
    with pytest.raises(TransferError, match=r"^The file holds 10001 entries; at most 10000 can be imported at once\.$"):
        parsing.check_count(MAX_IMPORT_ENTRIES + 1)
    with pytest.raises(TransferError, match="at most 10000"):
        parsing.as_list([0] * (MAX_IMPORT_ENTRIES + 1), "The list")


def test_text_drops_a_byte_order_mark_and_names_the_format_when_it_is_not_utf8() -> None:
    assert parsing.decode_text(b"\xef\xbb\xbfabc") == "abc"
    with pytest.raises(TransferError, match=r"^This Ente Auth export file is not UTF-8 text; it may be damaged\.$"):
        parsing.decode_text(b"\xff", "Ente Auth export")
    with pytest.raises(TransferError, match=r"^The file is not UTF-8 text; it may be damaged\.$"):
        parsing.decode_text(b"\xff")


def test_json_refusals_name_what_was_read() -> None:
    assert parsing.load_json('{"a": 1}') == {"a": 1}
    with pytest.raises(TransferError, match=r"^The file is not valid JSON; it may be damaged or truncated\.$"):
        parsing.load_json(b"{")
    with pytest.raises(TransferError, match=r"^The vault is not valid JSON"):
        parsing.load_json("[" * 100_000, "The vault")
    with pytest.raises(TransferError, match=r"^This Aegis vault file is not valid JSON"):
        parsing.json_object(b"{", "Aegis vault")
    with pytest.raises(TransferError, match=r"^This is not a Aegis vault file: it does not hold a JSON object\.$"):
        parsing.json_object(b"[]", "Aegis vault")
    with pytest.raises(TransferError, match=r"^The header is not a JSON object$"):
        parsing.as_dict([], "The header")
    with pytest.raises(TransferError, match=r"^The entries is not a JSON list$"):
        parsing.as_list({}, "The entries")


@pytest.mark.parametrize(
    ("data", "opens"),
    [
        (b"{}", True),
        (b"[]", True),
        (b"\xef\xbb\xbf \t\r\n{}", True),
        (b" " * 63 + b"{}", True),
        (b" " * 64 + b"{}", False),  # only the first 64 bytes are looked at
        (b"\xef\xbb\xbf" + b" " * 63 + b"[]", True),  # after the byte-order mark
        (b'"{}"', False),
        (b"", False),
    ],
)
def test_what_looks_like_json(data: bytes, opens: bool) -> None:
    assert (parsing.sniff_json(data) is not None) is opens


def test_a_shape_needs_every_marker_and_a_damaged_file_still_counts() -> None:
    def is_dict(value: object) -> bool:
        return isinstance(value, dict)

    assert parsing.sniff_json_shape(b'{"a": 1, "b": 2}', (b'"a"', b'"b"'), is_dict)
    assert not parsing.sniff_json_shape(b'{"a": 1}', (b'"a"', b'"b"'), is_dict)
    assert not parsing.sniff_json_shape(b'["a", "b"]', (b'"a"', b'"b"'), is_dict)
    assert parsing.sniff_json_shape(b'{"a": 1, "b": ', (b'"a"', b'"b"'), is_dict)  # damaged: read() says so
    assert not parsing.sniff_json_shape(b'x{"a": 1, "b": 2}', (b'"a"', b'"b"'), is_dict)


@pytest.mark.parametrize(
    ("text", "decoded"),
    [
        ("aGVsbG8=", b"hello"),
        ("aGVsbG8", b"hello"),
        ("aGVs\nbG8=", b"hello"),
        ("-_8=", b"\xfb\xff"),
        ("+/8", b"\xfb\xff"),
    ],
)
def test_lenient_base64_takes_what_apps_write(text: str, decoded: bytes) -> None:
    assert parsing.decode_b64(text, "The data") == decoded


def test_strict_base64_and_hexadecimal_refusals_are_exact() -> None:
    with pytest.raises(TransferError, match=r"^The data is not valid base64$"):
        parsing.decode_b64("a!b", "The data")
    assert parsing.b64decode(base64.b64encode(b"salt").decode(), "the salt", "Proton export") == b"salt"
    with pytest.raises(TransferError, match=r"^This Proton export file is damaged: the salt is missing or not text\.$"):
        parsing.b64decode(None, "the salt", "Proton export")
    with pytest.raises(TransferError, match=r"^This Proton export file is damaged: the salt is not valid base64\.$"):
        parsing.b64decode("c2FsdA", "the salt", "Proton export")  # unpadded: not what the app writes
    with pytest.raises(TransferError, match=r"the salt is not valid base64"):
        parsing.b64decode("c2Fs!dA==", "the salt", "Proton export")  # a stray character is not skipped
    assert parsing.decode_hex("00ff", "The tag", 2) == b"\x00\xff"
    assert parsing.decode_hex("00ff", "The tag") == b"\x00\xff"
    with pytest.raises(TransferError, match=r"^The tag must be 3 bytes, not 2$"):
        parsing.decode_hex("00ff", "The tag", 3)
    with pytest.raises(TransferError, match=r"^The tag is not valid hexadecimal$"):
        parsing.decode_hex("0g", "The tag")
    with pytest.raises(TransferError, match=r"^The tag is missing$"):
        parsing.decode_hex(None, "The tag")


def test_passwords() -> None:
    assert parsing.encode_password("pässword") == "pässword".encode()
    with pytest.raises(WrongPassword, match=r"^The password contains characters that cannot be encoded\.$"):
        parsing.encode_password("\ud800")
    with pytest.raises(PasswordRequired, match=r"^This 2FAS backup file is encrypted: enter the password"):
        parsing.require_password("", "2FAS backup")
    assert parsing.require_password("pw", "2FAS backup") == b"pw"


def test_typed_fields_defaults_and_exact_problems() -> None:
    obj = {"s": "text", "n": 7, "t": " -12 ", "b": True, "bad_bool": 1, "flag": "yes", "nul": None}
    assert parsing.entry_object(obj) is obj
    with pytest.raises(EntryProblem, match=r"^This entry is damaged and cannot be read\.$"):
        parsing.entry_object([])
    assert (parsing.field_str(obj, "s"), parsing.field_str(obj, "nul", "d"), parsing.field_str(obj, "x")) == (
        "text",
        "d",
        "",
    )
    with pytest.raises(EntryProblem, match=r"^This entry has no x field\.$"):
        parsing.field_str(obj, "x", required=True)
    with pytest.raises(EntryProblem, match=r"^The n field of this entry should be text, not int\.$"):
        parsing.field_str(obj, "n")
    assert (
        parsing.field_int(obj, "n"),
        parsing.field_int(obj, "x", 6),
        parsing.field_int(obj, "t", allow_text=True),
    ) == (
        7,
        6,
        -12,
    )
    assert parsing.field_int({"z": 0}, "z", 6) == 0
    with pytest.raises(EntryProblem, match=r"^This entry has no x field\.$"):
        parsing.field_int(obj, "x")
    with pytest.raises(EntryProblem, match=r"^The t field of this entry should be a whole number, not ' -12 '\.$"):
        parsing.field_int(obj, "t")
    with pytest.raises(EntryProblem, match=r"^The b field of this entry should be a whole number, not True\.$"):
        parsing.field_int(obj, "b")
    assert parsing.field_int({"big": "9" * 19}, "big", allow_text=True) == int("9" * 19)
    with pytest.raises(EntryProblem, match="should be a whole number"):
        parsing.field_int({"big": "9" * 20}, "big", allow_text=True)
    with pytest.raises(EntryProblem, match=r"^The f field of this entry should be a whole number, not 1\.5\.$"):
        parsing.field_int({"f": 1.5}, "f", 6, allow_text=True)
    assert (parsing.field_bool(obj, "b"), parsing.field_bool(obj, "x")) == (True, False)
    with pytest.raises(EntryProblem, match=r"^The bad_bool field of this entry should be true or false, not 1\.$"):
        parsing.field_bool(obj, "bad_bool")


def test_algorithms_in_any_spelling() -> None:
    assert parsing.parse_algorithm(" sha-256 ") is Algorithm.SHA256
    assert parsing.field_algorithm({}, "algo") is Algorithm.SHA1
    assert parsing.field_algorithm({"algo": "Sha512"}, "algo") is Algorithm.SHA512
    with pytest.raises(EntryProblem, match=r"^The algorithm 'MD5' is not supported: use SHA-1, SHA-256 or SHA-512\.$"):
        parsing.field_algorithm({"algo": "md5"}, "algo")
    with pytest.raises(EntryProblem, match=r"^The algorithm 'ABCDEFGHIJKLMNOPQRS is not supported"):
        parsing.parse_algorithm("abcdefghijklmnopqrstuvwxyz")


def test_only_the_parameters_a_type_uses_are_read() -> None:
    fields = {"digits": "8", "period": "junk", "counter": "5"}
    hotp = parsing.otp_params(OtpType.HOTP, b"k", Algorithm.SHA1, fields, allow_text=True)
    assert (hotp.digits, hotp.counter, hotp.period) == (8, 5, 30)
    totp = parsing.otp_params(OtpType.TOTP, b"k", Algorithm.SHA1, {"counter": "junk"})
    assert (totp.digits, totp.period, totp.counter) == (6, 30, 0)
    with pytest.raises(EntryProblem, match=r"^The digits field of this entry should be a whole number, not '8'\.$"):
        parsing.otp_params(OtpType.TOTP, b"k", Algorithm.SHA1, {"digits": "8"})


def test_sources_keep_text_names_once_without_control_characters_and_capped() -> None:
    assert parsing.describe("entry 1") == "entry 1"
    assert parsing.describe("entry 1", "", None, 5, "  ") == "entry 1"
    assert parsing.describe("entry 2", "GitHub", " Git\x00Hub ", "alice") == "entry 2 (GitHub: alice)"
    long = parsing.describe("entry 3", "x" * 100)
    assert long == "entry 3 (" + "x" * 59 + "…)"
    assert parsing.describe("entry 4", "x" * 60) == "entry 4 (" + "x" * 60 + ")"
    assert parsing.numbered([{"n": "a"}, "b"], "item", lambda item: (item.get("n"),)) == [
        ("item 1 (a)", {"n": "a"}),
        ("item 2", "b"),
    ]
    assert parsing.numbered(["a"], "line") == [("line 1", "a")]


@pytest.mark.parametrize("field", ["issuer", "name", "note", "groups"])
def test_a_lone_surrogate_anywhere_makes_the_entry_a_problem(field: str) -> None:
    def build() -> AccountSpec:
        spec = AccountSpec(issuer="I", name="n", params=TOTP)
        value = ("a\udc80",) if field == "groups" else "a\udc80"
        object.__setattr__(spec, field, value)  # what a JSON escape smuggles past the dataclass
        return spec

    entry = parsing.build_entry("entry 1", build)
    assert (entry.source, entry.spec, entry.problem) == (
        "entry 1",
        None,
        "This entry holds broken text that cannot be stored.",
    )


def test_each_item_is_converted_on_its_own() -> None:
    def convert(source: str, item: str) -> parsing.ImportedEntry:
        if item == "bad":
            raise EntryProblem("bad item")
        return parsing.ImportedEntry(source=source, spec=AccountSpec(issuer=item, name="", params=TOTP))

    good, bad = parsing.convert_all([("line 1", "ok"), ("line 2", "bad")], convert)
    assert (good.source, good.spec.issuer if good.spec else None) == ("line 1", "ok")
    assert (bad.source, bad.problem) == ("line 2", "bad item")


def test_uri_lines_comments_prefixes_and_quotes() -> None:
    text = "# a comment\n\n  otpauth://totp/A:b?secret=JBSW Y3DP  \nQR:otpauth://totp/x?secret=A 'tail'\n"
    assert list(parsing.content_lines(text)) == [
        (3, "otpauth://totp/A:b?secret=JBSW Y3DP"),
        (4, "QR:otpauth://totp/x?secret=A 'tail'"),
    ]
    assert parsing.extract_uri("otpauth://totp/A:b?secret=JBSW Y3DP") == "otpauth://totp/A:b?secret=JBSW Y3DP"
    assert parsing.extract_uri("QR:OTPAUTH://totp/x?secret=A 'tail'") == "OTPAUTH://totp/x?secret=A"
    assert parsing.extract_uri('"otpauth-migration://offline?data=x",') == "otpauth-migration://offline?data=x"
    assert parsing.extract_uri("no uri here") is None


@pytest.mark.parametrize(
    ("data", "lines"),
    [
        (b"\xef\xbb\xbf# list\notpauth://totp/A:b?secret=X\nnot a uri\n", ["otpauth://totp/A:b?secret=X", "not a uri"]),
        (b'{"uri": "otpauth://totp/A:b?secret=X"}', None),
        (b'["otpauth://totp/A:b?secret=X"]', None),  # a JSON list of URIs is JSON, read by its format
        (b'"otpauth://totp/A:b?secret=X"', None),
        (b"name,otpauth://totp/A:b?secret=X", ["name,otpauth://totp/A:b?secret=X"]),
        (b"hello\notpauth://totp/A:b?secret=X", None),
        (b"\xff otpauth://", None),
        (b"# only comments\n", None),
    ],
)
def test_what_looks_like_a_uri_list(data: bytes, lines: list[str] | None) -> None:
    assert parsing.looks_like_uri_text(data) == lines


def test_an_oversized_text_is_not_a_uri_list() -> None:
    line = b"otpauth://totp/A:b?secret=X\n"
    assert parsing.looks_like_uri_text(line + b"#" * (MAX_IMPORT_BYTES - len(line))) == ["otpauth://totp/A:b?secret=X"]
    assert parsing.looks_like_uri_text(line + b"#" * (MAX_IMPORT_BYTES - len(line) + 1)) is None
