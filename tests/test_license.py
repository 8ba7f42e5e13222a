"""One license, said the same way everywhere: LICENSE, package.json and pyproject.toml."""

from __future__ import annotations

import json
import tomllib

from tests.conftest import ROOT


def test_the_project_is_mit_licensed_everywhere_it_says_so():
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n\nCopyright (c) 2026 the webauth authors\n")
    assert "THE SOFTWARE IS PROVIDED \"AS IS\"" in text
    assert json.loads((ROOT / "package.json").read_text(encoding="utf-8"))["license"] == "MIT"
    assert tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["license"] == "MIT"
    assert "[MIT license](LICENSE)" in (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
