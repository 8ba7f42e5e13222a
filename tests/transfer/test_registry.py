"""Detection and the single import entry point, over every interop fixture and every sample format."""

from __future__ import annotations

import contextlib
from typing import ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st
from interop_fixtures import FORMAT_OF, expected, fixture, fuzz, mutated

from tests.support.hostile_files import png
from webauth.otp import OtpParams, OtpType
from webauth.otpauth import AccountSpec
from webauth.transfer import registry
from webauth.transfer.base import ImportedEntry, Importer, TransferError
from webauth.transfer.limits import MAX_IMPORT_BYTES, MAX_IMPORT_ENTRIES, MAX_IMPORTED_ICON_PIXELS, MAX_IMPORTED_ICONS

FUZZ = fuzz(200)

COUNTED_FILES = [name for name, info in expected()["files"].items() if info["count"] is not None]
# The screenshot is left out of the mutation fuzzing: decoding a 650 KB image per example is
# slow, and the QR importer's own tests fuzz it.
TEXT_AND_DATA_FILES = [name for name in expected()["files"] if not name.endswith(".png")]


def test_every_fixture_has_an_expected_format() -> None:
    assert set(FORMAT_OF) == set(expected()["files"])


def test_a_transfer_uri_after_a_prefix_is_read() -> None:
    # "QR-Code:otpauth-migration://...": some scanner apps write what the code said after a label.
    importer, entries = registry.read_import(fixture("google_migration_bad_prefix.txt"))
    assert importer.format_id == "google_migration"
    labels = [(entry.spec.issuer, entry.spec.name) for entry in entries if entry.spec]
    assert labels == [("raspberrypi", "pi@raspberrypi")]


def test_ente_text_is_ente_although_the_plain_list_reads_it_too() -> None:
    data = fixture("ente_auth.txt")
    assert registry.IMPORTERS_BY_ID["otpauth"].sniff(data)
    assert registry.detect(data).format_id == "ente"


def test_a_named_format_skips_detection() -> None:
    importer, entries = registry.read_import(fixture("ente_auth.txt"), format_id="otpauth")
    assert importer.format_id == "otpauth" and len(entries) == 7


def test_every_format_id_is_listed_once() -> None:
    assert len(registry.IMPORTERS_BY_ID) == len(registry.IMPORTERS)
    assert all(registry.IMPORTERS_BY_ID[importer.format_id] is importer for importer in registry.IMPORTERS)


@pytest.mark.parametrize("data", [b"hello, world", b"\x00\x01\x02binary", b"   \n", b"{}", b"[]", b"\xff\xfe"])
def test_unknown_content_is_refused_with_the_supported_formats(data: bytes) -> None:
    with pytest.raises(TransferError, match=r"not recognised.*Ente Auth"):
        registry.read_import(data)


def test_empty_input_is_refused() -> None:
    with pytest.raises(TransferError, match="empty"):
        registry.read_import(b"")


def test_oversized_input_is_refused_before_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_detection(data: bytes) -> Importer:
        raise AssertionError("an oversized file reached detection")

    monkeypatch.setattr(registry, "detect", no_detection)
    with pytest.raises(TransferError, match=r"^The file is 5\.0 MiB; an import file may be at most 5 MiB\.$"):
        registry.read_import(b"x" * (MAX_IMPORT_BYTES + 1))
    with pytest.raises(TransferError, match=r"^The file is 6\.5 MiB; an import file may be at most 5 MiB\.$"):
        registry.read_import(b"x" * int(6.5 * 2**20))


def test_a_file_of_exactly_the_size_limit_is_read() -> None:
    with pytest.raises(TransferError, match="not recognised"):
        registry.read_import(b"\x00" * MAX_IMPORT_BYTES)


def test_an_unknown_format_id_is_refused() -> None:
    with pytest.raises(TransferError, match="Unknown import format 'lastpass'"):
        registry.read_import(fixture("plain.txt"), format_id="lastpass")


def test_too_many_entries_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    class Flood(Importer):
        format_id: ClassVar[str] = "flood"
        title: ClassVar[str] = "Flood"

        def sniff(self, data: bytes) -> bool:
            return True

        def read(self, data: bytes, password: str | None = None) -> list[ImportedEntry]:
            return [ImportedEntry(source="x", spec=None, problem="x")] * (MAX_IMPORT_ENTRIES + 1)

    monkeypatch.setitem(registry.IMPORTERS_BY_ID, "flood", Flood())
    with pytest.raises(TransferError, match=r"^The file holds 10001 entries; at most 10000 can be imported at once\.$"):
        registry.read_import(b"anything", format_id="flood")
    monkeypatch.setattr(Flood, "read", lambda self, data, password=None: [ImportedEntry("x", None, "x")] * 10_000)
    assert len(registry.read_import(b"anything", format_id="flood")[1]) == MAX_IMPORT_ENTRIES


def test_too_many_ente_lines_are_refused_before_converting() -> None:
    line = fixture("ente_auth.txt").splitlines()[0]
    with pytest.raises(TransferError, match=f"at most {MAX_IMPORT_ENTRIES}"):
        registry.read_import(b"\n".join([line] * (MAX_IMPORT_ENTRIES + 1)))


@FUZZ
@given(data=st.binary(max_size=4096))
def test_arbitrary_bytes_raise_only_transfer_errors(data: bytes) -> None:
    with contextlib.suppress(TransferError):
        registry.read_import(data)


@FUZZ
@given(data=st.sampled_from(TEXT_AND_DATA_FILES).flatmap(lambda name: mutated(fixture(name))))
def test_mutated_fixtures_raise_only_transfer_errors(data: bytes) -> None:
    with contextlib.suppress(TransferError):
        registry.read_import(data)


def test_refusals_list_every_supported_format_once_and_cut_an_unknown_id() -> None:
    titles = ", ".join(dict.fromkeys(importer.title for importer in registry.IMPORTERS))
    with pytest.raises(TransferError) as unknown:
        registry.read_import(b"\x00 binary", format_id="x" * 50)
    assert str(unknown.value) == f"Unknown import format '{'x' * 40}'. Supported formats: {titles}."
    with pytest.raises(TransferError) as unrecognised:
        registry.read_import(b"\x00 binary")
    assert str(unrecognised.value) == f"This file's format is not recognised. Supported formats: {titles}."


def test_the_password_reaches_the_importer() -> None:
    importer, entries = registry.read_import(fixture("aegis_encrypted.json"), "test")
    assert importer.format_id == "aegis" and len(entries) == 7


# The icon budget's edges (limits.py), at the level of the entries the preview shows -----------


def with_icon(icon: bytes | None, name: str = "a") -> ImportedEntry:
    params = OtpParams(OtpType.TOTP, b"k")
    return ImportedEntry(name, AccountSpec(issuer="x", name=name, params=params, icon=icon, icon_mime="image/png"))


def test_icons_up_to_the_count_limit_are_kept_and_every_entry_stays() -> None:
    small = png(2, 2)
    entries = [with_icon(small, str(n)) for n in range(MAX_IMPORTED_ICONS + 2)]
    kept = registry.keep_icons_within_budget(entries)
    assert [entry.spec.name for entry in kept if entry.spec] == [str(n) for n in range(MAX_IMPORTED_ICONS + 2)]
    assert [entry.spec.icon is not None for entry in kept if entry.spec] == [True] * MAX_IMPORTED_ICONS + [False] * 2
    assert all(entry.spec.icon_mime is None for entry in kept[MAX_IMPORTED_ICONS:] if entry.spec)


def test_an_icon_of_exactly_the_pixel_limit_is_kept_and_a_larger_one_left_out() -> None:
    side = int(MAX_IMPORTED_ICON_PIXELS**0.5)
    assert side * side == MAX_IMPORTED_ICON_PIXELS
    largest, too_large, broken = registry.keep_icons_within_budget(
        [with_icon(png(side, side)), with_icon(png(side, side + 1)), with_icon(b"\x89PNG\r\n\x1a\n broken")]
    )
    assert largest.spec is not None and largest.spec.icon is not None and largest.spec.icon_mime == "image/png"
    assert too_large.spec is not None and (too_large.spec.icon, too_large.spec.icon_mime) == (None, None)
    assert broken.spec is not None and (broken.spec.icon, broken.spec.icon_mime) == (None, None)


def test_icons_left_out_do_not_count_against_the_ones_after_them() -> None:
    entries = [with_icon(b"not an image")] * 5 + [with_icon(png(2, 2), str(n)) for n in range(MAX_IMPORTED_ICONS)]
    entries.insert(3, ImportedEntry("line 4", None, "a problem"))
    kept = registry.keep_icons_within_budget(entries)
    assert kept[3] == entries[3]
    assert sum(1 for entry in kept if entry.spec and entry.spec.icon) == MAX_IMPORTED_ICONS
