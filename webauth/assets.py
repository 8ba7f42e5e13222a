"""The app's static files: under content-hashed names, compressed ahead of time, kept a year.

`make` builds static/dist (scripts/build_static.py): every static file under a name that carries
a digest of its content, its .gz and .br copies, and dist/manifest.json from names to hashed
names. Here:

- `static_url` gives a file's URL: its hashed name when the build has it. Templates keep writing
  `url_for('static', filename=...)`, which gives the same (templating.py), and the service worker
  precaches the same URLs (views/pwa.py);
- `serve` replaces Flask's static view: a hashed file goes out as the brotli or gzip copy the
  browser accepts (`Content-Encoding`, `Vary: Accept-Encoding`), cached for a year
  (`immutable`: a new version is a new name); any other file of static/ by its plain name,
  revalidated at each use (`no-cache`, answered 304 by ETag when unchanged).

Only static files are compressed: pages and fragments hold codes and CSRF tokens beside text a
visitor can make the page reflect (a search), which is what BREACH needs, so they never are.
Without a build (a checkout run by hand) every file is served by its plain name.
"""

from __future__ import annotations

import json
import mimetypes
from pathlib import Path

from flask import Flask, Response, current_app, request, send_from_directory, url_for

DIST = "dist"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
# Encodings the build writes, best first, with the suffix of their files.
ENCODINGS = (("br", ".br"), ("gzip", ".gz"))


def init_app(app: Flask) -> None:
    manifest = load_manifest(Path(app.static_folder or ""))
    app.extensions["webauth.assets"] = manifest
    app.extensions["webauth.assets.hashed"] = set(manifest.values())
    app.view_functions["static"] = serve


def load_manifest(static: Path) -> dict[str, str]:
    """The build's names to hashed names; empty without a build."""
    try:
        manifest = json.loads((static / DIST / "manifest.json").read_text())
    except (OSError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def built_name(filename: str, app: Flask | None = None) -> str:
    """The name under static/ to serve a file by: its content-hashed name when built, else its own."""
    hashed = (app or current_app).extensions["webauth.assets"].get(filename)
    return f"{DIST}/{hashed}" if hashed else filename


def static_url(filename: str) -> str:
    """The URL of a static file (`url_for('static', filename=...)` in templates gives the same)."""
    return url_for("static", filename=built_name(filename))


def serve(filename: str) -> Response:
    static = Path(current_app.static_folder or "")
    built = filename.removeprefix(f"{DIST}/")
    if filename.startswith(f"{DIST}/") and built in current_app.extensions["webauth.assets.hashed"]:
        return _serve_built(static / DIST, built)
    response = send_from_directory(static, filename, max_age=0)
    response.headers["Cache-Control"] = REVALIDATE
    return response


def _serve_built(folder: Path, name: str) -> Response:
    mimetype = mimetypes.guess_type(name)[0] or "application/octet-stream"
    chosen, encoding = name, None
    for candidate, suffix in ENCODINGS:
        if request.accept_encodings[candidate] and (folder / (name + suffix)).is_file():
            chosen, encoding = name + suffix, candidate
            break
    response = send_from_directory(folder, chosen, mimetype=mimetype, max_age=0, etag=True)
    if encoding:
        response.headers["Content-Encoding"] = encoding
    if any((folder / (name + suffix)).is_file() for _, suffix in ENCODINGS):
        response.vary.add("Accept-Encoding")
    response.headers["Cache-Control"] = IMMUTABLE
    return response
