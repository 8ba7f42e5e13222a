"""Which language a browser asks for, without HTTP: Chinese by script, regions by language."""

from __future__ import annotations

import pytest

from webauth.config import LANGUAGES
from webauth.languages import NATIVE_NAMES, byte_size, choices, direction, html_lang, negotiate


@pytest.mark.parametrize(
    ("accepted", "locale"),
    [
        ([("zh-TW", 1), ("zh", 0.9)], "zh_Hant"),
        ([("zh-HK", 1)], "zh_Hant"),
        ([("zh-MO", 1)], "zh_Hant"),
        ([("zh-Hant", 1)], "zh_Hant"),
        ([("zh-Hant-TW", 1)], "zh_Hant"),
        ([("zh-CN", 1)], "zh_Hans"),
        ([("zh", 1)], "zh_Hans"),
        ([("zh-Hans-HK", 1)], "zh_Hans"),
        ([("zh-SG", 1)], "zh_Hans"),
        ([("pt-BR", 1)], "pt"),
        ([("pt-PT", 1)], "pt"),
        ([("ar-EG", 1), ("en", 0.5)], "ar"),
        ([("AR-sa", 1)], "ar"),
        ([("de-AT", 1)], "de"),
        ([("sv-SE", 1), ("nl", 0.8)], "en"),  # nothing offered: English
        ([("sv", 1), ("ko-KR", 0.7), ("ja", 0.5)], "ko"),  # the best offered one
        ([("ja", 0.4), ("fr-CA", 0.9)], "fr"),  # by quality, not order
        ([("ru", 0)], "en"),  # q=0 means "not this"
        ([("*", 1)], "en"),
        ([], "en"),
    ],
)
def test_negotiation(accepted, locale):
    assert negotiate(accepted, LANGUAGES) == locale


def test_a_language_not_offered_is_never_chosen():
    assert negotiate([("zh-TW", 1), ("ja", 0.5)], ["en", "ja"]) == "ja"


def test_tags_and_directions():
    assert [html_lang(code) for code in ("zh_Hans", "zh_Hant", "pt", "ar")] == ["zh-Hans", "zh-Hant", "pt", "ar"]
    assert [code for code in LANGUAGES if direction(code) == "rtl"] == ["ar"]


def test_the_picker_names_every_offered_language_in_its_own_words():
    assert set(NATIVE_NAMES) == set(LANGUAGES)
    assert [name for _code, name in choices(LANGUAGES)] == [
        "العربية", "Deutsch", "English", "Español", "Français", "日本語", "한국어", "Português", "Русский", "ไทย",
        "Українська", "简体中文", "繁體中文",
    ]
    assert choices(["en", "xx"]) == [("en", "English"), ("xx", "xx")]


@pytest.mark.parametrize(
    ("locale", "sizes"),
    [
        ("en", ["512 byte", "1.5 kB", "2.3 MB"]),
        ("de", ["512 Byte", "1,5 kB", "2,3 MB"]),
        ("fr", ["512\u202fo", "1,5\u202fko", "2,3\u202fMo"]),  # French's narrow no-break space
    ],
)
def test_sizes_in_the_locales_words(locale, sizes):
    assert [byte_size(size, locale) for size in (512, 1500, 2_300_000)] == sizes
