"""What templates call for every account of the list, made cheap: translated strings and URLs.

The code list is rendered again at each period boundary for every open page, and each account
in it asks for half a dozen translated strings and as many URLs. Through Flask-Babel and
Flask those cost about a hundred Python calls each, most of it finding again what the request
already found: the catalog for its locale, the URL rules for the same account. Profiling the
fragment of 50 accounts (bench/codes_fragment.py) showed them as most of its time. Python code
keeps calling Flask-Babel and `flask.url_for` as usual; only the template callables change.

- Strings: the request's catalog is looked up once and kept in the slot Flask-Babel itself
  empties when the locale changes (`refresh()`, `force_locale()`), so a change of language
  within a request is still honoured.
- URLs: a URL relative to the site depends on the endpoint, its arguments and the script root
  only, so it is built once per process and then reused (bounded, least recently used first
  out). External URLs (which depend on the Host header), blueprint-relative endpoints and
  anything unusual go to Flask as before.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from babel.support import NullTranslations
from flask import Flask, g, request
from flask_babel import get_translations

# Enough for every URL of a few thousand accounts' rows; a URL is about 100 bytes.
URL_CACHE_SIZE = 32_768


def _translations() -> NullTranslations:
    try:
        app_g = g._get_current_object()  # once: every proxy access costs a context lookup
    except RuntimeError:  # no app context
        return get_translations()
    state = app_g.get("_flask_babel")
    cached = getattr(state, "babel_translations", None)
    if cached is None:
        cached = get_translations()
        state = app_g.get("_flask_babel")
        if state is not None:
            state.babel_translations = cached
    return cached


def _install_gettext(app: Flask) -> None:
    app.jinja_env.install_gettext_callables(
        gettext=lambda string: _translations().ugettext(string),
        ngettext=lambda singular, plural, n: _translations().ungettext(singular, plural, n),
        pgettext=lambda context, string: _translations().upgettext(context, string),
        npgettext=lambda context, singular, plural, n: _translations().unpgettext(context, singular, plural, n),
        newstyle=True,
    )


def _install_url_for(app: Flask) -> None:
    build = app.url_for

    @lru_cache(maxsize=URL_CACHE_SIZE)
    def cached(endpoint: str, script_root: str, values: tuple[tuple[str, Any], ...]) -> str:
        return build(endpoint, **dict(values))

    def url_for(endpoint: str, **values: Any) -> str:
        if endpoint.startswith(".") or app.url_default_functions or any(name[:1] == "_" for name in values):
            return build(endpoint, **values)
        try:
            key = (endpoint, request.script_root, tuple(values.items()))
            hash(key)
        except (RuntimeError, TypeError):  # no request, or an argument such as a list: as Flask does
            return build(endpoint, **values)
        return cached(*key)

    url_for.cache_info = cached.cache_info  # type: ignore[attr-defined]
    app.jinja_env.globals["url_for"] = url_for


def init_app(app: Flask) -> None:
    """Replace the template callables Flask and Flask-Babel installed (call after `babel.init_app`)."""
    _install_gettext(app)
    _install_url_for(app)
