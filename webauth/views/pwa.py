"""The web app manifest and the service worker, served from the site root for scope `/`."""

from __future__ import annotations

import copy
import hashlib
import json
from functools import cache
from pathlib import Path

from flask import Blueprint, Response, current_app, request
from flask_babel import force_locale, get_locale, pgettext
from flask_babel import gettext as _

from webauth import languages
from webauth.assets import static_url
from webauth.config import ROOT

bp = Blueprint("pwa", __name__)

# Pages the worker keeps: the offline page only (it holds nothing of any user).
SHELL_PAGES = ("/offline",)
# Static files it keeps: every script (so that no page mixes cached and fresh modules), the
# styles, the app's icons, htmx, and the MD5 modules otp.js imports for mOTP codes. Not the QR
# decoder or the brand icons: the offline page needs neither, and they are large.
SHELL_STATIC = ("css/*.css", "js/*.js", "icons/*", "vendor/htmx.min.js", "vendor/noble-hashes/*.js")
# What else makes the offline page what it is: its templates and the translations.
SHELL_SOURCES = (
    "templates/offline.html",
    "templates/pwa/shell.html",
    "templates/pwa/update.html",
    "translations/*/LC_MESSAGES/*.mo",
)


def _static_files() -> list[Path]:
    static = ROOT / "static"
    return sorted(path for pattern in SHELL_STATIC for path in static.glob(pattern) if path.is_file())


@cache
def shell_urls() -> tuple[str, ...]:
    """The URLs the worker caches at install, nothing else ever entering its cache: the static
    files under the content-hashed names the pages use (assets.py)."""
    static = ROOT / "static"
    return (*SHELL_PAGES, *(static_url(path.relative_to(static).as_posix()) for path in _static_files()))


@cache
def shell_version() -> str:
    """A digest of the shell's files: any change makes browsers install the new worker."""
    digest = hashlib.sha256()
    sources = sorted(path for pattern in SHELL_SOURCES for path in ROOT.glob(pattern) if path.is_file())
    for path in [*_static_files(), *sources]:
        digest.update(path.relative_to(ROOT).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@cache
def _manifest_base() -> dict:
    return json.loads((ROOT / "manifest.json").read_text(encoding="utf-8"))


def _translated_manifest() -> dict:
    """manifest.json in the request's language: its names, description and screenshot labels
    translated, `lang` and `dir` set (an installed app keeps the language it was installed in).

    The short name is what a home screen writes under the icon, where about 12 characters fit;
    its context tells translators so (tests/functional/test_i18n.py holds them to it).
    """
    manifest = copy.deepcopy(_manifest_base())
    locale = get_locale()
    manifest["name"] = _("webauth authenticator")
    manifest["short_name"] = pgettext("the app's name under its icon, 12 characters at most", "webauth")
    manifest["description"] = _("Your two-factor codes, on every device.")
    manifest["lang"] = languages.html_lang(locale)
    manifest["dir"] = languages.direction(locale)
    labels = {
        "narrow": _("Your two-factor codes, with the time left for each"),
        "wide": _("The code list on a desktop"),
    }
    for shot in manifest.get("screenshots", []):
        shot["label"] = labels.get(shot.get("form_factor"), shot.get("label", ""))
    return manifest


@bp.get("/manifest.json")
def manifest():
    """The manifest in the language `?lang=` names (each page links the one of its language, so a
    shared cache keeps one copy per language), or without it in the request's own language."""
    chosen = request.args.get("lang", "").replace("-", "_")
    offered = current_app.config["WEBAUTH_LANGUAGES"]
    if chosen in offered:
        with force_locale(chosen):
            body = _translated_manifest()
        cache_control = "public, max-age=3600"
    else:
        body = _translated_manifest()
        cache_control = "no-cache"  # it follows the session's language and Accept-Language
    response = Response(json.dumps(body, ensure_ascii=False), mimetype="application/manifest+json")
    response.headers["Cache-Control"] = cache_control
    if cache_control == "no-cache":
        response.vary.add("Accept-Language")
    return response


@bp.get("/service-worker.js")
def service_worker():
    """The worker, with its version and shell list filled in (the list as a JS string of JSON)."""
    source = (ROOT / "service-worker.js").read_text()
    source = source.replace("__SHELL_VERSION__", shell_version())
    source = source.replace('"__SHELL_FILES__"', json.dumps(json.dumps(list(shell_urls()))))
    response = Response(source, mimetype="text/javascript")
    response.headers["Service-Worker-Allowed"] = "/"
    response.headers["Cache-Control"] = "no-cache"
    return response
