"""2FAuth: exports in the app's documented schema, with each OTP type, nulls, and icons."""

from __future__ import annotations

import base64
import contextlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from interop_fixtures import STRUCTURED, fuzz, json_values, shaped

from webauth.otp import Algorithm, OtpType
from webauth.transfer import twofauth
from webauth.transfer.base import ImportedEntry, TransferError
from webauth.transfer.twofauth import TwoFAuthImporter

IMPORTER = TwoFAuthImporter()
FUZZ = fuzz(200)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def account(**fields: Any) -> dict[str, Any]:
    """One item as 2FAuth 5 exports it (a TOTP account with no icon unless told otherwise)."""
    base = {
        "otp_type": "totp",
        "account": "johndoe@facebook.com",
        "service": "Facebook",
        "icon": None,
        "icon_mime": None,
        "icon_file": None,
        "secret": "A4GRFTVVRBGY7UIW",
        "digits": 6,
        "algorithm": "sha1",
        "period": 30,
        "counter": None,
        "legacy_uri": "otpauth://totp/Facebook%3Ajohndoe%40facebook.com?issuer=Facebook&secret=A4GRFTVVRBGY7UIW",
    }
    return {**base, **fields}


def export(*items: dict[str, Any], **header: Any) -> bytes:
    body = {"app": "2fauth_v5.1.1", "schema": 1, "datetime": "2024-04-07T12:16:29.606564Z", "data": list(items)}
    return json.dumps({**body, **header}).encode()


def read_one(**fields: Any) -> ImportedEntry:
    [entry] = IMPORTER.read(export(account(**fields)))
    return entry


SAMPLE = export(
    account(),
    account(otp_type="hotp", service="Issuu", account="James", algorithm="sha256", digits=7, period=None, counter=50),
    account(otp_type="steamtotp", service="Steam", account="gaben", digits=5),
)


def test_each_otp_type_imports() -> None:
    assert IMPORTER.sniff(SAMPLE)
    totp, hotp, steam = IMPORTER.read(SAMPLE)
    assert totp.spec is not None and hotp.spec is not None and steam.spec is not None
    assert (totp.spec.issuer, totp.spec.name) == ("Facebook", "johndoe@facebook.com")
    assert totp.spec.params.secret == base64.b32decode("A4GRFTVVRBGY7UIW")
    assert (totp.spec.params.type, totp.spec.params.period) == (OtpType.TOTP, 30)
    hotp_params = hotp.spec.params
    assert (hotp_params.type, hotp_params.algorithm, hotp_params.digits, hotp_params.counter) == (
        OtpType.HOTP,
        Algorithm.SHA256,
        7,
        50,
    )
    assert steam.spec.params.type is OtpType.STEAM
    assert [entry.source for entry in (totp, hotp, steam)] == [
        "account 1 (Facebook: johndoe@facebook.com)",
        "account 2 (Issuu: James)",
        "account 3 (Steam: gaben)",
    ]


def test_nulls_for_optional_fields_take_defaults() -> None:
    entry = read_one(service=None, digits=None, algorithm=None, period=None)
    assert entry.spec is not None
    assert (entry.spec.issuer, entry.spec.params.digits, entry.spec.params.period) == ("", 6, 30)


def test_a_png_icon_is_kept() -> None:
    entry = read_one(icon="x.png", icon_mime="image/png", icon_file=base64.b64encode(PNG).decode())
    assert entry.spec is not None
    assert (entry.spec.icon, entry.spec.icon_mime) == (PNG, "image/png")


@pytest.mark.parametrize(
    ("mime", "payload"),
    [
        ("image/svg+xml", base64.b64encode(SVG).decode()),
        ("image/png", base64.b64encode(SVG).decode()),
        ("image/png", "not base64!"),
        ("image/webp", base64.b64encode(b"RIFF\0\0\0\0WAVE").decode()),
        ("image/png", base64.b64encode(PNG + b"\0" * 300_000).decode()),
        (None, base64.b64encode(PNG).decode()),
        (["image/png"], base64.b64encode(PNG).decode()),
    ],
)
def test_other_icons_are_dropped_and_the_account_kept(mime: object, payload: str) -> None:
    entry = read_one(icon="x", icon_mime=mime, icon_file=payload)
    assert entry.spec is not None
    assert (entry.spec.icon, entry.spec.icon_mime) == (None, None)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"otp_type": "motp"}, "kind"),
        ({"algorithm": "md5"}, "algorithm"),
        ({"secret": "1nv@lid"}, "secret"),
        ({"secret": None}, "secret"),
        ({"digits": "six"}, "digits"),
        ({"period": -5}, "period"),
    ],
)
def test_a_bad_account_is_a_problem(fields: dict[str, Any], field: str) -> None:
    entry = read_one(**fields)
    assert entry.spec is None and entry.problem is not None and field.lower() in entry.problem.lower()


@pytest.mark.parametrize(
    "data",
    [
        json.dumps({"app": "other", "data": []}).encode(),
        json.dumps({"app": "2fauth_v5", "data": {}}).encode(),
        json.dumps([{"app": "2fauth_v5"}]).encode(),
    ],
)
def test_files_that_are_not_2fauth_exports_are_refused(data: bytes) -> None:
    assert not IMPORTER.sniff(data)
    with pytest.raises(TransferError, match="not a 2FAuth export"):
        IMPORTER.read(data)


def test_an_unknown_schema_is_refused() -> None:
    with pytest.raises(TransferError, match="schema 2"):
        IMPORTER.read(export(account(), schema=2))


ITEM_KEYS = ["otp_type", "account", "service", "secret", "digits", "algorithm", "period", "counter"]


@STRUCTURED
@given(items=st.lists(shaped([*ITEM_KEYS, "icon_mime", "icon_file"]) | json_values, max_size=5), schema=json_values)
def test_any_field_values_raise_only_transfer_errors(items: list[object], schema: object) -> None:
    with contextlib.suppress(TransferError):
        assert len(IMPORTER.read(export(*items, schema=schema))) == len(items)  # type: ignore[arg-type]


# The edges, pinned by mutation testing (`make mutation`) ------------------------------------


def test_an_hotp_account_without_a_counter_starts_at_zero() -> None:
    entry = read_one(otp_type="hotp", counter=None, period=None)
    assert entry.spec is not None and (entry.spec.params.type, entry.spec.params.counter) == (OtpType.HOTP, 0)


@pytest.mark.parametrize(
    ("field", "message"),
    [("otp_type", "This entry has no otp_type field."), ("secret", "This entry has no secret field.")],
)
def test_the_type_and_the_secret_are_required(field: str, message: str) -> None:
    entry = read_one(**{field: None})
    assert (entry.spec, entry.problem) == (None, message)


def test_a_webp_icon_needs_its_riff_and_webp_marks_and_strict_base64() -> None:
    webp = b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"\x00" * 8
    kept = read_one(icon="x.webp", icon_mime="image/webp", icon_file=base64.b64encode(webp).decode())
    assert kept.spec is not None and kept.spec.icon == webp
    wave = b"RIFF\x10\x00\x00\x00WAVEfmt " + b"\x00" * 8
    dropped = read_one(icon="x.webp", icon_mime="image/webp", icon_file=base64.b64encode(wave).decode())
    assert dropped.spec is not None and dropped.spec.icon is None
    loose = read_one(icon="x.png", icon_mime="image/png", icon_file=base64.b64encode(PNG).decode() + "!")
    assert loose.spec is not None and loose.spec.icon is None


def test_unknown_types_and_schemas_are_named() -> None:
    expected = "This entry is of a kind webauth cannot import, 'motp': 2FAuth writes totp, hotp and steamtotp."
    assert read_one(otp_type="motp").problem == expected
    with pytest.raises(TransferError) as refusal:
        IMPORTER.read(export(account(), schema=2))
    assert str(refusal.value) == "This 2FAuth export uses schema 2; only schema 1 can be read."


def test_the_icon_size_bound_is_inclusive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(twofauth, "_MAX_ICON_BYTES", 6)  # 6 * 4 // 3 + 4: 12 base64 characters, no more
    signature = base64.b64encode(PNG[:8]).decode()
    assert read_one(icon="x.png", icon_mime="image/png", icon_file=signature).spec.icon == PNG[:8]
    longer = base64.b64encode(PNG[:12]).decode()
    assert read_one(icon="x.png", icon_mime="image/png", icon_file=longer).spec.icon is None


def test_parameters_of_the_other_types_are_not_read() -> None:
    hotp = read_one(otp_type="hotp", counter=3, period="junk")
    totp = read_one(otp_type="totp", counter="junk", period=30)
    assert hotp.spec is not None and totp.spec is not None
