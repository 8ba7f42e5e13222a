"""The web app manifest and the service worker, served from the site root for scope `/`."""

from __future__ import annotations

import hashlib
from functools import cache

from flask import Blueprint, Response, send_file

from webauth import ROOT

bp = Blueprint("pwa", __name__)

SHELL_FOLDERS = ("css", "js", "icons", "vendor")


@cache
def shell_version() -> str:
    """A digest of the app shell's files: any change makes browsers install the new worker."""
    digest = hashlib.sha256()
    static = ROOT / "static"
    for folder in SHELL_FOLDERS:
        for path in sorted((static / folder).rglob("*")):
            if path.is_file():
                digest.update(str(path.relative_to(static)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@bp.get("/manifest.json")
def manifest():
    response = send_file(ROOT / "manifest.json", mimetype="application/manifest+json", max_age=3600)
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@bp.get("/service-worker.js")
def service_worker():
    source = (ROOT / "service-worker.js").read_text()
    response = Response(source.replace("__SHELL_VERSION__", shell_version()), mimetype="text/javascript")
    response.headers["Service-Worker-Allowed"] = "/"
    response.headers["Cache-Control"] = "no-cache"
    return response
