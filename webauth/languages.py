"""The languages webauth speaks: their native names, their writing direction, and which one a
browser's Accept-Language asks for.

Locale codes are Babel's and the catalogs' folder names (`zh_Hans`, `pt`); `html_lang` turns them
into the BCP 47 tags HTML, the manifest and JavaScript's Intl want (`zh-Hans`). Chinese is two
catalogs, by script: a browser asking for Taiwan's or Hong Kong's Chinese (zh-TW, zh-HK, zh-MO,
zh-Hant) reads Traditional characters, any other Chinese Simplified. Regional variants of the
other languages (pt-BR, pt-PT, ar-EG, de-AT...) read the one catalog of their language.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

import wtforms.i18n
from babel.support import NullTranslations, Translations
from babel.units import format_unit

# Every language a catalog may exist for, in the picker's order (by native name, as the
# official Casdoor Authenticator lists them), with the name its speakers know it by.
NATIVE_NAMES = {
    "ar": "العربية",
    "de": "Deutsch",
    "en": "English",
    "es": "Español",
    "fr": "Français",
    "ja": "日本語",
    "ko": "한국어",
    "pt": "Português",
    "ru": "Русский",
    "th": "ไทย",
    "uk": "Українська",
    "zh_Hans": "简体中文",
    "zh_Hant": "繁體中文",
}
# Languages written right to left: their pages get dir="rtl" and the mirrored layout.
RIGHT_TO_LEFT = frozenset({"ar", "fa", "he", "ur"})
# Chinese regions and scripts that read Traditional characters.
_TRADITIONAL = frozenset({"hant", "tw", "hk", "mo"})


# WTForms' own catalogs name the two Chinese scripts by region.
_WTFORMS_LOCALES = {"zh_Hans": "zh_CN", "zh_Hant": "zh_TW"}


def wtforms_translations(locale: object) -> NullTranslations:
    """WTForms' catalog of its built-in messages ("This field is required.") for a locale.

    Flask-WTF loads it by the locale's name, which finds no catalog for zh_Hant and so falls back
    to WTForms' Simplified Chinese ("zh"); this asks for zh_TW. A language WTForms has no
    catalog for (Thai) gets its English messages.
    """
    return _wtforms_catalog(str(locale))


@cache
def _wtforms_catalog(locale: str) -> NullTranslations:
    name = _WTFORMS_LOCALES.get(locale, locale)
    return Translations.load(wtforms.i18n.messages_path(), [name, name.split("_")[0]], domain="wtforms")


# Byte sizes as CLDR names their units (kB, Mo, كيلوبايت...), decimal like filesizeformat's.
_SIZE_UNITS = (("digital-gigabyte", 10**9), ("digital-megabyte", 10**6), ("digital-kilobyte", 10**3))


def byte_size(size: int, locale: object) -> str:
    """A file's size in the locale's words and digits: "1.5 MB", "1,5 Mo"."""
    for unit, scale in _SIZE_UNITS:
        if size >= scale:
            return format_unit(size / scale, unit, length="short", format="#,##0.#", locale=str(locale))
    return format_unit(size, "digital-byte", length="short", locale=str(locale))


def html_lang(locale: object) -> str:
    """The BCP 47 tag of a locale code: `zh_Hans` -> `zh-Hans`."""
    return str(locale).replace("_", "-")


def direction(locale: object) -> str:
    """`rtl` for a right-to-left language, else `ltr` (HTML's `dir`, the manifest's `dir`)."""
    return "rtl" if str(locale).split("_")[0] in RIGHT_TO_LEFT else "ltr"


def native_name(locale: str) -> str:
    return NATIVE_NAMES.get(locale, locale)


def choices(offered: Iterable[str]) -> list[tuple[str, str]]:
    """The picker's (locale, native name) pairs: the offered locales in `NATIVE_NAMES`' order, then
    any other offered one."""
    offered = list(offered)
    known = [code for code in NATIVE_NAMES if code in offered]
    return [(code, native_name(code)) for code in known + [code for code in offered if code not in NATIVE_NAMES]]


def supported_locale(tag: str, supported: Iterable[str]) -> str | None:
    """The supported locale a single language tag asks for (`zh-TW` -> `zh_Hant`), or None."""
    parts = [part.lower() for part in tag.replace("_", "-").split("-") if part]
    if not parts or parts[0] == "*":
        return None
    language = parts[0]
    # A script named wins over a region: zh-Hans-HK is Simplified.
    traditional = "hans" not in parts and bool(_TRADITIONAL.intersection(parts[1:]))
    candidate = ("zh_Hant" if traditional else "zh_Hans") if language == "zh" else language
    return candidate if candidate in supported else None


def negotiate(accepted: Iterable[tuple[str, float]], supported: Iterable[str], default: str = "en") -> str:
    """The best supported locale for an Accept-Language list of (tag, quality), best first.

    Werkzeug's `best_match` compares whole tags or their first part only, so it cannot tell
    zh-TW (Traditional) from zh-CN (Simplified); this reads each tag as a language and script.
    """
    supported = list(supported)
    ranked = sorted(accepted, key=lambda item: item[1], reverse=True)
    for tag, quality in ranked:
        if quality <= 0:
            continue
        if (locale := supported_locale(tag, supported)) is not None:
            return locale
    return default
