"""mOTP and Yandex Key codes against Aegis's published test vectors (its `MOTPTest`, `YAOTPTest`
and `YandexInfoTest`, beemdevelopment/Aegis), and their links as Aegis writes and reads them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct

import pytest

from webauth.otp import InvalidParameter, OtpParams, OtpType, code_at, motp_code, yandex_code, yandex_secret
from webauth.otpauth import (
    AccountSpec,
    OtpauthError,
    decode_secret_of,
    format_uri,
    parse_uri,
    secret_text,
    with_pin,
)

# Aegis's MOTPTest.VECTORS: (unix time, code, PIN, hex secret); the last two round the step down.
MOTP_VECTORS = [
    (165892298, "e7d8b6", "1234", "e3152afee62599c8"),
    (123456789, "4ebfb2", "1234", "e3152afee62599c8"),
    (165954002 * 10, "ced7b1", "9999", "bbb1912bb5c515be"),
    (165954002 * 10 + 2, "ced7b1", "9999", "bbb1912bb5c515be"),
    (165953987 * 10, "1a14f8", "9999", "bbb1912bb5c515be"),
    (165953987 * 10 + 8, "1a14f8", "9999", "bbb1912bb5c515be"),
]
# Aegis's YAOTPTest.TEST_CASES: (PIN, base32 secret with its checksum, unix time, code).
YANDEX_VECTORS = [
    ("5239", "6SB2IKNM6OBZPAVBVTOHDKS4FAAAAAAADFUTQMBTRY", 1641559648, "umozdicq"),
    ("7586", "LA2V6KMCGYMWWVEW64RNP3JA3IAAAAAAHTSG4HRZPI", 1581064020, "oactmacq"),
    ("7586", "LA2V6KMCGYMWWVEW64RNP3JA3IAAAAAAHTSG4HRZPI", 1581090810, "wemdwrix"),
    ("5210481216086702", "JBGSAU4G7IEZG6OY4UAXX62JU4AAAAAAHTSG4HXU3M", 1581091469, "dfrpywob"),
    ("5210481216086702", "JBGSAU4G7IEZG6OY4UAXX62JU4AAAAAAHTSG4HXU3M", 1581093059, "vunyprpd"),
]


def b32(text: str) -> bytes:
    return base64.b32decode(text + "=" * (-len(text) % 8))


@pytest.mark.parametrize(("at", "code", "pin", "secret"), MOTP_VECTORS)
def test_motp_gives_aegis_vectors(at, code, pin, secret):
    params = OtpParams(OtpType.MOTP, bytes.fromhex(secret), pin=pin)
    assert code_at(params, at) == code
    assert motp_code(bytes.fromhex(secret), pin, at // 10) == code
    assert (params.algorithm, params.digits, params.period) == ("MD5", 6, 10)


@pytest.mark.parametrize(("pin", "secret", "at", "code"), YANDEX_VECTORS)
def test_yandex_gives_aegis_vectors(pin, secret, at, code):
    params = OtpParams(OtpType.YANDEX, b32(secret), pin=pin)
    assert params.secret == b32(secret)[:16]  # the checksum is checked, then dropped
    assert code_at(params, at) == code
    # The same account given as its QR code gives it (16 bytes, no checksum).
    assert code_at(OtpParams(OtpType.YANDEX, b32(secret)[:16], pin=pin), at) == code
    assert yandex_code(params.secret, pin, at // 30) == code


def test_yandex_key_hash_with_a_leading_zero_byte_is_shortened():
    """SHA-256(PIN + secret) starting with a zero byte is used without it, as Aegis's YAOTP does:
    found by search, so the branch is exercised by a real input and not only read."""
    secret = bytes(range(16))
    pin = next(str(n) for n in range(100_000) if hashlib.sha256(str(n).encode() + secret).digest()[0] == 0)
    key = hashlib.sha256(pin.encode() + secret).digest()[1:]
    mac = bytearray(hmac.new(key, struct.pack(">Q", 7), hashlib.sha256).digest())
    offset = mac[-1] & 0x0F
    mac[offset] &= 0x7F
    value = int.from_bytes(mac[offset : offset + 8], "big") % 26**8
    letters = ""
    for _ in range(8):
        value, index = divmod(value, 26)
        letters = "abcdefghijklmnopqrstuvwxyz"[index] + letters
    assert yandex_code(secret, pin, 7) == letters


# Aegis's YandexInfoTest: with its checksum, as QR codes give it, one letter changed, wrong size.
@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        ("LA2V6KMCGYMWWVEW64RNP3JA3IAAAAAAHTSG4HRZPI", None),
        ("LA2V6KMCGYMWWVEW64RNP3JA3I", None),
        (
            "AA2V6KMCGYMWWVEW64RNP3JA3IAAAAAAHTSG4HRZPI",
            "secret: This Yandex secret key does not add up: check it for typing mistakes.",
        ),
        (
            "AA2V6KMCGJA3IAAAAAAHTSG4HRZPI",
            "secret: A Yandex secret key holds 16 or 26 bytes, and this one holds 18: copy it again, in full.",
        ),
    ],
)
def test_yandex_secret_checksum_as_aegis_validates_it(secret, problem):
    if problem is None:
        assert yandex_secret(b32(secret)) == b32(secret)[:16]
        return
    with pytest.raises(InvalidParameter) as error:
        OtpParams(OtpType.YANDEX, b32(secret), pin="1234")
    assert f"{error.value.field}: {error.value}" == problem


def test_every_single_bit_flip_of_a_checked_secret_is_caught():
    secret = b32("LA2V6KMCGYMWWVEW64RNP3JA3IAAAAAAHTSG4HRZPI")
    for bit in range(26 * 8):
        flipped = bytearray(secret)
        flipped[bit // 8] ^= 0x80 >> (bit % 8)
        if bit // 8 == 24 and bit % 8 < 4:
            continue  # the four bits before the 12-bit checksum are not covered by it
        with pytest.raises(InvalidParameter):
            yandex_secret(bytes(flipped))


@pytest.mark.parametrize(
    "pin",
    [None, ""],
)
def test_codes_need_the_pin(pin):
    params = OtpParams(OtpType.MOTP, bytes.fromhex("e3152afee62599c8"), pin=pin)
    assert params.needs_pin
    with pytest.raises(InvalidParameter) as error:
        code_at(params, 0)
    assert (error.value.field, str(error.value)) == (
        "pin",
        "This account has no PIN yet, and its codes need one: enter its PIN.",
    )


@pytest.mark.parametrize(
    ("pin", "problem"),
    [
        ("x" * 65, "pin: The PIN is longer than 64 characters."),
        (1234, "pin: The PIN must be text."),
        ("12\n34", "pin: The PIN holds invisible control characters or broken text; type it again."),
    ],
)
def test_bad_pins_are_refused(pin, problem):
    with pytest.raises(InvalidParameter) as error:
        OtpParams(OtpType.YANDEX, bytes(16), pin=pin)
    assert f"{error.value.field}: {error.value}" == problem


def test_a_pin_may_be_exactly_64_characters_long():
    assert OtpParams(OtpType.YANDEX, bytes(16), pin="x" * 64).pin == "x" * 64


def test_other_types_drop_a_pin_and_refuse_md5():
    assert OtpParams(OtpType.TOTP, b"secret", pin="1234").pin is None
    with pytest.raises(InvalidParameter):
        OtpParams(OtpType.TOTP, b"secret", algorithm="MD5")


# Links ------------------------------------------------------------------------------------


def test_an_motp_link_as_aegis_writes_it_needs_its_pin():
    spec = parse_uri("motp://Old%20VPN:alice?secret=e3152afee62599c8&issuer=Old%20VPN")
    assert (spec.issuer, spec.name, spec.params.type) == ("Old VPN", "alice", OtpType.MOTP)
    assert spec.params.secret == bytes.fromhex("e3152afee62599c8") and spec.params.needs_pin
    with_it = with_pin(spec, "1234")
    assert code_at(with_it.params, 165892298) == "e7d8b6"
    assert format_uri(with_it) == "motp://Old%20VPN:alice?secret=e3152afee62599c8&issuer=Old%20VPN"
    # Android's Uri.Builder (no authority) writes the label as a path: the same account.
    assert parse_uri("motp:Old%20VPN%3Aalice?secret=E3152AFEE62599C8&issuer=Old%20VPN") == spec


def test_a_yandex_link_carries_its_pin_in_base32_as_aegis_writes_it():
    pin_b32 = base64.b32encode(b"7586").decode().rstrip("=")
    uri = (
        "otpauth://yaotp/Yandex:me?period=30&digits=8&algorithm=SHA256"
        f"&secret=LA2V6KMCGYMWWVEW64RNP3JA3IAAAAAAHTSG4HRZPI&pin={pin_b32}&issuer=Yandex"
    )
    spec = parse_uri(uri)
    assert spec.params.type is OtpType.YANDEX and spec.params.pin == "7586"
    assert spec.extra == {}  # the PIN is read, not kept as an unknown parameter
    assert code_at(spec.params, 1581064020) == "oactmacq"
    written = format_uri(spec)
    assert written.startswith("otpauth://yaotp/Yandex:me?secret=LA2V6KMCGYMWWVEW64RNP3JA3I&")
    assert f"pin={pin_b32}" in written
    assert parse_uri(written) == spec


def test_a_yandex_link_without_a_pin_asks_for_one_of_the_length_it_names():
    spec = parse_uri("otpauth://yaotp/me?secret=LA2V6KMCGYMWWVEW64RNP3JA3I&pin_length=4")
    assert spec.issuer == "Yandex" and spec.params.needs_pin  # Aegis names it after the type
    with pytest.raises(OtpauthError) as error:
        with_pin(spec, "12345")
    assert (error.value.field, str(error.value)) == ("pin", "The PIN must be 4 characters long, as the link says.")
    assert code_at(with_pin(spec, "7586").params, 1581090810) == "wemdwrix"


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        (
            "motp://A:b?secret=e3152afee62599c",
            "secret: The mOTP secret key looks cut short: it has 15 characters, and it needs an even number. "
            "Copy it again, in full.",
        ),
        (
            "motp://A:b?secret=JBSWY3DP",
            "secret: The mOTP secret key holds 'JPSWY', which it never does: it uses only the digits 0 to 9 and "
            "the letters a to f.",
        ),
        ("motp://A:b?issuer=A", "secret: The link holds no secret key (its secret= part is missing)."),
        (
            "otpauth://yaotp/A:b?secret=JBSWY3DPEHPK3PXP&pin=GEZDG",
            "secret: A Yandex secret key holds 16 or 26 bytes, and this one holds 10: copy it again, in full.",
        ),
        (
            "otpauth://yaotp/A:b?secret=LA2V6KMCGYMWWVEW64RNP3JA3I&pin=1",
            "pin: The PIN in this link cannot be read: Aegis writes it in base32, and this one is not.",
        ),
    ],
)
def test_bad_links_name_the_field(uri, message):
    with pytest.raises(OtpauthError) as error:
        parse_uri(uri)
    assert f"{error.value.field}: {error.value}" == message


def test_the_pin_never_shows_in_the_spec_repr():
    spec = AccountSpec(issuer="VPN", name="a", params=OtpParams(OtpType.MOTP, b"\x01", pin="s3cr3t-pin"))
    assert "s3cr3t-pin" not in repr(spec)


@pytest.mark.parametrize(
    ("otp_type", "secret", "text"),
    [
        (OtpType.MOTP, bytes.fromhex("e3152afee62599c8"), "e3152afee62599c8"),  # lower-case hex, as its codes hash it
        (OtpType.TOTP, b"Hello!\xde\xad\xbe\xef", "JBSWY3DPEHPK3PXP"),
        (OtpType.YANDEX, b32("LA2V6KMCGYMWWVEW64RNP3JA3I"), "LA2V6KMCGYMWWVEW64RNP3JA3I"),
    ],
)
def test_a_secret_is_shown_as_it_is_typed_for_its_type(otp_type, secret, text):
    params = OtpParams(otp_type, secret, pin="1234")
    assert secret_text(params) == text
    assert decode_secret_of(otp_type, text) == secret


def test_an_motp_link_may_carry_its_pin_in_clear_and_keeps_unknown_parameters_apart():
    spec = parse_uri("motp://VPN:alice?secret=e3152afee62599c8&pin=1234&issuer=VPN&foo=bar")
    assert spec.params.pin == "1234" and not spec.params.needs_pin
    assert code_at(spec.params, 165892298) == "e7d8b6"
    assert spec.extra == {"foo": "bar"}  # the secret, issuer and PIN are read, not kept as extras
    assert parse_uri("motp://VPN:alice?secret=e3152afee62599c8&pin=").params.needs_pin


@pytest.mark.parametrize(
    ("uri", "issuer", "name"),
    [
        # The issuer parameter wins over the label's prefix, as in otpauth links.
        ("motp://Label:alice?secret=e3152afee62599c8&issuer=Real", "Real", "alice"),
        # An encoded colon separates nothing when the issuer parameter names another issuer.
        ("motp:/a%3Ab?secret=e3152afee62599c8&issuer=Acme", "Acme", "a:b"),
        ("motp:/a%3Ab?secret=e3152afee62599c8", "a", "b"),
        # Only the slashes before the label go, not the label's own first letters.
        ("motp://XY:Xavier?secret=e3152afee62599c8", "XY", "Xavier"),
    ],
)
def test_the_label_of_an_motp_link(uri, issuer, name):
    spec = parse_uri(uri)
    assert (spec.issuer, spec.name) == (issuer, name)


def test_a_yandex_link_naming_a_pin_of_one_character_says_so_in_the_singular():
    spec = parse_uri("otpauth://yaotp/me?secret=LA2V6KMCGYMWWVEW64RNP3JA3I&pin_length=1")
    with pytest.raises(OtpauthError) as error:
        with_pin(spec, "12")
    assert str(error.value) == "The PIN must be 1 character long, as the link says."
    assert with_pin(spec, "7").params.pin == "7"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (" -: ", "secret: The secret key is empty."),
        ("e", "secret: The mOTP secret key looks cut short: it has 1 character, and it needs an even number. Copy it "
         "again, in full."),
        ("e3152afg", "secret: The mOTP secret key holds 'g', which it never does: it uses only the digits 0 to 9 and "
         "the letters a to f."),
    ],
)
def test_bad_motp_secrets_name_the_field_and_the_fault(text, problem):
    with pytest.raises(OtpauthError) as error:
        decode_secret_of(OtpType.MOTP, text)
    assert f"{error.value.field}: {error.value}" == problem


def test_an_motp_secret_may_be_typed_in_any_case_with_spaces_colons_or_dashes():
    assert decode_secret_of(OtpType.MOTP, " E3:15-2a fe\tE6 25 99 c8 ") == bytes.fromhex("e3152afee62599c8")


@pytest.mark.parametrize(
    ("issuer", "name", "uri"),
    [
        ("", "alice", "motp://alice?secret=e3152afee62599c8"),
        # A colon in the name would read as the issuer's end: an empty issuer parameter says there is none.
        ("", "a:b", "motp://a%3Ab?secret=e3152afee62599c8&issuer="),
        ("VPN", "a:b", "motp://VPN:a%3Ab?secret=e3152afee62599c8&issuer=VPN"),
        # The issuer parameter is quoted as the label is: an @ stays, a slash does not.
        ("it/ops@corp", "alice", "motp://it%2Fops@corp:alice?secret=e3152afee62599c8&issuer=it%2Fops@corp"),
    ],
)
def test_an_motp_link_carries_the_issuer_parameter_only_when_the_label_needs_it(issuer, name, uri):
    spec = AccountSpec(issuer=issuer, name=name, params=OtpParams(OtpType.MOTP, bytes.fromhex("e3152afee62599c8")))
    assert format_uri(spec) == uri
    assert parse_uri(uri) == spec


def test_a_yandex_link_ignores_the_algorithm_digits_and_period_it_may_state():
    # The scheme fixes them (HMAC-SHA256, 8 letters, 30 s): whatever a link says, even nonsense, is not read.
    spec = parse_uri("otpauth://yaotp/me?secret=LA2V6KMCGYMWWVEW64RNP3JA3I&algorithm=WHIRLPOOL&digits=six&period=x")
    assert (spec.params.algorithm, spec.params.digits, spec.params.period) == ("SHA256", 8, 30)


def test_a_pin_parameter_is_read_only_from_a_yandex_link():
    # Another type's link keeps it as an unknown parameter, whatever it holds.
    spec = parse_uri("otpauth://totp/A:b?secret=JBSWY3DPEHPK3PXP&pin=1")
    assert spec.params.pin is None and spec.extra == {"pin": "1"}
