"""QR code pictures for tests: single codes, several on one sheet, and camera video files."""

from __future__ import annotations

import io
from pathlib import Path

import qrcode
from PIL import Image


def qr_image(text: str, box: int = 6) -> Image.Image:
    return qrcode.make(text, box_size=box, border=4).get_image().convert("RGB")


def png(image: Image.Image, fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def qr_png(text: str, box: int = 6) -> bytes:
    return png(qr_image(text, box))


def qr_sheet(texts: list[str], box: int = 5) -> bytes:
    """Several QR codes side by side on a white sheet, as a screenshot of a setup page might hold."""
    codes = [qr_image(text, box) for text in texts]
    sheet = Image.new("RGB", (sum(code.width for code in codes) + 40 * len(codes), max(c.height for c in codes) + 40),
                      "white")
    x = 20
    for code in codes:
        sheet.paste(code, (x, 20))
        x += code.width + 40
    return png(sheet)


def write_y4m(path: Path, image: Image.Image, frames: int = 10, size: tuple[int, int] = (640, 480)) -> Path:
    """A YUV4MPEG2 (4:2:0) video of `image` centred on white, for Chromium's fake camera.

    The format is a one-line header, then per frame `FRAME\\n` and the Y, U and V planes,
    U and V at half the width and height.
    """
    width, height = size
    frame = Image.new("RGB", size, "white")
    picture = image.copy()
    picture.thumbnail((height - 40, height - 40))
    frame.paste(picture, ((width - picture.width) // 2, (height - picture.height) // 2))
    y, u, v = frame.convert("YCbCr").split()
    half = (width // 2, height // 2)
    planes = y.tobytes() + u.resize(half).tobytes() + v.resize(half).tobytes()
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode("ascii"))
        for _ in range(frames):
            out.write(b"FRAME\n" + planes)
    return path
