"""The README and the pages it links to: every setting documented, every link leading somewhere.

The full settings table lives in docs/configuration.md; the README keeps the two commands, the
five settings people change first and a link to each page of docs/.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

from tests.conftest import ROOT

CONFIGURATION = ROOT / "docs" / "configuration.md"
DOC_PAGES = sorted((ROOT / "docs").glob("*.md"))
LINKING_PAGES = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "deploy" / "README.md", *DOC_PAGES]


def settings_read_by_the_app() -> set[str]:
    sources = "\n".join(path.read_text() for path in (ROOT / "webauth").rglob("*.py"))
    readers = r"(?:environ\.get|env\.get|_int|_bool|_networks|_names|getenv)"
    return set(re.findall(readers + r'\(\s*"(WEBAUTH_[A-Z0-9_]+)"', sources))


def table_rows(markdown: str) -> set[str]:
    """The variables that begin a row of a table: | `NAME` | ..."""
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", markdown, flags=re.MULTILINE))


def test_every_environment_variable_is_in_the_settings_table():
    read = settings_read_by_the_app()
    assert "WEBAUTH_DATABASE_URL" in read and "WEBAUTH_INSTANCE_PATH" in read and len(read) > 20
    documented = table_rows(CONFIGURATION.read_text())
    missing = sorted(read - documented)
    assert missing == [], f"docs/configuration.md's table does not document {missing}"
    unknown = sorted(name for name in documented - read if name.startswith("WEBAUTH_"))
    assert unknown == [], f"docs/configuration.md documents settings the app does not read: {unknown}"


def test_the_readme_has_the_two_commands_and_the_five_settings():
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    first = table_rows(readme)
    assert len(first) == 5 and first <= settings_read_by_the_app()
    assert first <= table_rows(CONFIGURATION.read_text())


def test_the_readme_links_every_page_of_the_docs():
    readme = (ROOT / "README.md").read_text()
    linked = {Path(target).name for target in re.findall(r"\]\(docs/([^)#]+)\)", readme)}
    assert linked == {page.name for page in DOC_PAGES}


def anchor(heading: str) -> str:
    """GitHub's id for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    kept = "".join(char for char in text if char in " -" or unicodedata.category(char)[0] in "LN")
    return kept.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", path.read_text(), flags=re.MULTILINE | re.DOTALL)
    found: set[str] = set()
    for heading in re.findall(r"^#{1,6} (.+)$", text, flags=re.MULTILINE):
        name, number = anchor(heading), 1
        while name in found:
            name, number = f"{anchor(heading)}-{number}", number + 1
        found.add(name)
    return found


@pytest.mark.parametrize("page", LINKING_PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_leads_to_a_file_and_heading_that_exist(page: Path):
    text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.MULTILINE | re.DOTALL)
    links = re.findall(r"\]\(([^)\s]+)\)", text) + re.findall(r'src="([^"]+)"', text)
    broken = []
    for link in links:
        if re.match(r"[a-z]+:", link):
            continue  # http(s) and mailto links are outside the repository
        target, _, fragment = link.partition("#")
        path = (page.parent / target).resolve() if target else page
        missing_file = not path.exists() or not path.is_relative_to(ROOT)
        if missing_file or (fragment and path.suffix == ".md" and fragment not in anchors(path)):
            broken.append(link)
    assert broken == [], f"{page.name}: broken links {broken}"
