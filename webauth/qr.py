"""The one QR writer: PNGs of QR codes for the reveal page, the printable sheets and the CLI.

QR codes are drawn by zxing-cpp (already the app's QR reader, see `transfer/qr_image.py`), not
by the pure-Python `qrcode` package: for 1,000 accounts `qrcode` needs about half a minute of
CPU to draw the hundred dense transfer codes, zxing-cpp about half a second
(`bench/transfer_1000.py --compare-qrcode`).
"""

from __future__ import annotations

import base64
import io

import zxingcpp
from PIL import Image

# Pixels per QR module. The sheets show codes scaled up by CSS (pixelated, so still sharp), which
# keeps a page of 1,000 codes quick to make and to load; one code on its own, and files written
# by the CLI, are drawn larger.
SHEET_SCALE = 2
LARGE_SCALE = 8


def qr_png(text: str, scale: int = SHEET_SCALE) -> bytes:
    """A black-on-white PNG of a QR code (error correction M, quiet zone included) holding `text`."""
    barcode = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    view = memoryview(barcode.to_image(scale=scale, add_quiet_zones=True))
    height, width = view.shape
    # zxing-cpp draws pure black and white, so a plain threshold (no dithering) keeps every module.
    image = Image.frombytes("L", (width, height), view.tobytes()).convert("1", dither=Image.Dither.NONE)
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)
    return out.getvalue()


def data_uri(png: bytes) -> str:
    """A PNG as a `data:` URL, for an <img> on a `no-store` page (the CSP allows `img-src data:`)."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
