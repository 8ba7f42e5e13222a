"""Letter tiles: the initials and colour an issuer without a brand icon gets, the same from the
server (webauth/icons.py, the online list) and from the browser (static/js/tiles.js, the offline
page), each colour legible under its white letters. The JS runs under node, exactly the module
the offline page imports."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webauth.icons import TILE_COLOURS, letter_tile, tile_colour, tile_initials

ROOT = Path(__file__).resolve().parents[1]
MODULE = ROOT / "static" / "js" / "tiles.js"
CSS = ROOT / "static" / "css" / "app.css"

# Reads [label] on stdin; prints [[initials, colour]] in the same order.
NODE_SCRIPT = f"""
import {{ readFileSync }} from 'node:fs';
import {{ tileInitials, tileColour, TILE_COUNT }} from {json.dumps(MODULE.as_uri())};
const labels = JSON.parse(readFileSync(0, 'utf8'));
const tiles = labels.map((label) => [tileInitials(label), tileColour(label)]);
console.log(JSON.stringify({{ count: TILE_COUNT, tiles }}));
"""

ISSUERS = [
    "Microsoft", "Amazon", "AWS", "Amazon Web Services", "amazon web services", "Google (work)", "github.com",
    "Bank_of_100%", "微信", "支付宝 (工作)", "カカオ", "카카오", "Яндекс", "Ελλάδα", "بنك", "ßtadtwerke",
    "İstanbul Kart",
    "Œuvre", "  Padded  ", "1Password", "e-mail", "(only brackets)", "", "!!!", "🙂 Smile", "x", "Café", "Cafe\u0301",
]


def js_tiles(labels: list[str]) -> tuple[int, list[tuple[str, int]]]:
    out = subprocess.run(
        ["node", "--input-type=module", "-e", NODE_SCRIPT],
        input=json.dumps(labels), capture_output=True, text=True, check=True, timeout=60,
    )
    answer = json.loads(out.stdout)
    return answer["count"], [tuple(tile) for tile in answer["tiles"]]


@pytest.mark.parametrize(
    ("label", "initials"),
    [
        ("Microsoft", "Mi"), ("Amazon", "Am"), ("AWS", "AW"), ("Amazon Web Services", "AW"), ("Google (work)", "Go"),
        ("github.com", "Gi"), ("微信", "微"), ("支付宝 (工作)", "支"), ("", "?"), ("!!!", "?"),
        ("(only brackets)", "OB"),
        ("x", "X"), ("1Password", "1P"), ("Яндекс", "Ян"),
    ],
)
def test_initials(label, initials):
    assert tile_initials(label) == initials


def test_the_colour_depends_on_the_name_only():
    assert tile_colour("Amazon Web Services") == tile_colour("  amazon web services ")
    assert letter_tile("Microsoft") == letter_tile("Microsoft")
    # Issuers without a brand icon mostly get colours of their own, not one shared colour.
    colours = {tile_colour(name) for name in ("Microsoft", "Amazon", "AWS", "Bank", "Okta", "Steam", "Proton", "Azure")}
    assert len(colours) >= 6


def _contrast_with_white(hex_colour: str) -> float:
    channels = []
    for i in (1, 3, 5):
        value = int(hex_colour[i : i + 2], 16) / 255
        channels.append(value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4)
    luminance = 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]
    return 1.05 / (luminance + 0.05)


def test_every_colour_is_legible_under_white_letters_and_drawn_by_the_stylesheet():
    assert all(_contrast_with_white(colour) >= 4.5 for colour in TILE_COLOURS)  # WCAG AA for text
    drawn = dict(re.findall(r"\.tile-(\d+) \{ background: (#[0-9a-f]{6}); \}", CSS.read_text()))
    assert drawn == {str(index): colour for index, colour in enumerate(TILE_COLOURS)}
    # No theme redraws a tile: the same colours (and contrast) in the light and the dark theme.
    assert CSS.read_text().count(".tile-0 ") == 1


def test_the_browser_draws_the_same_tiles_as_the_server():
    count, tiles = js_tiles(ISSUERS)
    assert count == len(TILE_COLOURS)
    assert tiles == [(tile_initials(label), tile_colour(label)) for label in ISSUERS]


# Characters Python's Unicode database has not assigned yet (Cn) are left out: node's may be newer.
@settings(max_examples=15, deadline=None)
@given(st.lists(st.text(st.characters(blacklist_categories=("Cs", "Cn")), max_size=30), min_size=1, max_size=150))
def test_the_browser_agrees_on_any_name(labels):
    """Many names to one node process per example: one process per name would take minutes."""
    assert js_tiles(labels)[1] == [(tile_initials(label), tile_colour(label)) for label in labels]
