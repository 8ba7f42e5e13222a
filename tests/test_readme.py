"""README.md documents every setting the app reads from the environment."""

from __future__ import annotations

import re

from tests.conftest import ROOT


def test_every_environment_variable_is_documented():
    sources = "\n".join(path.read_text() for path in (ROOT / "webauth").rglob("*.py"))
    readers = r"(?:environ\.get|env\.get|_int|_bool|_networks|_names|getenv)"
    read = set(re.findall(readers + r'\(\s*"(WEBAUTH_[A-Z0-9_]+)"', sources))
    assert "WEBAUTH_DATABASE_URL" in read and "WEBAUTH_INSTANCE_PATH" in read
    readme = (ROOT / "README.md").read_text()
    missing = sorted(name for name in read if f"`{name}`" not in readme)
    assert missing == [], f"README.md does not document {missing}"


def test_the_two_commands_are_in_the_readme_and_ci_calls_the_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()
