"""otpauth:// parsing of what real files contain, precise refusals, and the round trip."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webauth.otp import Algorithm, OtpParams, OtpType
from webauth.otpauth import AccountSpec, OtpauthError, decode_secret, format_uri, parse_uri

SECRET = "JBSWY3DPEHPK3PXP"


def test_the_common_form():
    spec = parse_uri(f"otpauth://totp/GitHub:alice%40example.com?secret={SECRET}&issuer=GitHub")
    assert (spec.issuer, spec.name) == ("GitHub", "alice@example.com")
    assert spec.params == OtpParams(type=OtpType.TOTP, secret=decode_secret(SECRET))


@pytest.mark.parametrize(
    "uri",
    [
        "otpauth://totp/Acme:bob?secret=jbswy3dpehpk3pxp&issuer=Acme",  # lower-case secret
        "otpauth://totp/Acme:bob?secret=JBSW%20Y3DP%20EHPK%203PXP&issuer=Acme",  # spaced secret
        "otpauth://totp/Acme:bob?secret=JBSWY3DPEHPK3PXP%3D%3D%3D%3D&issuer=Acme",  # padded
        "otpauth://TOTP/Acme:bob?SECRET=JBSWY3DPEHPK3PXP&Issuer=Acme",  # upper-case type and keys
        "otpauth://totp/Acme:%20bob?secret=JBSWY3DPEHPK3PXP",  # no issuer parameter, spaced label
        "otpauth://totp/Other:bob?secret=JBSWY3DPEHPK3PXP&issuer=Acme",  # issuer parameter wins
        "otpauth://totp/Acme%3Abob?secret=JBSWY3DPEHPK3PXP&issuer=Acme",  # encoded separator
    ],
)
def test_sloppy_but_real_inputs(uri):
    spec = parse_uri(uri)
    assert (spec.issuer, spec.name, spec.params.secret) == ("Acme", "bob", decode_secret(SECRET))


def test_plus_means_space_in_the_query_but_not_in_the_label():
    spec = parse_uri("otpauth://hotp/Air%20Canada:bob+tag@x.org?secret=KUVJJOM753IHTNDSZVCNKL7GII&issuer=Air+Canada&counter=5")
    assert spec.issuer == "Air Canada"
    assert spec.name == "bob+tag@x.org"
    assert spec.params.counter == 5


def test_lowercase_algorithm_and_stray_period_on_hotp():
    spec = parse_uri("otpauth://hotp/WWE:Mason?algorithm=sha512&digits=8&issuer=WWE&period=30&secret=5VAML3X35THCEBVRLV24CGBKOY&counter=10300")
    assert spec.params.algorithm is Algorithm.SHA512
    assert (spec.params.digits, spec.params.counter) == (8, 10300)


def test_steam_type_and_encoder_parameter():
    assert parse_uri(f"otpauth://steam/Steam:bob?secret={SECRET}").params.type is OtpType.STEAM
    assert parse_uri(f"otpauth://totp/Steam:bob?secret={SECRET}&encoder=steam").params.type is OtpType.STEAM


def test_extra_parameters_are_kept_for_importers():
    spec = parse_uri(f"otpauth://totp/A:b?secret={SECRET}&codeDisplay=%7B%7D&image=x")
    assert spec.extra == {"codedisplay": "{}", "image": "x"}


@pytest.mark.parametrize(
    ("uri", "field", "words"),
    [
        ("https://example.com/?secret=AAAA", "uri", "otpauth://"),
        ("otpauth://motp/A:b?secret=JBSWY3DPEHPK3PXP", "type", "motp"),
        ("otpauth://totp/A:b?issuer=A", "secret", "no secret"),
        ("otpauth://totp/A:b?secret=", "secret", "empty"),
        ("otpauth://totp/A:b?secret=JBSWY3DP1HPK3PXP", "secret", "base32"),
        ("otpauth://totp/A:b?secret=A", "secret", "base32"),
        ("otpauth://totp/A:b?secret=JBSWY3DPEHPK3PX%C3%9F", "secret", "base32"),  # ß must not become SS
        ("otpauth://totp/A:b?secret=JBSWY3DPEHPK3PXP&algorithm=MD5", "algorithm", "MD5"),
        ("otpauth://totp/A:b?secret=JBSWY3DPEHPK3PXP&digits=six", "digits", "whole number"),
        ("otpauth://totp/A:b?secret=JBSWY3DPEHPK3PXP&digits=12", "digits", "between 5 and 10"),
        ("otpauth://totp/A:b?secret=JBSWY3DPEHPK3PXP&period=0", "period", "between"),
        ("otpauth://hotp/A:b?secret=JBSWY3DPEHPK3PXP&counter=-2", "counter", "between"),
        ("otpauth://totp/?secret=JBSWY3DPEHPK3PXP", "name", "name or an issuer"),
        ("otpauth://totp/A:b%01c?secret=JBSWY3DPEHPK3PXP", "name", "control"),
        ("otpauth://[", "uri", "not a valid URI"),
        ("otpauth://totp/" + "x" * 300 + "?secret=JBSWY3DPEHPK3PXP", "name", "longer than"),
    ],
)
def test_refusals_name_the_field_and_say_why(uri, field, words):
    with pytest.raises(OtpauthError) as error:
        parse_uri(uri)
    assert error.value.field == field
    assert words in str(error.value)


labels = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=0, max_size=40
).map(str.strip)


def test_broken_unicode_is_refused_not_stored():
    with pytest.raises(OtpauthError) as error:
        AccountSpec(issuer="\ud800", name="x", params=OtpParams(type=OtpType.TOTP, secret=b"0123456789"))
    assert error.value.field == "issuer"


@st.composite
def specs(draw):
    otp_type = draw(st.sampled_from(list(OtpType)))
    params = OtpParams(
        type=otp_type,
        secret=draw(st.binary(min_size=1, max_size=64)),
        algorithm=draw(st.sampled_from(list(Algorithm))),
        digits=draw(st.integers(5, 10)),
        period=draw(st.integers(1, 86400)),
        counter=draw(st.integers(0, 2**63 - 1)),
    )
    issuer, name = draw(labels), draw(labels)
    if not issuer and not name:
        name = "x"
    return AccountSpec(issuer=issuer, name=name, params=params)


@given(specs())
def test_format_then_parse_gives_the_same_account(spec):
    assert parse_uri(format_uri(spec)) == spec
