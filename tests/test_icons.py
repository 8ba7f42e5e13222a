"""The committed app icons: the sizes the manifest and the page name, and the maskable safe zone."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from PIL import Image

ICONS = Path(__file__).resolve().parents[1] / "static" / "icons"
THEME = (0x0F, 0x76, 0x6E)


@pytest.mark.parametrize(
    ("name", "size"),
    [
        ("icon-192.png", 192),
        ("icon-512.png", 512),
        ("maskable-512.png", 512),
        ("apple-touch-icon.png", 180),
        ("favicon-32.png", 32),
    ],
)
def test_icon_sizes(name, size):
    with Image.open(ICONS / name) as image:
        assert image.format == "PNG"
        assert image.size == (size, size)


@pytest.mark.parametrize("name", ["maskable-512.png", "apple-touch-icon.png"])
def test_full_bleed_icons_are_opaque(name):
    """Launchers crop maskable icons and iOS paints transparency black: no alpha at all."""
    with Image.open(ICONS / name) as image:
        assert image.mode == "RGB"


def test_maskable_mark_stays_inside_the_safe_circle():
    """Everything outside the central circle of 80% diameter is plain background."""
    with Image.open(ICONS / "maskable-512.png") as image:
        pixels = image.convert("RGB").load()
        size = image.width
    safe = 0.4 * size
    centre = size / 2
    outside = [
        pixels[x, y] for y in range(size) for x in range(size) if math.hypot(x + 0.5 - centre, y + 0.5 - centre) > safe
    ]
    assert set(outside) == {THEME}


def test_favicon_svg_uses_the_theme_colour():
    text = (ICONS / "favicon.svg").read_text(encoding="utf-8")
    assert text.startswith("<svg ") and "#0f766e" in text
    assert "<script" not in text
