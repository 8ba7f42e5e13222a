"""otpauth:// parsing of what real files contain, precise refusals, and the round trip."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.i18n import chinese, is_translated
from webauth.otp import HMAC_ALGORITHMS, MAX_PIN_LENGTH, Algorithm, OtpParams, OtpType
from webauth.otpauth import (
    AccountSpec,
    OtpauthError,
    clean_group_name,
    clean_group_names,
    decode_secret,
    encode_secret,
    format_uri,
    parse_uri,
    with_pin,
)

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
    spec = parse_uri(
        "otpauth://hotp/Air%20Canada:bob+tag@x.org?secret=KUVJJOM753IHTNDSZVCNKL7GII&issuer=Air+Canada&counter=5"
    )
    assert spec.issuer == "Air Canada"
    assert spec.name == "bob+tag@x.org"
    assert spec.params.counter == 5


def test_lowercase_algorithm_and_stray_period_on_hotp():
    spec = parse_uri(
        "otpauth://hotp/WWE:Mason?algorithm=sha512&digits=8&issuer=WWE&period=30&secret=5VAML3X35THCEBVRLV24CGBKOY&counter=10300"
    )
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
        ("otpauth://totp/A:b?secret=JBSWY3DP1HPK3PXP", "secret", "A to Z"),
        ("otpauth://totp/A:b?secret=A", "secret", "1 character cannot"),
        ("otpauth://totp/A:b?secret=JBSWY3DPEHPK3PX%C3%9F", "secret", "A to Z"),  # ß must not become SS
        ("otpauth://totp/A:b?secret=JBSWY3DPEHPK3PXP&algorithm=MD5", "algorithm", "MD5"),
        ("otpauth://totp/A:b?secret=JBSWY3DPEHPK3PXP&digits=six", "digits", "whole number"),
        ("otpauth://totp/A:b?secret=JBSWY3DPEHPK3PXP&digits=12", "digits", "5 to 10 digits"),
        ("otpauth://totp/A:b?secret=JBSWY3DPEHPK3PXP&period=0", "period", "between"),
        ("otpauth://hotp/A:b?secret=JBSWY3DPEHPK3PXP&counter=-2", "counter", "between"),
        ("otpauth://totp/?secret=JBSWY3DPEHPK3PXP", "name", "name or an issuer"),
        ("otpauth://totp/A:b%01c?secret=JBSWY3DPEHPK3PXP", "name", "control"),
        ("otpauth://[", "uri", "not a valid link"),
        ("otpauth://totp/" + "x" * 300 + "?secret=JBSWY3DPEHPK3PXP", "name", "longer than"),
    ],
)
def test_refusals_name_the_field_and_say_why(uri, field, words):
    with pytest.raises(OtpauthError) as error:
        parse_uri(uri)
    assert error.value.field == field
    assert words in str(error.value)


labels = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=0, max_size=40).map(
    str.strip
)


def test_broken_unicode_is_refused_not_stored():
    with pytest.raises(OtpauthError) as error:
        AccountSpec(issuer="\ud800", name="x", params=OtpParams(type=OtpType.TOTP, secret=b"0123456789"))
    assert error.value.field == "issuer"


pins = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=MAX_PIN_LENGTH)


@st.composite
def specs(draw):
    otp_type = draw(st.sampled_from(list(OtpType)))
    yandex = otp_type is OtpType.YANDEX
    params = OtpParams(
        type=otp_type,
        secret=draw(st.binary(min_size=16 if yandex else 1, max_size=16 if yandex else 64)),
        algorithm=draw(st.sampled_from(HMAC_ALGORITHMS)),
        digits=draw(st.integers(5, 10)),
        period=draw(st.integers(1, 86400)),
        counter=draw(st.integers(0, 2**63 - 1)),
        pin=draw(pins),
    )
    issuer, name = draw(labels), draw(labels)
    if not issuer and not name:
        name = "x"
    return AccountSpec(issuer=issuer, name=name, params=params)


@given(specs())
def test_format_then_parse_gives_the_same_account(spec):
    parsed = parse_uri(format_uri(spec))
    if spec.params.type is OtpType.MOTP:
        # An mOTP link holds no PIN, as every app that reads it expects: it is asked for.
        assert parsed.params.needs_pin
        parsed = with_pin(parsed, spec.params.pin)
    assert parsed == spec


# The edges, pinned by mutation testing (`make mutation`) ------------------------------------

TOTP = OtpParams(type=OtpType.TOTP, secret=decode_secret(SECRET))


@pytest.mark.parametrize(
    ("uri", "issuer", "name"),
    [
        (f"otpauth://totp/alice?secret={SECRET}&issuer=GitHub", "GitHub", "alice"),  # GitHub's own form
        (f"otpauth://totp/GitHub:alice?secret={SECRET}", "GitHub", "alice"),
        (f"otpauth://totp/GitHub%3Aalice?secret={SECRET}", "GitHub", "alice"),
        (f"otpauth://totp/GitHub%3Aalice?secret={SECRET}&issuer=GitHub", "GitHub", "alice"),
        (f"otpauth://totp/Gitea%3Aalice?secret={SECRET}&issuer=GitHub", "GitHub", "Gitea:alice"),  # a name with ':'
        (f"otpauth://totp/a%3Ab?secret={SECRET}&issuer=", "", "a:b"),  # what format_uri writes for it
        (f"otpauth://totp/Acme:a:b?secret={SECRET}", "Acme", "a:b"),
        (f"otpauth://totp/Acme%3Aa%3Ab?secret={SECRET}", "Acme", "a:b"),
        (f"otpauth://totp/Xero:Xavier?secret={SECRET}", "Xero", "Xavier"),
        (f"otpauth://totp/Acme%20Corp:bob%20smith?secret={SECRET}&issuer=%20Acme%20Corp%20", "Acme Corp", "bob smith"),
        (f"otpauth://totp/bob?secret={SECRET}", "", "bob"),
        (f"  otpauth://totp/Acme:bob?secret={SECRET}\t ", "Acme", "bob"),
        (f"OTPAUTH://totp/Acme:bob?secret={SECRET}", "Acme", "bob"),
    ],
)
def test_real_label_and_issuer_forms(uri, issuer, name):
    spec = parse_uri(uri)
    assert (spec.issuer, spec.name) == (issuer, name)


def test_hotp_without_a_counter_starts_at_zero_and_stray_parameters_are_ignored():
    hotp = parse_uri(f"otpauth://hotp/Bank:bob?secret={SECRET}&period=abc")
    assert (hotp.params.type, hotp.params.counter, hotp.params.period) == (OtpType.HOTP, 0, 30)
    totp = parse_uri(f"otpauth://totp/Bank:bob?secret={SECRET}&counter=abc")
    assert (totp.params.counter, totp.params.period) == (0, 30)
    steam = parse_uri(f"otpauth://steam/Steam:bob?secret={SECRET}&period=abc&counter=abc")
    assert (steam.params.period, steam.params.counter) == (30, 0)


def test_only_unknown_parameters_are_kept_as_extra():
    every = "&issuer=A&algorithm=SHA1&digits=6&encoder=x"
    assert parse_uri(f"otpauth://totp/A:b?secret={SECRET}{every}&period=30&image=i").extra == {"image": "i"}
    assert parse_uri(f"otpauth://hotp/A:b?secret={SECRET}{every}&counter=3").extra == {}


def test_blank_or_spaced_numbers_and_algorithms():
    spec = parse_uri(f"otpauth://totp/A:b?secret={SECRET}&digits=&period=%2060%20&algorithm=%20sha256%20")
    assert (spec.params.digits, spec.params.period, spec.params.algorithm) == (6, 60, Algorithm.SHA256)
    assert parse_uri(f"otpauth://totp/A:b?secret={SECRET}&algorithm=").params.algorithm is Algorithm.SHA1


def test_the_first_of_repeated_parameters_wins_and_only_totp_has_the_steam_encoder():
    spec = parse_uri(f"otpauth://totp/A:b?secret={SECRET}&secret=KRSXG5CTMVRXEZLU&ISSUER=First&issuer=Second")
    assert (spec.params.secret, spec.issuer) == (decode_secret(SECRET), "First")
    assert parse_uri(f"otpauth://totp/A:b?secret={SECRET}&encoder=Steam").params.type is OtpType.STEAM
    assert parse_uri(f"otpauth://hotp/A:b?secret={SECRET}&encoder=steam").params.type is OtpType.HOTP
    assert parse_uri(f"otpauth://totp/A:b?secret={SECRET}&encoder=steam&issuer=S").extra == {}


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        (
            "https://example.com/?secret=AAAA",
            "uri: This is not a two-factor link: such links start with otpauth:// (or motp://), and "
            "this one starts with 'https'.",
        ),
        (
            "hello there, a long line",
            "uri: This is not a two-factor link: such links start with otpauth:// (or motp://), and "
            "this one starts with 'hello there, a long '.",
        ),
        (
            "otpauth://MOTP/A:b?secret=JBSWY3DPEHPK3PXP",
            "type: The link is of an unknown kind, 'MOTP': webauth reads time-based (totp), counter-based (hotp), "
            "Steam and Yandex (yaotp) links.",
        ),
        ("otpauth://totp/A:b?issuer=A", "secret: The link holds no secret key (its secret= part is missing)."),
        ("otpauth://totp/A:b?secret=%20-%20=", "secret: The secret key is empty."),
        (
            "otpauth://totp/A:b?secret=JBSWY3DP1",
            "secret: The secret key holds '1', which a secret key never does: it uses only the letters A to Z and "
            "the digits 2 to 7.",
        ),
        (
            "otpauth://totp/A:b?secret=JB8SWY3DP1",
            "secret: The secret key holds '18', which a secret key never does: it uses only the letters A to Z and "
            "the digits 2 to 7.",
        ),
        (
            "otpauth://totp/A:b?secret=JBSWY3DPÉ",
            "secret: The secret key can only hold the letters A to Z and the digits 2 to 7.",
        ),
        (
            "otpauth://totp/A:b?secret=ABC",
            "secret: The secret key looks cut short: 3 characters cannot make a whole key. Copy it again, in full.",
        ),
        (
            "otpauth://totp/A:b?secret=JBSWY3DPE",
            "secret: The secret key looks cut short: 9 characters cannot make a whole key. Copy it again, in full.",
        ),
        (
            "otpauth://totp/A:b?secret=ABCDEF",
            "secret: The secret key looks cut short: 6 characters cannot make a whole key. Copy it again, in full.",
        ),
        (
            "otpauth://totp/A:b?secret=JBSWY3DP&algorithm=md5",
            "algorithm: The algorithm 'MD5' is not supported: use SHA-1, SHA-256 or SHA-512.",
        ),
        (
            "otpauth://totp/A:b?secret=JBSWY3DP&digits=six",
            "digits: The number of digits must be a whole number, not 'six'.",
        ),
        (
            "otpauth://totp/A:b?secret=JBSWY3DP&period=1.5",
            "period: The period must be a whole number of seconds, not '1.5'.",
        ),
        ("otpauth://hotp/A:b?secret=JBSWY3DP&counter=x", "counter: The counter must be a whole number, not 'x'."),
        ("otpauth://totp/A:b?secret=JBSWY3DP&digits=4", "digits: A code must have 5 to 10 digits, not 4."),
        ("otpauth://totp/?secret=JBSWY3DP", "name: An account needs a name or an issuer."),
        (
            "otpauth://totp/A:b%09c?secret=JBSWY3DP",
            "name: The account name holds invisible control characters or broken text; type it again.",
        ),
        ("otpauth://totp/A:b?secret=JBSWY3DP&issuer=" + "i" * 201, "issuer: The issuer is longer than 200 characters."),
        ("otpauth://[", "uri: This is not a valid link: check that it was copied in full."),
    ],
)
def test_each_refusal_is_exact_and_translated(uri, message):
    with pytest.raises(OtpauthError) as error:
        parse_uri(uri)
    assert f"{error.value.field}: {error.value}" == message
    with chinese(), pytest.raises(OtpauthError) as translated:
        parse_uri(uri)
    assert is_translated(translated.value.message)


@pytest.mark.parametrize(("length", "accepted"), [(8192, True), (8193, False)])
def test_a_uri_may_be_8192_characters_long(length, accepted):
    head = f"otpauth://totp/A:b?secret={SECRET}&pad="
    uri = head + "x" * (length - len(head))
    if accepted:
        assert parse_uri(f"  {uri}  ").extra["pad"].startswith("x")
    else:
        with pytest.raises(OtpauthError, match=r"^The link is longer than 8192 characters\.$") as error:
            parse_uri(uri)
        assert error.value.field == "uri"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("JBSWY3DPEHPK3PXP", b"Hello!\xde\xad\xbe\xef"),
        ("jbsw y3dp-ehpk 3pxp====", b"Hello!\xde\xad\xbe\xef"),
        ("ME", b"a"),
        ("MFRA", b"ab"),
        ("MFRGG", b"abc"),
        ("MFRGGZA", b"abcd"),
        ("MFRGGZDF", b"abcde"),
    ],
)
def test_base32_of_every_length_that_encodes_whole_bytes(text, secret):
    assert decode_secret(text) == secret
    assert encode_secret(secret) == text.upper().replace(" ", "").replace("-", "").rstrip("=")


def test_labels_are_normalised_trimmed_and_bounded():
    spec = AccountSpec(issuer="  Cafe\u0301 ", name="\tbob\n", params=TOTP, note=" line 1\n\tline 2 ")
    assert (spec.issuer, spec.name, spec.note) == ("Café", "bob", "line 1\n\tline 2")
    assert (
        AccountSpec(issuer="i" * 200, name="n" * 200, params=TOTP, note="x" * 2000).label
        == "i" * 200 + ": " + "n" * 200
    )
    with pytest.raises(OtpauthError, match=r"^The note is longer than 2000 characters\.$"):
        AccountSpec(issuer="A", name="b", params=TOTP, note="x" * 2001)
    with pytest.raises(OtpauthError, match=r"^The account name is longer than 200 characters\.$"):
        AccountSpec(issuer="A", name="n" * 201, params=TOTP)
    with pytest.raises(OtpauthError, match=r"^The issuer holds invisible control characters or broken text"):
        AccountSpec(issuer="A\tB", name="b", params=TOTP)
    with pytest.raises(OtpauthError, match=r"^The note holds invisible control characters or broken text"):
        AccountSpec(issuer="A", name="b", params=TOTP, note="a\x00b")
    assert AccountSpec(issuer=None, name="b", params=TOTP).issuer == ""  # type: ignore[arg-type]


def test_groups_are_normalised_deduplicated_and_bounded():
    spec = AccountSpec(issuer="A", name="b", params=TOTP, groups=(" Work ", "Work", "", "Cafe\u0301", "Café", "Dev"))
    assert spec.groups == ("Work", "Café", "Dev")
    assert clean_group_name("  Cafe\u0301\t") == "Café"
    with pytest.raises(OtpauthError, match=r"^A group name is longer than 200 characters\.$"):
        AccountSpec(issuer="A", name="b", params=TOTP, groups=("g" * 201,))
    with pytest.raises(OtpauthError, match=r"^A group name holds invisible control characters") as error:
        clean_group_name("a\x07b")
    assert error.value.field == "groups"  # the form shows the refusal beside the groups field
    with pytest.raises(OtpauthError, match=r"^A group name is longer than 200 characters\.$") as error:
        clean_group_name("g" * 201)
    assert error.value.field == "groups"


def test_group_names_drop_empty_ones_and_repeats_in_another_case_keeping_the_first():
    assert clean_group_names(["", " Work ", "work", "  ", "WORK", "Dev", "dev "]) == ["Work", "Dev"]
    assert clean_group_names(["", " "]) == []


def test_the_label_shows_what_is_there():
    assert AccountSpec(issuer="GitHub", name="alice", params=TOTP).label == "GitHub: alice"
    assert AccountSpec(issuer="GitHub", name="", params=TOTP).label == "GitHub"
    assert AccountSpec(issuer="", name="alice", params=TOTP).label == "alice"


@pytest.mark.parametrize(
    ("spec", "uri"),
    [
        (
            AccountSpec(issuer="GitHub", name="alice@example.com", params=TOTP),
            f"otpauth://totp/GitHub:alice@example.com?secret={SECRET}&issuer=GitHub&algorithm=SHA1&digits=6&period=30",
        ),
        (
            AccountSpec(
                issuer="Air Canada",
                name="bob smith@x.org",
                params=OtpParams(OtpType.HOTP, TOTP.secret, algorithm="SHA256", digits=8, counter=7),
            ),
            f"otpauth://hotp/Air%20Canada:bob%20smith@x.org?secret={SECRET}&issuer=Air%20Canada&algorithm=SHA256"
            "&digits=8&counter=7",
        ),
        (
            AccountSpec(issuer="", name="a:b", params=TOTP),
            f"otpauth://totp/a%3Ab?secret={SECRET}&issuer=&algorithm=SHA1&digits=6&period=30",
        ),
        (
            AccountSpec(issuer="a@b/c d", name="x/y@z", params=TOTP),
            f"otpauth://totp/a@b%2Fc%20d:x%2Fy@z?secret={SECRET}&issuer=a@b%2Fc%20d&algorithm=SHA1&digits=6&period=30",
        ),
        (
            AccountSpec(issuer="", name="bob", params=OtpParams(OtpType.TOTP, TOTP.secret, period=60)),
            f"otpauth://totp/bob?secret={SECRET}&algorithm=SHA1&digits=6&period=60",
        ),
        (
            AccountSpec(issuer="Steam", name="", params=OtpParams(OtpType.STEAM, TOTP.secret)),
            f"otpauth://steam/Steam:?secret={SECRET}&issuer=Steam&algorithm=SHA1&digits=5&period=30",
        ),
    ],
)
def test_the_canonical_uri_is_exact(spec, uri):
    assert format_uri(spec) == uri
    assert parse_uri(uri) == spec
