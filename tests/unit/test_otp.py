"""Code generation against the shared vectors (RFC 4226, RFC 6238, Steam) and pyotp."""

from __future__ import annotations

import hashlib
import json

import pyotp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from webauth.otp import Algorithm, InvalidParameter, OtpParams, OtpType, code_at, seconds_remaining
from webauth.otpauth import decode_secret, encode_secret


def load_vectors(shared_dir):
    return json.loads((shared_dir / "fixtures" / "otp-vectors.json").read_text())["vectors"]


def test_every_shared_vector(shared_dir):
    vectors = load_vectors(shared_dir)
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
        ({"type": "motp"}, "type"),
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
    algorithm=st.sampled_from(list(Algorithm)),
    digits=st.integers(6, 10),
    period=st.integers(1, 120),
    at=st.integers(0, 2**34),
)
def test_totp_equals_pyotp(secret, algorithm, digits, period, at):
    params = OtpParams(type=OtpType.TOTP, secret=secret, algorithm=algorithm, digits=digits, period=period)
    digest = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}[algorithm.value]
    reference = pyotp.TOTP(encode_secret(secret), digits=digits, digest=digest, interval=period)
    assert code_at(params, at) == reference.at(at)
