"""The installable app's server side: the manifest, the service worker and the shell it caches,
and the offline page, through the Flask test client. The browser's side is in tests/e2e/."""

from __future__ import annotations

import json
import posixpath
import re
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import csrf_from
from webauth.assets import static_url
from webauth.views import pwa

ROOT = Path(__file__).resolve().parents[2]
IMPORT = re.compile(r"""(?:\bfrom\s*|\bimport\s*\(\s*)['"]((?:\.\.?/|/static/)[\w./-]+\.js)['"]""")


def worker_source(client) -> str:
    response = client.get("/service-worker.js")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def shell_files(client) -> list[str]:
    """The list the served worker caches at install (a JS string literal of JSON)."""
    literal = re.search(r"const SHELL_FILES = JSON\.parse\((\"[^\n]*\")\);", worker_source(client)).group(1)
    return json.loads(json.loads(literal))


def test_the_manifest_has_what_install_dialogs_need(client):
    response = client.get("/manifest.json")
    assert response.status_code == 200 and response.mimetype == "application/manifest+json"
    manifest = response.get_json(force=True)
    for key in ("id", "name", "short_name", "description", "start_url", "scope", "theme_color", "background_color"):
        assert manifest[key], key
    assert manifest["display"] == "standalone" and manifest["scope"] == "/"
    icons = {(icon["sizes"], icon["purpose"]) for icon in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= icons
    assert {shot["form_factor"] for shot in manifest["screenshots"]} == {"narrow", "wide"}


@pytest.mark.parametrize("kind", ["icons", "screenshots"])
def test_every_manifest_image_exists_with_its_declared_size(client, kind):
    manifest = client.get("/manifest.json").get_json(force=True)
    for entry in manifest[kind]:
        path = ROOT / entry["src"].lstrip("/")
        with Image.open(path) as image:
            assert image.format == "PNG" and entry["type"] == "image/png"
            assert "x".join(map(str, image.size)) == entry["sizes"], entry["src"]
        if kind == "screenshots":
            width, height = image.size
            assert max(width, height) / min(width, height) <= 2.3  # Chrome ignores longer ones
            assert (width > height) == (entry["form_factor"] == "wide")
            assert path.stat().st_size < 200_000, "keep the screenshots small"


def test_the_worker_is_versioned_by_the_shell_and_allowed_the_whole_site(client):
    response = client.get("/service-worker.js")
    assert response.mimetype == "text/javascript"
    assert response.headers["Service-Worker-Allowed"] == "/"
    assert response.headers["Cache-Control"] == "no-cache"
    source = response.get_data(as_text=True)
    assert "__SHELL_VERSION__" not in source
    assert f'const SHELL_VERSION = "{pwa.shell_version()}";' in source


def test_the_shell_is_only_the_offline_page_and_static_files(app, client):
    files = shell_files(client)
    assert files[0] == "/offline" and len(files) == len(set(files))
    # The worker keeps the very URLs the pages use: the content-hashed names (webauth/assets.py).
    assert all(path.startswith("/static/dist/") for path in files[1:]), files
    with app.test_request_context():
        every_script = {static_url(f"js/{path.name}") for path in (ROOT / "static" / "js").glob("*.js")}
    assert every_script <= set(files), "a page would mix cached and fresh modules"
    assert not any("simple-icons" in path or "jsQR" in path for path in files)
    for path in files:
        response = client.get(path)
        assert response.status_code == 200, path
        response.close()


def test_the_version_follows_the_shell_and_nothing_else(app, tmp_path, monkeypatch):
    """A change to a cached file installs a new worker; a change elsewhere does not."""
    for name, text in {
        "static/js/app.js": "1",
        "static/css/app.css": "a{}",
        "static/vendor/htmx.min.js": "h",
        "static/vendor/simple-icons/icons/x.svg": "<svg/>",
        "templates/offline.html": "page",
        "templates/pwa/shell.html": "shell",
        "templates/codes/index.html": "list",
    }.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    monkeypatch.setattr(pwa, "ROOT", tmp_path)

    def version() -> str:
        pwa.shell_version.cache_clear()
        pwa.shell_urls.cache_clear()
        return pwa.shell_version()

    with app.test_request_context():
        first = version()
        assert pwa.shell_urls() == (
            "/offline",
            *(static_url(name) for name in ("css/app.css", "js/app.js", "vendor/htmx.min.js")),
        )
    for name in ("static/vendor/simple-icons/icons/x.svg", "templates/codes/index.html"):
        (tmp_path / name).write_text("changed")
        assert version() == first, name
    for name in ("static/js/app.js", "templates/offline.html", "templates/pwa/shell.html"):
        (tmp_path / name).write_text("changed")
        changed = version()
        assert changed != first, name
        first = changed
    pwa.shell_version.cache_clear()
    pwa.shell_urls.cache_clear()


def test_the_offline_page_works_from_the_shell_alone(client):
    """Every script the offline page loads, and every module they import, is in the shell."""
    files = set(shell_files(client))
    html = client.get("/offline").get_data(as_text=True)
    pending = re.findall(r'<script[^>]+src="(/static/dist/js/[^"]+)"', html)
    assert [re.sub(r"\.[0-9a-f]{12}\.", ".", path) for path in pending] == ["/static/dist/js/offline-page.js"]
    seen = set()
    while pending:  # the modules as built: their imports name the hashed modules they load
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        assert path in files, f"{path} is not cached, so the offline page breaks offline"
        source = client.get(path).get_data(as_text=True)
        folder = posixpath.dirname(path)
        pending += [posixpath.normpath(posixpath.join(folder, name)) for name in IMPORT.findall(source)]
    plain = {re.sub(r"\.[0-9a-f]{12}\.", ".", path) for path in seen}
    expected = {
        "/static/dist/js/otp.js",
        "/static/dist/js/offline-crypto.js",
        "/static/dist/vendor/noble-hashes/legacy.js",
    }
    assert expected <= plain
    for asset in re.findall(r'(?:href|src)="(/static/[^"]+)"', html):
        assert asset in files, asset


def test_the_offline_page_is_the_same_for_everyone_and_may_be_cached(client, signed_in):
    """No user, no session, no CSRF token: the worker keeps it and serves it to whoever is offline."""
    anonymous = client.application.test_client().get("/offline")
    assert "Set-Cookie" not in anonymous.headers  # it starts no session (a CSRF token would)
    for response in (anonymous, signed_in.get("/offline")):
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-cache"
        html = response.get_data(as_text=True)
        assert "csrf" not in html.lower() and "alice" not in html
        assert 'id="offline-locked"' in html and 'id="offline-account"' in html


def test_the_offline_page_needs_no_set_up(client):
    """Before the first user exists, every other page leads to /setup; the shell must not."""
    assert client.get("/").status_code == 302
    assert client.get("/offline").status_code == 200


def test_pages_with_codes_are_never_cacheable(app, signed_in):
    """The worker leaves them alone, and the server forbids every cache to keep them."""
    for path in ("/", "/offline/settings"):
        assert signed_in.get(path).headers["Cache-Control"] == "no-store", path
    assert signed_in.get("/", headers={"HX-Request": "true"}).headers["Cache-Control"] == "no-store"


def test_signed_in_pages_carry_the_offline_context_and_the_update_prompt(signed_in, user):
    html = signed_in.get("/").get_data(as_text=True)
    assert f'data-user="{user.id}"' in html and 'data-allowed="1"' in html
    assert 'data-api="/offline/devices"' in html and 'data-logout="/logout"' in html
    assert 'id="update-banner"' in html and 'id="signout-dialog"' in html
    assert csrf_from(html)  # the JSON calls take their CSRF token from the page
