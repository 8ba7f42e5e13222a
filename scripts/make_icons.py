"""Render webauth's app icons into static/icons/ (run from anywhere; the PNGs are committed).

The mark is a countdown ring, a code's period running out, around a keyhole: simple flat
shapes that stay legible at 32 px. Every size is drawn from the same geometry, as vector
shapes at 8x and scaled down, so edges are smooth; `favicon.svg` is written from the same
numbers so the browser tab and the installed icon match.

    .venv/bin/python scripts/make_icons.py
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parents[1] / "static" / "icons"

# Keep in step with manifest.json (theme_color) and the CSS.
THEME = "#0f766e"
# The SVG favicon's tile in dark mode: a lighter teal stands out on a dark tab strip.
THEME_DARK = "#0d9488"
MARK = "#ffffff"

SUPERSAMPLE = 8
# The ring's gap: 12 o'clock back to 10 o'clock, as a countdown that has used a sixth of its period.
ARC_START, ARC_END = -90.0, 210.0  # degrees, clockwise from 3 o'clock (Pillow's convention)


@dataclass(frozen=True)
class Layout:
    """How one icon places the mark; lengths are fractions of the icon's side."""

    ring: float  # radius of the ring's centre line
    stroke: float  # ring thickness
    corner: float | None  # corner radius of the tile; None for a full-bleed square


# Purpose "any": a rounded tile with a transparent outside, like most home-screen icons.
ANY = Layout(ring=0.265, stroke=0.075, corner=0.22)
# Maskable: full bleed, and the whole mark (outer radius 0.3) well inside the 0.4 safe circle.
MASKABLE = Layout(ring=0.26, stroke=0.075, corner=None)
# iOS rounds the corners itself and shows transparency as black, so fill the square.
APPLE = Layout(ring=0.27, stroke=0.078, corner=None)
# At 32 px thin lines blur: a bigger, bolder mark on a tile with smaller margins.
FAVICON = Layout(ring=0.32, stroke=0.12, corner=0.2)


def keyhole(cx: float, cy: float, ring: float, stroke: float) -> tuple[tuple[float, float, float], list]:
    """The keyhole's head (centre x, y, radius) and stem polygon, scaled to the ring."""
    head_r = 0.34 * ring if stroke < 0.1 else 0.38 * ring
    head_y = cy - 0.14 * ring
    top_half, bottom_half = 0.16 * ring, 0.30 * ring
    bottom = cy + 0.52 * ring
    stem = [(cx - top_half, head_y), (cx + top_half, head_y), (cx + bottom_half, bottom), (cx - bottom_half, bottom)]
    return (cx, head_y, head_r), stem


def render(size: int, layout: Layout) -> Image.Image:
    big = size * SUPERSAMPLE
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    if layout.corner is None:
        draw.rectangle((0, 0, big, big), fill=THEME)
    else:
        draw.rounded_rectangle((0, 0, big - 1, big - 1), radius=layout.corner * big, fill=THEME)

    c = big / 2
    ring, stroke = layout.ring * big, layout.stroke * big
    outer = ring + stroke / 2
    draw.arc((c - outer, c - outer, c + outer, c + outer), ARC_START, ARC_END, fill=MARK, width=round(stroke))
    for angle in (ARC_START, ARC_END):  # round caps
        x, y = c + ring * math.cos(math.radians(angle)), c + ring * math.sin(math.radians(angle))
        draw.ellipse((x - stroke / 2, y - stroke / 2, x + stroke / 2, y + stroke / 2), fill=MARK)

    (hx, hy, hr), stem = keyhole(c, c, ring, layout.stroke)
    draw.ellipse((hx - hr, hy - hr, hx + hr, hy + hr), fill=MARK)
    draw.polygon(stem, fill=MARK)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def svg(layout: Layout) -> str:
    """The favicon as SVG on a 100-unit grid, with a lighter tile in dark mode."""
    unit = 100
    c, ring, stroke = unit / 2, layout.ring * unit, layout.stroke * unit

    def point(angle: float) -> str:
        return f"{c + ring * math.cos(math.radians(angle)):.2f} {c + ring * math.sin(math.radians(angle)):.2f}"

    large = 1 if (ARC_END - ARC_START) % 360 > 180 else 0
    (hx, hy, hr), stem = keyhole(c, c, ring, layout.stroke)
    stem_points = " ".join(f"{x:.2f},{y:.2f}" for x, y in stem)
    corner = (layout.corner or 0) * unit
    return f"""<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {unit} {unit}">
  <style>.tile{{fill:{THEME}}}@media (prefers-color-scheme:dark){{.tile{{fill:{THEME_DARK}}}}}</style>
  <rect class="tile" width="{unit}" height="{unit}" rx="{corner:.2f}"/>
  <path d="M{point(ARC_START)} A{ring:.2f} {ring:.2f} 0 {large} 1 {point(ARC_END)}" fill="none" stroke="{MARK}"
    stroke-width="{stroke:.2f}" stroke-linecap="round"/>
  <circle cx="{hx:.2f}" cy="{hy:.2f}" r="{hr:.2f}" fill="{MARK}"/>
  <polygon points="{stem_points}" fill="{MARK}"/>
</svg>
"""


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    targets = {
        "icon-192.png": (192, ANY),
        "icon-512.png": (512, ANY),
        "maskable-512.png": (512, MASKABLE),
        "apple-touch-icon.png": (180, APPLE),
        "favicon-32.png": (32, FAVICON),
    }
    for name, (size, layout) in targets.items():
        image = render(size, layout)
        if layout.corner is None:
            image = image.convert("RGB")  # full bleed: no alpha channel to carry
        image.save(OUT / name, optimize=True)
    (OUT / "favicon.svg").write_text(svg(FAVICON), encoding="utf-8")
    print(f"wrote {len(targets) + 1} icons to {OUT}")


if __name__ == "__main__":
    main()
