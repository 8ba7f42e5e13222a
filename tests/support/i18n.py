"""Running pure code (importers, the otpauth parser) in Chinese, without the whole app.

An importer's messages go through gettext; outside a request they are English. Tests that
must see every refusal translated wrap the call in `chinese()`: a message that is not in the
catalog (a new one nobody translated, or one a mutation test altered) then stays English,
and `is_translated` says so.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po
from flask import Flask
from flask_babel import Babel, force_locale

TRANSLATIONS = Path(__file__).resolve().parents[2] / "translations"
_HAN = re.compile(r"[\u4e00-\u9fff]")


@cache
def _app() -> Flask:
    app = Flask(__name__)
    Babel(app, default_translation_directories=str(TRANSLATIONS))
    return app


@contextmanager
def chinese() -> Iterator[None]:
    with _app().app_context(), force_locale("zh_Hans"):
        yield


def is_translated(message: str) -> bool:
    """Whether a message shown in Chinese is Chinese (field names and values in it stay as they are)."""
    return bool(_HAN.search(message))


@cache
def catalog_ids() -> frozenset[str]:
    """Every message id of the catalog (the template every language translates)."""
    with open(TRANSLATIONS / "messages.pot", "rb") as handle:
        return frozenset(message.id for message in read_po(handle) if isinstance(message.id, str) and message.id)


def checked_gettext(real: Callable[..., str]) -> Callable[..., str]:
    """`gettext` that fails on a message the catalog lacks, which no language could ever show translated."""

    def gettext(message: str, **variables: object) -> str:
        assert message in catalog_ids(), f"not in translations/messages.pot (run `make messages`): {message!r}"
        return real(message, **variables)

    return gettext
