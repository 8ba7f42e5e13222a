"""The Casdoor fixtures live in tests/support/fixtures.py (tests/conftest.py imports them for
every folder); the names stay importable from here for the tests of this folder."""

from __future__ import annotations

from tests.support.fixtures import GITHUB, REDIRECT_URI

__all__ = ["GITHUB", "REDIRECT_URI"]
