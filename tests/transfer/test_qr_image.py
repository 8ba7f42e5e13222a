"""QR code images: the Google screenshot fixture, images with several codes made here, and hostile images."""

from __future__ import annotations

import contextlib
import io
import zlib

import pytest
import qrcode
import zxingcpp
from hypothesis import given
from hypothesis import strategies as st
from interop_fixtures import fixture, fuzz, mutated
from PIL import Image

from webauth.otp import OtpType
from webauth.otpauth import encode_secret
from webauth.transfer import qr_image as qr_module
from webauth.transfer.base import TransferError
from webauth.transfer.limits import MAX_IMPORT_BYTES
from webauth.transfer.qr_image import QrImageImporter, decode_qr_texts

QR = QrImageImporter()
FUZZ = fuzz(100)
MIGRATION = fixture("google_migration_bad_prefix.txt").decode().split("QR-Code:")[1].strip()
TOTP = "otpauth://totp/GitHub:alice?secret=JBSWY3DPEHPK3PXP&issuer=GitHub"
HOTP = "otpauth://hotp/Bank:bob?secret=KUVJJOM753IHTNDSZVCNKL7GII&issuer=Bank&counter=4"


def qr_image(text: str) -> Image.Image:
    return qrcode.make(text, box_size=4, border=4).get_image().convert("L")


def encode(image: Image.Image, image_format: str = "PNG") -> bytes:
    out = io.BytesIO()
    image.save(out, format=image_format)
    return out.getvalue()


def sheet(*texts: str) -> Image.Image:
    """The QR codes of `texts` side by side on one white image."""
    codes = [qr_image(text) for text in texts]
    canvas = Image.new("L", (sum(code.width for code in codes) + 20 * len(codes), max(c.height for c in codes)), 255)
    x = 0
    for code in codes:
        canvas.paste(code, (x, 0))
        x += code.width + 20
    return canvas


def test_google_screenshot_fixture() -> None:
    data = fixture("google_migration_example.png")
    assert QR.sniff(data)
    entries = QR.read(data)
    assert len(entries) == 3
    for number, entry in enumerate(entries, start=1):
        assert entry.spec is not None
        params = entry.spec.params
        assert (entry.spec.issuer, entry.spec.name) == (f"Test{number}", f"test{number}@example{number}.com")
        assert (params.type, params.algorithm.value, params.digits, params.period) == (OtpType.TOTP, "SHA1", 6, 30)
    assert [encode_secret(e.spec.params.secret) for e in entries if e.spec] == [
        "JBSWY3DPEHPK3PXP",
        "JBSWY3DPEHPK3PXQ",
        "JBSWY3DPEHPK3PXR",
    ]


@pytest.mark.parametrize("image_format", ["PNG", "JPEG", "WEBP", "GIF"])
def test_several_codes_in_one_image(image_format: str) -> None:
    data = encode(sheet(TOTP, "https://example.com", MIGRATION, HOTP).convert("RGB"), image_format)
    assert QR.sniff(data)
    assert set(decode_qr_texts(data)) == {TOTP, "https://example.com", MIGRATION, HOTP}
    entries = QR.read(data)
    assert sorted(entry.spec.issuer for entry in entries if entry.spec) == ["Bank", "GitHub", "raspberrypi"]
    assert all(entry.source.startswith("QR code") for entry in entries)


def test_transparent_background() -> None:
    code = qr_image(TOTP)
    rgba = Image.new("RGBA", code.size, (0, 0, 0, 0))
    rgba.putalpha(Image.eval(code, lambda value: 255 - value))
    (entry,) = QR.read(encode(rgba))
    assert entry.spec is not None and entry.spec.issuer == "GitHub"


def test_image_without_qr_code() -> None:
    with pytest.raises(TransferError, match="No QR code found in the image"):
        QR.read(encode(Image.new("RGB", (64, 64), "white")))


def test_qr_codes_without_an_account() -> None:
    with pytest.raises(TransferError, match="holds no otpauth"):
        QR.read(encode(qr_image("https://example.com")))
    with pytest.raises(TransferError, match="None of the 2 QR codes"):
        QR.read(encode(sheet("hello", "world")))


def test_too_many_pixels_is_refused_before_decoding() -> None:
    data = encode(Image.new("1", (8000, 6000), 1))
    with pytest.raises(TransferError, match="megapixels"):
        QR.read(data)


def test_too_large_a_file_is_refused() -> None:
    with pytest.raises(TransferError, match="larger than"):
        QR.read(b"\x89PNG\r\n\x1a\n" + b"\x00" * MAX_IMPORT_BYTES)


def test_other_image_formats_are_refused() -> None:
    with pytest.raises(TransferError, match="could not be read"):
        QR.read(encode(qr_image(TOTP), "BMP"))


SMALL_PNG = encode(qr_image(TOTP))


@FUZZ
@given(
    mutated(SMALL_PNG)
    | mutated(encode(qr_image(TOTP), "JPEG"))
    | st.binary(max_size=200).map(lambda tail: SMALL_PNG[:16] + tail)
)
def test_damaged_images_raise_only_transfer_errors(data: bytes) -> None:
    with contextlib.suppress(TransferError):
        QR.read(data)


# The edges, pinned by mutation testing (`make mutation`) ------------------------------------


def test_sources_name_the_code_and_the_line_and_a_repeated_code_counts_once() -> None:
    two_lines = f"{TOTP}\n# a note\n{HOTP}"
    entries = QR.read(encode(sheet(TOTP, TOTP, two_lines)))
    assert [entry.source for entry in entries] == ["QR code 1", "QR code 2, line 1", "QR code 2, line 2"]
    assert [entry.spec.name for entry in entries if entry.spec] == ["alice", "alice", "bob"]


def test_a_transparent_palette_image_is_read_on_white() -> None:
    image = sheet(TOTP).convert("P")
    image.info["transparency"] = 255  # the white of the palette becomes transparent
    out = io.BytesIO()
    image.save(out, format="PNG", transparency=255)
    [entry] = QR.read(out.getvalue())
    assert entry.spec is not None and entry.spec.name == "alice"


def test_webp_is_known_by_its_riff_header() -> None:
    assert QR.sniff(b"RIFF\x00\x00\x00\x00WEBPVP8 ")
    assert not QR.sniff(b"RIFF\x00\x00\x00\x00WAVEfmt ")
    assert not QR.sniff(b"XXXX\x00\x00\x00\x00WEBPVP8 ")


def test_the_pixel_bound_is_inclusive(monkeypatch: pytest.MonkeyPatch) -> None:
    image = sheet(TOTP)
    monkeypatch.setattr(qr_module, "MAX_IMAGE_PIXELS", image.width * image.height)
    assert len(QR.read(encode(image))) == 1
    monkeypatch.setattr(qr_module, "MAX_IMAGE_PIXELS", image.width * image.height - 1)
    with pytest.raises(TransferError, match=r"^The image is larger than 0 megapixels$"):
        QR.read(encode(image))


def _claimed_size_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims another size: Pillow reads the size before any pixel."""
    data = bytearray(encode(Image.new("L", (1, 1), 255)))
    ihdr = data.index(b"IHDR")
    data[ihdr + 4 : ihdr + 12] = width.to_bytes(4, "big") + height.to_bytes(4, "big")
    data[ihdr + 17 : ihdr + 21] = zlib.crc32(bytes(data[ihdr : ihdr + 17])).to_bytes(4, "big")
    return bytes(data)


@pytest.mark.parametrize("side", [7000, 20000])  # past our bound; past Pillow's own bomb check too
def test_a_huge_image_is_refused_by_its_size_in_megapixels(side: int) -> None:
    with pytest.raises(TransferError) as refusal:
        QR.read(_claimed_size_png(side, side))
    assert str(refusal.value) == "The image is larger than 40 megapixels"


def _dark_transparent_background(mode: str) -> bytes:
    """A code whose background is black but transparent: read on white it is black on white."""
    code = sheet(TOTP)
    alpha = code.point(lambda value: 0 if value > 128 else 255)
    if mode == "LA":
        image = Image.merge("LA", (Image.new("L", code.size, 0), alpha))
    else:  # a palette image: index 1 (black) is the transparent background, index 0 (black) the modules
        image = Image.new("P", code.size, 1)
        image.putpalette([0, 0, 0, 0, 0, 0] + [0, 0, 0] * 254)
        image.paste(0, mask=alpha)
        image.info["transparency"] = 1
    out = io.BytesIO()
    image.save(out, format="PNG", **({"transparency": 1} if mode == "P" else {}))
    return out.getvalue()


@pytest.mark.parametrize("mode", ["LA", "P"])
def test_transparency_is_read_on_white_whatever_colour_it_hides(mode: str) -> None:
    [entry] = QR.read(_dark_transparent_background(mode))
    assert entry.spec is not None and entry.spec.name == "alice"


def test_a_decoder_failure_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> list[object]:
        raise RuntimeError("decoder failure")

    monkeypatch.setattr(qr_module.zxingcpp, "read_barcodes", broken)
    with pytest.raises(TransferError) as refusal:
        QR.read(encode(sheet(TOTP)))
    assert str(refusal.value) == "The image could not be scanned for QR codes"


def test_only_qr_codes_are_read_not_other_barcodes() -> None:
    # Sites and authenticators show QR codes; the scan looks for those only, not for a Data Matrix of the same link.
    matrix = memoryview(
        zxingcpp.write_barcode_to_image(zxingcpp.create_barcode(TOTP, zxingcpp.BarcodeFormat.DataMatrix), scale=6)
    )
    image = Image.frombytes("L", (matrix.shape[1], matrix.shape[0]), matrix.tobytes())
    assert decode_qr_texts(encode(image)) == []
    assert decode_qr_texts(encode(sheet(TOTP))) == [TOTP]
