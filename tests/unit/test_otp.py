"""Code generation against the vectors of tests/fixtures/otp-vectors.json (RFC 4226, RFC 6238, Steam) and pyotp."""

from __future__ import annotations

import hashlib
import hmac
import json

import pyotp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import FIXTURES
from webauth.otp import (
    HMAC_ALGORITHMS,
    Algorithm,
    InvalidParameter,
    OtpParams,
    OtpType,
    code_at,
    format_value,
    hotp_value,
    period_remaining,
    seconds_remaining,
    time_step,
)
from webauth.otpauth import decode_secret, encode_secret


def load_vectors():
    return json.loads((FIXTURES / "otp-vectors.json").read_text())["vectors"]


def test_every_vector():
    vectors = load_vectors()
    assert len(vectors) >= 30
    for vector in vectors:
        params = OtpParams(
            type=OtpType(vector["type"]),
            secret=decode_secret(vector["secret"]),
            algorithm=Algorithm(vector.get("algorithm", "SHA1")),
            digits=vector.get("digits", 6),
            period=vector.get("period", 30),
            counter=vector.get("counter", 0),
        )
        assert code_at(params, vector.get("time")) == vector["code"], vector


@pytest.mark.parametrize(
    ("counter", "code"),
    list(
        enumerate(["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"])
    ),
)
def test_rfc4226_appendix_d(counter, code):
    params = OtpParams(type=OtpType.HOTP, secret=b"12345678901234567890", counter=counter)
    assert code_at(params) == code


@pytest.mark.parametrize(
    ("algorithm", "seed"), [("SHA256", b"12345678901234567890123456789012"), ("SHA512", b"1234567890" * 6 + b"1234")]
)
def test_hotp_uses_the_accounts_algorithm(algorithm, seed):
    # RFC 6238's vectors at T=59 are HOTP at counter 1 with the same key and algorithm.
    params = OtpParams(type=OtpType.HOTP, secret=seed, algorithm=algorithm, digits=8, counter=1)
    assert code_at(params) == {"SHA256": "46119246", "SHA512": "90693936"}[algorithm]


@pytest.mark.parametrize(
    ("algorithm", "seed_len", "time", "code"),
    [
        ("SHA1", 20, 59, "94287082"),
        ("SHA256", 32, 59, "46119246"),
        ("SHA512", 64, 59, "90693936"),
        ("SHA1", 20, 1111111109, "07081804"),
        ("SHA256", 32, 1111111109, "68084774"),
        ("SHA512", 64, 1111111109, "25091201"),
        ("SHA1", 20, 20000000000, "65353130"),
        ("SHA256", 32, 20000000000, "77737706"),
        ("SHA512", 64, 20000000000, "47863826"),
    ],
)
def test_rfc6238_appendix_b(algorithm, seed_len, time, code):
    seed = (b"1234567890" * 7)[:seed_len]
    params = OtpParams(type=OtpType.TOTP, secret=seed, algorithm=algorithm, digits=8)
    assert code_at(params, time) == code


def test_steam_codes_use_the_steam_alphabet_and_ignore_digits():
    params = OtpParams(type=OtpType.STEAM, secret=decode_secret("JRZCL47CMXVOQMNPZR2F7J4RGI"), digits=8, period=60)
    assert (params.digits, params.period, params.algorithm) == (5, 30, Algorithm.SHA1)
    code = code_at(params, 1_700_000_000)
    assert len(code) == 5 and set(code) <= set("23456789BCDFGHJKMNPQRTVWXY")


def test_real_world_short_secrets_and_five_digits_are_accepted():
    params = OtpParams(type=OtpType.TOTP, secret=decode_secret("JBSWY3DPEHPK3PXP"), digits=5)
    assert len(code_at(params, 0)) == 5


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"digits": 4}, "digits"),
        ({"digits": 11}, "digits"),
        ({"period": 0}, "period"),
        ({"algorithm": "MD5"}, "algorithm"),
        ({"type": "yubikey"}, "type"),
        ({"secret": b""}, "secret"),
    ],
)
def test_out_of_range_parameters_name_their_field(kwargs, field):
    arguments = {"type": OtpType.TOTP, "secret": b"0123456789", **kwargs}
    with pytest.raises(InvalidParameter) as error:
        OtpParams(**arguments)
    assert error.value.field == field


def test_hotp_counter_must_not_be_negative():
    with pytest.raises(InvalidParameter) as error:
        OtpParams(type=OtpType.HOTP, secret=b"0123456789", counter=-1)
    assert error.value.field == "counter"


def test_seconds_remaining_counts_down_to_the_boundary():
    params = OtpParams(type=OtpType.TOTP, secret=b"0123456789", period=30)
    assert seconds_remaining(params, 60.0) == 30
    assert seconds_remaining(params, 89.5) == 0.5


@given(
    secret=st.binary(min_size=16, max_size=64),
    algorithm=st.sampled_from(HMAC_ALGORITHMS),
    digits=st.integers(6, 10),
    period=st.integers(1, 120),
    at=st.integers(0, 2**34),
)
def test_totp_equals_pyotp(secret, algorithm, digits, period, at):
    params = OtpParams(type=OtpType.TOTP, secret=secret, algorithm=algorithm, digits=digits, period=period)
    digest = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}[algorithm.value]
    reference = pyotp.TOTP(encode_secret(secret), digits=digits, digest=digest, interval=period)
    assert code_at(params, at) == reference.at(at)


# The edges, pinned by mutation testing (`make mutation`) ------------------------------------

KEY = b"12345678901234567890"


@pytest.mark.parametrize(
    ("kwargs", "kept"),
    [
        ({"digits": 5}, ("digits", 5)),
        ({"digits": 10}, ("digits", 10)),
        ({"period": 1}, ("period", 1)),
        ({"period": 86400}, ("period", 86400)),
        ({"type": OtpType.HOTP, "counter": 0}, ("counter", 0)),
        ({"type": OtpType.HOTP, "counter": 2**63 - 1}, ("counter", 2**63 - 1)),
        ({"secret": b"x" * 256}, ("secret", b"x" * 256)),
        ({"secret": b"x"}, ("secret", b"x")),
    ],
)
def test_the_ends_of_every_range_are_accepted(kwargs, kept):
    params = OtpParams(**{"type": OtpType.TOTP, "secret": KEY, **kwargs})
    assert getattr(params, kept[0]) == kept[1]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"digits": 4}, "digits: A code must have 5 to 10 digits, not 4."),
        ({"digits": 11}, "digits: A code must have 5 to 10 digits, not 11."),
        ({"digits": True}, "digits: The number of digits must be a whole number."),
        ({"digits": "6"}, "digits: The number of digits must be a whole number."),
        ({"period": 0}, "period: The period must be between 1 and 86400 seconds, not 0."),
        ({"period": 86401}, "period: The period must be between 1 and 86400 seconds, not 86401."),
        ({"period": False}, "period: The period must be a whole number of seconds."),
        ({"period": 30.0}, "period: The period must be a whole number of seconds."),
        ({"type": OtpType.HOTP, "counter": -1}, "counter: The counter must be between 0 and 9223372036854775807."),
        ({"type": OtpType.HOTP, "counter": 2**63}, "counter: The counter must be between 0 and 9223372036854775807."),
        ({"type": OtpType.HOTP, "counter": True}, "counter: The counter must be a whole number."),
        ({"type": OtpType.HOTP, "counter": 1.0}, "counter: The counter must be a whole number."),
        ({"secret": b"x" * 257}, "secret: The secret key is too long: it can hold at most 256 bytes."),
        ({"secret": b""}, "secret: The secret key is empty."),
        (
            {"type": "yubikey"},
            "type: 'yubikey' is not a kind of code webauth knows: use time-based (TOTP), counter-based (HOTP), "
            "Steam, mOTP or Yandex.",
        ),
        ({"algorithm": "MD5"}, "algorithm: The algorithm 'MD5' is not supported: use SHA-1, SHA-256 or SHA-512."),
    ],
)
def test_each_refusal_says_exactly_what_is_wrong(kwargs, message):
    with pytest.raises(InvalidParameter) as error:
        OtpParams(**{"type": OtpType.TOTP, "secret": KEY, **kwargs})
    # A sentence for people; the field it names is apart, for the form to put it beside.
    assert (error.value.field, str(error.value)) == tuple(message.split(": ", 1))
    assert error.value.message == str(error.value)


def test_names_are_read_as_the_enums():
    params = OtpParams(type="hotp", secret=KEY, algorithm="sha256")
    assert params.type is OtpType.HOTP and params.algorithm is Algorithm.SHA256


def test_each_type_keeps_only_the_parameters_it_uses():
    totp = OtpParams(type=OtpType.TOTP, secret=KEY, period=60, counter=5)
    hotp = OtpParams(type=OtpType.HOTP, secret=KEY, period=60, counter=5)
    steam = OtpParams(type=OtpType.STEAM, secret=KEY, algorithm="SHA512", digits=99, period=0, counter=-3)
    assert (totp.period, totp.counter) == (60, 0)
    assert (hotp.period, hotp.counter) == (30, 5)
    assert (steam.algorithm, steam.digits, steam.period, steam.counter) == (Algorithm.SHA1, 5, 30, 0)
    assert OtpParams(type=OtpType.TOTP, secret=KEY, counter=5) == OtpParams(type=OtpType.TOTP, secret=KEY)
    assert (totp.is_timed, hotp.is_timed, steam.is_timed) == (True, False, True)


def test_the_truncated_value_of_rfc4226():
    # RFC 4226 appendix D, "Truncated" column: the 31-bit value before it becomes digits.
    assert [hotp_value(KEY, counter) for counter in range(3)] == [1284755224, 1094287082, 137359152]
    assert hotp_value(KEY, 0, Algorithm.SHA256) != hotp_value(KEY, 0)
    # The counter is an unsigned 8-byte number (RFC 4226 section 5.2), all of it.
    mac = hmac.new(KEY, (2**64 - 1).to_bytes(8, "big"), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    assert hotp_value(KEY, 2**64 - 1) == int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF


def test_a_steam_code_is_five_characters_of_the_steam_alphabet():
    params = OtpParams(type=OtpType.STEAM, secret=decode_secret("JRZCL47CMXVOQMNPZR2F7J4RGI"))
    # Computed by hand from the algorithm: HOTP value, then five base-26 digits, least significant first.
    assert code_at(params, 1_700_000_000) == "747JR"
    assert format_value(0, params) == "22222" and format_value(25 + 26 * 1, params) == "Y3222"


def test_codes_keep_their_leading_zeros():
    params = OtpParams(type=OtpType.TOTP, secret=KEY, digits=8)
    assert format_value(7081804, params) == "07081804"
    assert format_value(1_234_567_890, OtpParams(type=OtpType.TOTP, secret=KEY, digits=10)) == "1234567890"


def test_the_time_step_and_the_current_time(frozen_clock):
    params = OtpParams(type=OtpType.TOTP, secret=KEY, period=30)
    assert (time_step(params, 59.99), time_step(params, 60.0)) == (1, 2)
    frozen_clock.set(59.0)  # the clock every code reads (webauth/clock.py)
    assert code_at(params) == code_at(params, 59.0) == "287082"


def test_an_hotp_code_at_an_explicit_counter():
    params = OtpParams(type=OtpType.HOTP, secret=KEY, counter=1)
    assert (code_at(params), code_at(params, counter=0), code_at(params, at=0)) == ("287082", "755224", "287082")


def test_the_seconds_left_in_a_period():
    assert period_remaining(30, 0.0) == 30 and period_remaining(30, 29.25) == 0.75 and period_remaining(60, 61) == 59
    assert seconds_remaining(OtpParams(type=OtpType.TOTP, secret=KEY, period=45), 50) == 40
