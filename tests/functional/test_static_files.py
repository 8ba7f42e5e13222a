"""Static files: content-hashed names built at set-up, served compressed and kept for a year;
pages never compressed (scripts/build_static.py, webauth/assets.py)."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import brotli
import pytest

from scripts.build_static import BuildError, build
from webauth.assets import IMMUTABLE

ROOT = Path(__file__).resolve().parents[2]
HASHED = re.compile(r"/static/dist/[\w/.-]+\.[0-9a-f]{12}\.\w+")


def test_pages_name_their_static_files_by_content_and_browsers_keep_them_a_year(client, signed_in):
    page = signed_in.get("/").get_data(as_text=True)
    assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', page)
    assert {"css", "js", "htmx"} <= {kind for kind in ("css", "js", "htmx") if any(kind in a for a in assets)}
    assert assets and all(HASHED.fullmatch(asset) for asset in assets), assets
    for asset in assets:
        built = (ROOT / asset.lstrip("/")).read_bytes()
        for accepted, encoding, decode in (
            ("gzip, deflate, br", "br", brotli.decompress),
            ("gzip", "gzip", gzip.decompress),
            ("identity", None, bytes),
        ):
            response = client.get(asset, headers={"Accept-Encoding": accepted})
            assert response.status_code == 200, asset
            assert response.headers["Cache-Control"] == IMMUTABLE
            if asset.endswith(".png"):
                assert "Content-Encoding" not in response.headers  # no gain on an image: never built
                continue
            assert response.headers.get("Content-Encoding") == encoding, (asset, accepted)
            assert "Accept-Encoding" in response.headers["Vary"]
            assert decode(response.data) == built
            response.close()


def test_a_static_file_by_its_plain_name_is_revalidated(client):
    response = client.get("/static/css/app.css")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-cache"
    assert "Content-Encoding" not in response.headers
    again = client.get("/static/css/app.css", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304
    assert client.get("/static/dist/css/app.000000000000.css").status_code == 404
    assert client.get("/static/dist/manifest.json").headers["Cache-Control"] == "no-cache"


def test_pages_with_codes_are_never_compressed(signed_in):
    """A page holds codes and a CSRF token beside text a visitor can make it reflect (a search):
    compressed, it would leak them by its length (BREACH)."""
    for path, headers in (("/?q=git", {}), ("/?q=git", {"HX-Request": "true"})):
        response = signed_in.get(path, headers={"Accept-Encoding": "gzip, br", **headers})
        assert response.status_code == 200 and "Content-Encoding" not in response.headers


def write(static: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (static / name).parent.mkdir(parents=True, exist_ok=True)
        (static / name).write_text(text)


def test_the_build_names_a_module_by_its_content_and_the_content_of_what_it_imports(tmp_path):
    static = tmp_path / "static"
    write(static, {
        "js/app.js": 'import { a } from "./a.js";\nconst later = () => import(\'./b.js\');\n',
        "js/a.js": "import './b.js';\nexport const a = 1;\n" + "// padding\n" * 50,
        "js/b.js": "export const b = 2;\n",
        "css/app.css": "body { color: red; }\n" * 20,
        "vendor/simple-icons/icons/x.svg": "<svg/>",
    })
    manifest = build(static)
    assert set(manifest) == {"js/app.js", "js/a.js", "js/b.js", "css/app.css"}  # brand icons are served by the app
    dist = static / "dist"
    assert json.loads((dist / "manifest.json").read_text()) == manifest
    app = (dist / manifest["js/app.js"]).read_text()
    a, b = (Path(manifest[name]).name for name in ("js/a.js", "js/b.js"))
    assert f'from "./{a}"' in app and f"import('./{b}')" in app

    def built(name: str, suffix: str = "") -> bytes:
        return (dist / (manifest[name] + suffix)).read_bytes()

    assert gzip.decompress(built("css/app.css", ".gz")) == (static / "css/app.css").read_bytes()
    assert brotli.decompress(built("js/a.js", ".br")) == built("js/a.js")
    assert not (dist / (manifest["js/b.js"] + ".br")).exists()  # too small to gain anything

    # A change deep down renames every module that leads to it, and nothing else.
    write(static, {"js/b.js": "export const b = 3;\n"})
    again = build(static)
    assert {name for name in manifest if again[name] != manifest[name]} == {"js/app.js", "js/a.js", "js/b.js"}
    assert not (dist / manifest["js/b.js"]).exists()  # the old build is gone


@pytest.mark.parametrize(("files", "message"), [
    ({"js/a.js": "import './b.js';", "js/b.js": "import './a.js';"}, "import cycle"),
    ({"js/a.js": "import './missing.js';"}, "not in static/"),
])
def test_a_build_that_cannot_be_right_stops_and_says_why(tmp_path, files, message):
    write(tmp_path, files)
    with pytest.raises(BuildError, match=message):
        build(tmp_path)
    assert not (tmp_path / "dist").exists()
