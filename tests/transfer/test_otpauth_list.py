"""otpauth URI lists: the interop list, mixed lists with transfer URIs and bad lines, and the exporter."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from interop_fixtures import assert_matches_vectors, fixture, fuzz

from webauth.otpauth import OtpauthError, format_uri, parse_uri
from webauth.transfer.base import TransferError
from webauth.transfer.otpauth_list import OtpauthListImporter, export_otpauth_list

LIST = OtpauthListImporter()
FUZZ = fuzz(200)


def test_plain_fixture_matches_the_vectors() -> None:
    data = fixture("plain.txt")
    assert LIST.sniff(data)
    assert_matches_vectors("plain.txt", LIST.read(data))


def test_mixed_list_with_comments_transfer_uris_and_bad_lines() -> None:
    migration = fixture("google_migration_bad_prefix.txt").decode().strip()
    text = "\n".join(
        [
            "# my accounts",
            "",
            "otpauth://totp/Deno:Mason?secret=4SJHB4GSD43FZBAI7C2HLRJGPQ&issuer=Deno",
            "not a uri at all",
            "otpauth://totp/x?secret=1",
            migration,
            '  "otpauth://hotp/Bank:bob?secret=JBSWY3DPEHPK3PXP&counter=3"  ',
        ]
    ).encode()
    deno, junk, bad_secret, google, bank = LIST.read(text)
    assert deno.spec is not None and deno.source == "line 3"
    with pytest.raises(OtpauthError) as junk_error:
        parse_uri("not a uri at all")
    assert (junk.spec, junk.problem) == (None, str(junk_error.value))
    assert bad_secret.spec is None and (bad_secret.problem or "").startswith("The secret key")
    assert google.spec is not None and google.spec.issuer == "raspberrypi" and google.source.startswith("line 6")
    assert bank.spec is not None and bank.spec.params.counter == 3


def test_transfer_uri_files_read_through_the_list_too() -> None:
    entries = LIST.read(fixture("google_migration_example.txt"))
    assert len(entries) == 6 and all(entry.spec for entry in entries)
    (entry,) = LIST.read(fixture("google_migration_bad_prefix.txt"))
    assert entry.spec is not None and entry.spec.name == "pi@raspberrypi"


def test_text_without_any_uri_is_refused() -> None:
    with pytest.raises(TransferError, match="No otpauth"):
        LIST.read(b"# only a comment\nhello\n")
    with pytest.raises(TransferError):
        LIST.read(b"\xff\xfe binary")


def test_export_writes_one_canonical_uri_per_line() -> None:
    specs = [entry.spec for entry in LIST.read(fixture("plain.txt")) if entry.spec]
    assert len(specs) == 7
    assert export_otpauth_list(specs).decode().splitlines() == [format_uri(spec) for spec in specs]


@FUZZ
@given(
    st.lists(
        st.sampled_from(
            [
                "otpauth://",
                "otpauth-migration://offline?data=",
                "totp/",
                "?secret=",
                "&",
                "=",
                "%",
                "issuer",
                "counter",
                "period",
                "digits",
                "\n",
                ":",
                "#",
            ]
        )
        | st.text(max_size=8),
        max_size=30,
    )
)
def test_uri_like_text_raises_only_transfer_errors(parts: list[str]) -> None:
    with contextlib.suppress(TransferError):
        LIST.read("".join(parts).encode("utf-8", "surrogatepass"))
