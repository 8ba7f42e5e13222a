"""Build static/dist: every static file under a content-hashed name, with gzip and brotli beside it.

    .venv/bin/python -m scripts.build_static        # `make setup` runs it, after scripts/vendor.sh

Browsers may then keep each file for a year (webauth/assets.py serves them `immutable`), since a
new version of a file is a new name. For each file of static/ (not the brand icons of
static/vendor/simple-icons, which the app serves itself, nor dist/):

- ES modules first get their relative imports (`from "./codes.js"`, `import("./x.js")`) rewritten
  to the hashed names of what they import, so a module's name changes when anything it loads
  does; modules are processed after the modules they import (an import cycle is an error);
- the name gets 12 hex digits of the SHA-256 of the content: `js/app.3f9c2a1b7d4e.js`;
- text files (CSS, JavaScript, SVG, JSON) get `.gz` (gzip -9) and `.br` (brotli, quality 11)
  copies when those are smaller, which the app and nginx (`gzip_static`, `brotli_static`) send
  to browsers that accept them, with no compression work per request;
- dist/manifest.json maps each name to its hashed name.

The folder is built beside the old one and swapped in whole, so a running server never sees
half a build.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import shutil
import sys
from pathlib import Path

import brotli

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "static"
DIST = "dist"
MANIFEST = "manifest.json"
SKIPPED = ("dist", "vendor/simple-icons")
COMPRESSED = {".css", ".js", ".mjs", ".svg", ".json", ".txt", ".webmanifest", ".map"}
DIGEST_LENGTH = 12
# A relative module specifier in a static or dynamic import, or an export from.
IMPORT = re.compile(r"""(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])(\.{1,2}/[^'"\s]+?\.m?js)\2""")


class BuildError(Exception):
    """The static files cannot be built as they are (an import that names no file, a cycle)."""


def sources(static: Path) -> list[str]:
    """The files to build, as paths relative to `static`, in a stable order."""
    found = []
    for path in sorted(static.rglob("*")):
        name = path.relative_to(static).as_posix()
        if path.is_file() and not any(name == skip or name.startswith(f"{skip}/") for skip in SKIPPED):
            found.append(name)
    return found


def _imports(name: str, text: str) -> list[str]:
    """The files a module imports, as paths relative to static/."""
    base = Path(name).parent
    return [_normal(base / match.group(3)) for match in IMPORT.finditer(text)]


def _normal(path: Path) -> str:
    parts: list[str] = []
    for part in path.as_posix().split("/"):
        if part == "..":
            if not parts:
                raise BuildError(f"{path} leaves static/")
            parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return "/".join(parts)


def hashed_name(name: str, content: bytes) -> str:
    path = Path(name)
    digest = hashlib.sha256(content).hexdigest()[:DIGEST_LENGTH]
    return (path.parent / f"{path.stem}.{digest}{path.suffix}").as_posix()


def build(static: Path = STATIC) -> dict[str, str]:
    """Build `static`/dist from the files of `static`; returns the manifest."""
    names = sources(static)
    contents = {name: (static / name).read_bytes() for name in names}
    modules = {name for name in names if name.endswith((".js", ".mjs"))}
    manifest: dict[str, str] = {}
    built: dict[str, bytes] = {}

    def place(name: str, trail: tuple[str, ...] = ()) -> None:
        if name in manifest:
            return
        if name in trail:
            raise BuildError("import cycle: " + " -> ".join((*trail, name)))
        content = contents[name]
        if name in modules:
            text = content.decode()
            for imported in _imports(name, text):
                if imported not in contents:
                    raise BuildError(f"{name} imports {imported}, which is not in static/")
                place(imported, (*trail, name))

            def renamed(match: re.Match[str]) -> str:
                target = manifest[_normal(Path(name).parent / match.group(3))]
                relative = Path(target).name if Path(target).parent == Path(name).parent else "/static/dist/" + target
                prefix = "./" if not relative.startswith("/") else ""
                return f"{match.group(1)}{match.group(2)}{prefix}{relative}{match.group(2)}"

            content = IMPORT.sub(renamed, text).encode()
        manifest[name] = hashed_name(name, content)
        built[name] = content

    for name in names:
        place(name)

    staging = static / f".{DIST}.new"
    shutil.rmtree(staging, ignore_errors=True)
    for name, content in built.items():
        target = staging / manifest[name]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        if target.suffix in COMPRESSED:
            for suffix, squeezed in ((".gz", gzip.compress(content, 9, mtime=0)), (".br", brotli.compress(content))):
                if len(squeezed) < len(content):
                    target.with_name(target.name + suffix).write_bytes(squeezed)
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    old = static / f".{DIST}.old"
    shutil.rmtree(old, ignore_errors=True)
    if (static / DIST).exists():
        (static / DIST).rename(old)
    staging.rename(static / DIST)
    shutil.rmtree(old, ignore_errors=True)
    return manifest


def main() -> None:
    try:
        manifest = build()
    except BuildError as error:
        sys.exit(f"static files: {error}")
    print(f"static/dist: {len(manifest)} files under content-hashed names, with gzip and brotli copies")


if __name__ == "__main__":
    main()
