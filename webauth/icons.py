"""Account icons: brand icons matched on the issuer, and images people upload.

Brand icons come from the npm package `simple-icons`, which `scripts/vendor.sh` copies into
static/vendor/simple-icons; the app serves them itself (never a CDN, so no third party learns
which services a user has). An issuer is matched on a normalised form of the icon titles and
their aliases (other names, localised names, the brands that share an icon), so "github.com",
"GitHub (work)" and "GITHUB" all find GitHub. An issuer with no brand icon gets a letter tile:
its initials on a colour derived from its name (`letter_tile`), which static/js/tiles.js
computes the same way for the offline page. Uploaded images are untrusted: only PNG, JPEG
and WebP are opened, within size and pixel limits, and what is stored is a fresh PNG of at
most 128 pixels a side, so no metadata or decoder exploit survives the upload.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import unicodedata
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parent.parent
BRAND_ICONS = ROOT / "static" / "vendor" / "simple-icons"
MAX_ICON_BYTES = 256 * 1024
MAX_ICON_PIXELS = 4096 * 4096
ICON_SIZE = 128
ICON_FORMATS = ("PNG", "JPEG", "WEBP")
# Brand colours below this contrast with white (WCAG 1.4.11 asks 3:1 for graphics) go on a dark chip.
MIN_GRAPHIC_CONTRAST = 3.0

_SLUG = re.compile(r"[a-z0-9_]{1,64}")
_PARENTHESES = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_WORDS = re.compile(r"[\s,;:/|·–—-]+")
_HOST = re.compile(r"^(?:[a-z][a-z0-9+.-]*://)?(?:www\.)?([a-z0-9-]+(?:\.[a-z0-9-]+)+)(?:[/:?#].*)?$", re.IGNORECASE)

log = logging.getLogger(__name__)


class IconError(ValueError):
    """An uploaded icon that cannot be used; `reason` is "too_large" or "not_image"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class BrandIcon:
    slug: str
    title: str
    hex: str

    @property
    def dark(self) -> bool:
        """Drawn on a dark chip: the brand colour is too light to see on white."""
        return needs_dark_chip(self.hex)


# Issuers whose match is remembered, per process; beyond it, matches are computed each time.
MATCH_CACHE_SIZE = 20_000


def normalise(text: str) -> str:
    """The form names are matched in: case, accents, spaces and punctuation do not count."""
    text = unicodedata.normalize("NFKD", text).casefold().replace("&", "and").replace("+", "plus")
    return "".join(ch for ch in text if ch.isalnum() and not unicodedata.combining(ch))


def _luminance(hex_colour: str) -> float:
    channels = []
    for i in (0, 2, 4):
        value = int(hex_colour[i : i + 2], 16) / 255
        channels.append(value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4)
    red, green, blue = channels
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def needs_dark_chip(hex_colour: str) -> bool:
    return 1.05 / (_luminance(hex_colour) + 0.05) < MIN_GRAPHIC_CONTRAST


class IconIndex:
    """Brand icons by slug and by every normalised name they go by."""

    def __init__(self, entries: list[dict]) -> None:
        # Issuers already matched: every row of every list asks, and the answer never changes.
        self._matched: dict[str, BrandIcon | None] = {}
        self.by_slug: dict[str, BrandIcon] = {}
        self.by_name: dict[str, BrandIcon] = {}
        aliases: list[tuple[str, BrandIcon]] = []
        for entry in entries:
            slug, hex_colour = entry.get("slug", ""), entry.get("hex", "")
            if not _SLUG.fullmatch(slug) or not re.fullmatch(r"[0-9A-Fa-f]{6}", hex_colour):
                continue
            icon = BrandIcon(slug, entry.get("title", slug), hex_colour.upper())
            self.by_slug[slug] = icon
            # Titles win over aliases: an alias never takes a name another brand is titled.
            self.by_name.setdefault(normalise(icon.title), icon)
            found = entry.get("aliases") or {}
            names = list(found.get("aka", [])) + list(found.get("old", []))
            names += [dup.get("title", "") for dup in found.get("dup", []) if isinstance(dup, dict)]
            names += list((found.get("loc") or {}).values())
            aliases += [(name, icon) for name in names if isinstance(name, str)]
        for name, icon in aliases:
            key = normalise(name)
            if key:
                self.by_name.setdefault(key, icon)
        self.by_name.pop("", None)

    @classmethod
    def load(cls, folder: Path) -> IconIndex:
        try:
            entries = json.loads((folder / "simple-icons.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            log.warning("brand icons unavailable (run scripts/vendor.sh): %s", error)
            entries = []
        return cls(entries if isinstance(entries, list) else [])

    def match(self, issuer: str) -> BrandIcon | None:
        """The brand icon for an issuer, or None: the whole name, then its host, then its first word."""
        try:
            return self._matched[issuer]
        except KeyError:
            pass
        found = next((self.by_name[name] for name in _candidates(issuer) if name in self.by_name), None)
        if len(self._matched) < MATCH_CACHE_SIZE:
            self._matched[issuer] = found
        return found


def _candidates(issuer: str) -> list[str]:
    issuer = issuer.strip()
    plain = _PARENTHESES.sub(" ", issuer).strip()
    candidates = [normalise(issuer), normalise(plain)]
    host = _HOST.match(plain)
    if host:
        labels = host.group(1).lower().split(".")
        # accounts.google.com -> google; login.example.co.uk -> example (then co)
        candidates += [normalise(label) for label in reversed(labels[:-1])]
    words = [word for word in _WORDS.split(plain) if word]
    if len(words) > 1 and len(normalise(words[0])) >= 3:
        candidates.append(normalise(words[0]))
    return [candidate for candidate in dict.fromkeys(candidates) if candidate]


# Letter tiles ---------------------------------------------------------------------------------

# The tiles' colours (static/css/app.css draws `.tile-N` in TILE_COLOURS[N]): twenty hues
# of even lightness, each at least 4.8:1 under white letters (WCAG AA for text) and clear of
# both the light and the dark page.
TILE_COLOURS = (
    "#a14759", "#a34a40", "#9f4f25", "#975700", "#8b6000", "#796900", "#637103", "#47782c", "#1c7c48", "#007e61",
    "#007e78", "#007b8d", "#00759d", "#156ea8", "#4167ad", "#5c5fac", "#7257a4", "#835197", "#914c85", "#9b4870",
)
_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193
# Spaces as JavaScript's `\s` has them (Python's also counts \x1c-\x1f): tiles.js uses the same.
_SPACE_CHARS = "\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_SPACES = re.compile(f"[{_SPACE_CHARS}]+")
_PADDING = re.compile(f"^[{_SPACE_CHARS}]+|[{_SPACE_CHARS}]+$")


@dataclass(frozen=True)
class LetterTile:
    """An issuer's initials and the index of its colour in TILE_COLOURS."""

    initials: str
    colour: int


def _letters(word: str) -> list[str]:
    return [ch for ch in word if unicodedata.category(ch)[0] in "LN"]


def tile_initials(label: str) -> str:
    """Up to two letters that stand for a name: of its first two words ("Amazon Web Services":
    AW), else the first two of its one word ("Microsoft": Mi, "AWS": AW), ignoring what is in
    brackets. A Chinese, Japanese, Korean or other syllabic name gets its first character alone,
    which is as wide as two Latin letters."""
    text = unicodedata.normalize("NFC", label)
    words = [w for w in (_letters(word) for word in _SPACES.split(_PARENTHESES.sub(" ", text))) if w]
    words = words or [w for w in (_letters(word) for word in _SPACES.split(text)) if w]
    if not words:
        return "?"
    first = words[0][0]
    if unicodedata.category(first) == "Lo":
        return first
    second = words[1][0].upper() if len(words) > 1 else "".join(words[0][1:2])
    return first.upper() + ("" if second and unicodedata.category(second[0]) == "Lo" else second)


def tile_colour(label: str) -> int:
    """The colour of a name's tile: FNV-1a (32 bits) of its lower-cased UTF-8, modulo the palette.
    The same name always gets the same colour, here and in static/js/tiles.js."""
    value = _FNV_OFFSET
    for byte in _PADDING.sub("", unicodedata.normalize("NFC", label)).lower().encode("utf-8"):
        value = ((value ^ byte) * _FNV_PRIME) & 0xFFFFFFFF
    return value % len(TILE_COLOURS)


def letter_tile(label: str) -> LetterTile:
    return LetterTile(tile_initials(label), tile_colour(label))


@lru_cache(maxsize=1)
def brand_index() -> IconIndex:
    return IconIndex.load(BRAND_ICONS)


@lru_cache(maxsize=512)
def brand_svg(slug: str) -> bytes | None:
    """The icon's SVG in its brand colour, or None when there is no such icon."""
    icon = brand_index().by_slug.get(slug)
    if icon is None:
        return None
    try:
        svg = (BRAND_ICONS / "icons" / f"{icon.slug}.svg").read_text(encoding="utf-8")
    except OSError:
        return None
    return svg.replace("<svg ", f'<svg fill="#{icon.hex}" ', 1).encode("utf-8")


def image_pixels(data: bytes) -> int | None:
    """The pixel count an icon would decode to, read from its header alone; None when it is no
    PNG, JPEG or WebP that `normalise_image` could open. Cheap: no pixel is decoded."""
    if len(data) > MAX_ICON_BYTES:
        return None
    try:
        with Image.open(io.BytesIO(data), formats=ICON_FORMATS) as image:
            width, height = image.size
    except Exception:  # Pillow's parsers raise many unrelated types on corrupt input.
        return None
    return width * height


def normalise_image(data: bytes) -> bytes:
    """An uploaded icon as a PNG of at most ICON_SIZE pixels a side, or IconError."""
    if len(data) > MAX_ICON_BYTES:
        raise IconError("too_large")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=ICON_FORMATS) as image:
                width, height = image.size
                if width * height > MAX_ICON_PIXELS:
                    raise IconError("too_large")
                picture = ImageOps.exif_transpose(image).convert("RGBA")
    except IconError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise IconError("too_large") from None
    except Exception as error:  # Pillow's decoders raise many unrelated types on corrupt input.
        raise IconError("not_image") from error
    picture.thumbnail((ICON_SIZE, ICON_SIZE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    picture.save(out, "PNG", optimize=True)
    return out.getvalue()


def image_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]
