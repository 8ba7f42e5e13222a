"""A clone is the whole project: tests, benchmarks, scripts, CI and the Makefile read nothing outside it.

`make test` runs on a fresh clone in an empty folder (`.ci/run` runs it so). This test catches a
path that reaches out of the repository before a newcomer's clone does.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import ROOT

CHECKED = ["tests", "bench", "scripts", ".ci", "Makefile", "pyproject.toml", "package.json", "babel.cfg"]
SUFFIXES = {"", ".py", ".mjs", ".js", ".sh", ".toml", ".json", ".cfg", ".ini", ".txt", ".md"}
# The sibling folder of shared documents beside the clone (by a relative path or from ROOT.parent), or an
# absolute path into the machine's work folder. Not the app's own route for shared accounts: the word
# counts only as a quoted path name.
OUTSIDE = re.compile(r"""\.\./shared\b|["']shared["'/]|/work/|\.parent\s*/\s*["']""")


def checked_files() -> list[Path]:
    files: list[Path] = []
    for name in CHECKED:
        path = ROOT / name
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            found = path.rglob("*")
            files += [p for p in found if p.is_file() and p.suffix in SUFFIXES and "__pycache__" not in p.parts]
    return [path for path in files if path != Path(__file__).resolve()]


def test_nothing_reads_outside_the_repository() -> None:
    files = checked_files()
    assert any(path.name == "run" for path in files) and len(files) > 50
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in files
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1)
        if OUTSIDE.search(line)
    ]
    assert offenders == []


def test_relative_imports_of_the_js_tests_stay_inside() -> None:
    """`new URL('../..', import.meta.url)` and `from '../..'` in tests/js resolve inside the repository."""
    for path in (ROOT / "tests" / "js").glob("*.mjs"):
        for target in re.findall(r"""['"](\.\.?/[^'"]+)['"]""", path.read_text(encoding="utf-8")):
            resolved = (path.parent / target).resolve()
            assert resolved.is_relative_to(ROOT), f"{path.name}: {target}"
