"""What templates call for every account of the list, made cheap: translated strings and URLs.

The code list is rendered again at each period boundary for every open page, and each account
in it asks for half a dozen translated strings and as many URLs. Through Flask-Babel and
Flask those cost about a hundred Python calls each, most of it finding again what the request
already found: the catalog for its locale, the URL rules for the same account. Profiling the
fragment of 50 accounts (bench/clock.py) showed them as most of its time. Python code
keeps calling Flask-Babel and `flask.url_for` as usual; only the template callables change.

- Strings: the request's catalog is looked up once and kept in the slot Flask-Babel itself
  empties when the locale changes (`refresh()`, `force_locale()`), so a change of language
  within a request is still honoured.
- URLs: a URL relative to the site depends on the endpoint, its arguments and the script root
  only, so it is built once per process and then reused (bounded, least recently used first
  out). External URLs (which depend on the Host header), blueprint-relative endpoints and
  anything unusual go to Flask as before. A static file's URL is its content-hashed name when
  the static files are built (assets.py).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from babel.support import NullTranslations
from flask import Flask, g, request
from flask_babel import get_translations
from jinja2 import pass_eval_context
from jinja2.nodes import EvalContext
from markupsafe import Markup, escape

from webauth import assets

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


def _escaped(variables: dict[str, Any]) -> dict[str, Any]:
    """Variables for a format string whose result is markup: numbers as they are, the rest escaped."""
    return {name: value if isinstance(value, int | float) else escape(value) for name, value in variables.items()}


def _formatted(eval_ctx: EvalContext, text: str, variables: dict[str, Any]) -> str:
    """What Jinja's newstyle gettext returns (the translation, always a format string, with its
    variables escaped when the template escapes), without the per-variable wrapper objects of
    `Markup.__mod__`: a row of the list formats several strings."""
    if eval_ctx.autoescape:
        return Markup(text % _escaped(variables))  # noqa: S704 - the catalog is trusted; every variable is escaped
    return text % variables


@pass_eval_context
def _gettext(eval_ctx: EvalContext, string: str, /, **variables: Any) -> str:
    return _formatted(eval_ctx, _translations().ugettext(string), variables)


@pass_eval_context
def _ngettext(eval_ctx: EvalContext, singular: str, plural: str, num: int, /, **variables: Any) -> str:
    variables.setdefault("num", num)
    return _formatted(eval_ctx, _translations().ungettext(singular, plural, num), variables)


@pass_eval_context
def _pgettext(eval_ctx: EvalContext, context: str, string: str, /, **variables: Any) -> str:
    return _formatted(eval_ctx, _translations().upgettext(context, string), variables)


@pass_eval_context
def _npgettext(eval_ctx: EvalContext, context: str, singular: str, plural: str, num: int, /, **variables: Any) -> str:
    variables.setdefault("num", num)
    return _formatted(eval_ctx, _translations().unpgettext(context, singular, plural, num), variables)


def _install_gettext(app: Flask) -> None:
    """Newstyle gettext, as `install_gettext_callables(newstyle=True)` sets up, in one call a
    string instead of three (`_` is gettext itself, not the i18n extension's alias to it)."""
    env = app.jinja_env
    env.newstyle_gettext = True  # type: ignore[attr-defined]
    env.globals.update(gettext=_gettext, _=_gettext, ngettext=_ngettext, pgettext=_pgettext, npgettext=_npgettext)


def _install_url_for(app: Flask) -> None:
    def build(endpoint: str, **values: Any) -> str:
        if endpoint == "static" and "filename" in values:  # the content-hashed name, when built (assets.py)
            values["filename"] = assets.built_name(values["filename"], app)
        return app.url_for(endpoint, **values)

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
