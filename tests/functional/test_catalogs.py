"""Every catalog of every offered language: complete, no guesses, the placeholders of each string
kept, each plural with all its forms, and those forms chosen right for a count.

A language in WEBAUTH_LANGUAGES without its catalog fails here, as a string without its
translation does: what a user would otherwise see is English in the middle of their language.
"""

from __future__ import annotations

import io
import re

import pytest
from babel import Locale
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po
from babel.support import Translations
from flask_babel import force_locale, ngettext

from tests.conftest import ROOT
from webauth.config import LANGUAGES as OFFERED

LANGUAGES = [code for code in OFFERED if code != "en"]
TRANSLATIONS = ROOT / "translations"
# Python's %(name)s (and %(num)d) and the {name} the templates hand to JavaScript.
_PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|\{(\w+)\}")


def _catalog(language: str):
    path = TRANSLATIONS / language / "LC_MESSAGES" / "messages.po"
    assert path.exists(), f"{language} is offered (WEBAUTH_LANGUAGES) but has no catalog at {path}"
    with open(path, "rb") as handle:
        return read_po(handle)


def _forms(message) -> tuple[str, ...]:
    return message.string if isinstance(message.string, tuple) else (message.string,)


def _ids(message) -> tuple[str, ...]:
    return message.id if isinstance(message.id, tuple) else (message.id,)


def _placeholders(text: str) -> set[str]:
    return {a or b for a, b in _PLACEHOLDER.findall(text)}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_string_is_translated(language):
    missing = [_ids(m)[0] for m in _catalog(language) if m.id and not all(_forms(m))]
    assert missing == [], f"{language}: {len(missing)} strings lack a translation, e.g. {missing[:5]}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_translation_is_a_guess(language):
    # `make messages` marks a new string "fuzzy" with the translation of a similar one; the build uses it.
    fuzzy = [_ids(m)[0] for m in _catalog(language) if m.id and m.fuzzy]
    assert fuzzy == [], f"{language}: {len(fuzzy)} translations are marked fuzzy, e.g. {fuzzy[:5]}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_the_placeholders(language):
    """A translation that drops %(limit)s loses a fact; one that renames it raises a KeyError."""
    wrong = []
    for message in _catalog(language):
        if not message.id:
            continue
        expected = set().union(*(_placeholders(text) for text in _ids(message)))
        # A plural form may say "one" or "two" instead of the number: %(num)d is optional there.
        needed = expected - {"num"} if message.pluralizable else expected
        for form in filter(None, _forms(message)):
            found = _placeholders(form)
            if found - expected or needed - found:
                wrong.append(f"{_ids(message)[0]!r} -> {form!r}")
    assert wrong == [], f"{language}: {len(wrong)} translations change the placeholders, e.g. {wrong[:3]}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_plurals_have_every_form_of_the_language(language):
    catalog = _catalog(language)
    expected = get_plural(Locale.parse(language)).num_plurals
    assert catalog.num_plurals == expected, f"{language}: Plural-Forms says {catalog.num_plurals}, CLDR {expected}"
    short = [_ids(m)[0] for m in catalog if m.pluralizable and len(_forms(m)) != expected]
    assert short == [], f"{language}: plural strings without their {expected} forms, e.g. {short[:3]}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_string_of_the_code_is_in_the_catalog(language):
    """A message added without `make messages` would show in English whatever the language."""
    mapping = [("webauth/**.py", "python"), ("templates/**.html", "jinja2")]
    keywords = {"_": None, "_l": None, "gettext": None, "lazy_gettext": None, "ngettext": (1, 2)}
    in_code = {message[2] if isinstance(message[2], str) else message[2][0]
               for message in extract_from_dir(ROOT, mapping, keywords=keywords)}
    in_catalog = {_ids(message)[0] for message in _catalog(language)}
    assert sorted(in_code - in_catalog) == []


def _compiled(language: str) -> Translations:
    buffer = io.BytesIO()
    write_mo(buffer, _catalog(language))
    buffer.seek(0)
    return Translations(buffer)


# Counts that fall in each of Arabic's six plural forms (zero, one, two, few, many, other), and
# in each of Russian's and Ukrainian's three (one, few, many).
@pytest.mark.parametrize(
    ("language", "counts"),
    [("ar", [0, 1, 2, 3, 11, 100]), ("ru", [1, 2, 5]), ("uk", [21, 22, 25])],
)
def test_plural_forms_are_chosen_by_the_count(app, language, counts):
    """Through the real catalog and Flask-Babel, each count gets its own form: the catalog's rule
    is CLDR's for the language, and the counts land on every form in turn."""
    catalog = _catalog(language)
    cldr = get_plural(Locale.parse(language)).plural_expr
    assert re.sub(r"\s", "", catalog.plural_expr) == re.sub(r"\s", "", cldr)
    message = catalog.get("%(num)d account")
    assert message is not None and message.pluralizable and all(_forms(message))
    rule = _compiled(language).plural
    assert [rule(count) for count in counts] == list(range(len(counts)))
    with app.test_request_context("/"), force_locale(language):
        shown = [ngettext("%(num)d account", "%(num)d accounts", count) for count in counts]
    assert shown == [_forms(message)[index] % {"num": count} for index, count in enumerate(counts)]
