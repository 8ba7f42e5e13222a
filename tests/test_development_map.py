"""docs/development.md's map matches the house: every module and folder named, nothing named that is gone.

What the map must name, under webauth/, tests/, bench/, scripts/, templates/ and static/:
every folder; every module of webauth/ (a subpackage's __init__.py is its folder's line); the
files at the top of tests/, bench/, scripts/, templates/ and static/; the helpers in
tests/support/; the browser modules in static/js/. The map may name more (docs/, wsgi.py...),
but only what exists, or what git ignores because `make` creates it (static/vendor/).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import PurePosixPath

from tests.conftest import ROOT

MAPPED_ROOTS = ("webauth", "tests", "bench", "scripts", "templates", "static")
# Folders whose every file is a module of its own line (elsewhere a folder's line covers its files).
FILES_NAMED_IN = {"webauth", "tests", "tests/support", "bench", "scripts", "templates", "static", "static/js"}


def the_map() -> dict[str, str]:
    """{path: description} from the code block under "## The map"; folders end with '/'."""
    text = (ROOT / "docs" / "development.md").read_text(encoding="utf-8")
    section = text.split("\n## The map\n", 1)[1]
    block = re.search(r"^```\n(.*?)^```", section, flags=re.MULTILINE | re.DOTALL).group(1)
    entries: dict[str, str] = {}
    stack: list[str] = []
    for line in block.splitlines():
        indent = len(line) - len(line.lstrip(" "))
        assert indent % 2 == 0, f"odd indentation: {line!r}"
        name, _, description = line.strip().partition(" ")
        depth = indent // 2
        assert depth <= len(stack), f"a line deeper than its folder: {line!r}"
        stack = stack[:depth]
        path = "/".join([*[folder.rstrip("/") for folder in stack], name])
        assert path not in entries, f"named twice: {path}"
        assert description.strip(), f"no description: {path}"
        entries[path] = description.strip()
        if name.endswith("/"):
            stack.append(name)
    return entries


def files_in_the_repository() -> list[PurePosixPath]:
    """Tracked files and new ones not ignored, as git sees the working tree (so without __pycache__)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "--", *MAPPED_ROOTS],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.splitlines()
    return [PurePosixPath(name) for name in listed if (ROOT / name).is_file()]


def must_be_named() -> set[str]:
    names: set[str] = set()
    for path in files_in_the_repository():
        folder = str(path.parent)
        for parent in list(path.parents)[:-1]:  # every folder above the file, up to its root
            names.add(f"{parent}/")
        if folder in FILES_NAMED_IN or folder.startswith("webauth/"):
            if path.name == "__init__.py" and folder.startswith("webauth/"):
                continue  # a subpackage's __init__ is described on its folder's line
            names.add(str(path))
    return names


def ignored_by_git(path: str) -> bool:
    return subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT).returncode == 0


def test_the_map_names_every_module_and_folder():
    named = set(the_map())
    missing = sorted(must_be_named() - named)
    assert missing == [], f"docs/development.md's map does not name {missing}"


def test_the_map_names_only_what_exists():
    gone = [
        path for path in the_map()
        if not (ROOT / path).exists() and not ignored_by_git(path)
    ]
    assert gone == [], f"docs/development.md's map names what does not exist: {gone}"


def test_folders_and_files_are_told_apart():
    for path in the_map():
        if (ROOT / path).exists():
            assert (ROOT / path).is_dir() == path.endswith("/"), f"{path}: a folder ends with '/', a file does not"


# A path of this repository named in prose: `webauth/vault.py`, docs/casdoor.md, static/js/otp.js...
NAMED_PATH = re.compile(
    r"(?<![\w/.\-])((?:webauth|tests|static|templates|scripts|bench|docs|deploy|migrations|translations)/[\w./\-]*[\w/])"
    r"(?![\w/\-<]|\.\w)"  # whole names (a full stop may follow); tests/test_<format>.py names no file
)


def test_docs_and_docstrings_name_only_paths_that_exist():
    """A module moved or renamed takes its mentions along: in the docs, docstrings, comments and scripts."""
    texts = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *(ROOT / "docs").glob("*.md")]
    for root, pattern in (("webauth", "*.py"), ("tests", "*.py"), ("bench", "*.py"), ("scripts", "*"),
                          ("static/js", "*.js"), ("templates", "*.html")):
        texts += [path for path in (ROOT / root).rglob(pattern) if path.is_file() and "__pycache__" not in path.parts]
    stale = sorted({
        f"{path.relative_to(ROOT)}: {match.group(1)}"
        for path in texts
        for match in NAMED_PATH.finditer(path.read_text(encoding="utf-8", errors="replace"))
        if not (ROOT / match.group(1)).exists() and not ignored_by_git(match.group(1))
    })
    assert stale == [], f"names of files that do not exist: {stale}"
