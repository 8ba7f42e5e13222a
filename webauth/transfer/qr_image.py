"""QR codes in an image (a screenshot of a setup page, a photo of Google's transfer codes).

Every QR code in the image is decoded with zxing-cpp; each one's text then goes through the
same reader as an otpauth list, so otpauth:// and otpauth-migration:// codes both import.
Images are untrusted: only PNG, JPEG, WebP and GIF decoders are allowed, the file size and the
pixel count are checked before any pixel is decoded, and only the first frame of an animation
is scanned.
"""

from __future__ import annotations

import io
import warnings
from typing import ClassVar

import zxingcpp
from flask_babel import gettext as _
from PIL import Image

from webauth.transfer._parsing import check_size, content_lines, extract_uri
from webauth.transfer.base import ImportedEntry, Importer, TransferError
from webauth.transfer.otpauth_list import read_uri_texts

MAX_IMAGE_PIXELS = 40_000_000
_PILLOW_FORMATS = ("PNG", "JPEG", "WEBP", "GIF")
_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a")


def _is_image(data: bytes) -> bool:
    return data.startswith(_MAGIC) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")


def _grayscale(data: bytes) -> Image.Image:
    """The image's first frame in 8-bit gray, transparent areas made white, or a TransferError."""
    too_large = _("The image is larger than %(limit)s megapixels", limit=MAX_IMAGE_PIXELS // 1_000_000)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=_PILLOW_FORMATS) as image:
                width, height = image.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise TransferError(too_large)
                if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
                    rgba = image.convert("RGBA")
                    white = Image.new("RGBA", rgba.size, "white")
                    return Image.alpha_composite(white, rgba).convert("L")
                return image.convert("L")
    except TransferError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise TransferError(too_large) from None
    except Exception as exc:  # Pillow's decoders raise many unrelated types on corrupt input.
        raise TransferError(_("The image could not be read (use a PNG, JPEG, WebP or GIF file)")) from exc


def decode_qr_texts(data: bytes) -> list[str]:
    """The text of every QR code in the image, in the order found, without duplicates."""
    check_size(data)
    gray = _grayscale(data)
    try:
        barcodes = zxingcpp.read_barcodes(gray, formats=zxingcpp.BarcodeFormat.QRCode)
    except Exception as exc:  # the native decoder reports failures with assorted runtime errors
        raise TransferError(_("The image could not be scanned for QR codes")) from exc
    texts: list[str] = []
    for barcode in barcodes:
        if barcode.valid and barcode.text and barcode.text not in texts:
            texts.append(barcode.text)
    return texts


class QrImageImporter(Importer):
    format_id: ClassVar[str] = "qr_image"
    title: ClassVar[str] = "QR code image (PNG, JPEG, WebP, GIF)"

    def sniff(self, data: bytes) -> bool:
        return _is_image(data)

    def read(self, data: bytes, password: str | None = None) -> list[ImportedEntry]:
        texts = decode_qr_texts(data)
        if not texts:
            raise TransferError(_("No QR code found in the image"))
        sources: list[tuple[str, str]] = []
        for index, text in enumerate(texts, start=1):
            lines = [line for _, line in content_lines(text) if extract_uri(line) is not None]
            for number, line in enumerate(lines, start=1):
                sources.append((f"QR code {index}" + (f", line {number}" if len(lines) > 1 else ""), line))
        if not sources:
            if len(texts) == 1:
                raise TransferError(_("The QR code in the image holds no otpauth:// account"))
            raise TransferError(
                _("None of the %(count)s QR codes in the image holds an otpauth:// account", count=len(texts))
            )
        return read_uri_texts(sources)


IMPORTERS: list[Importer] = [QrImageImporter()]
