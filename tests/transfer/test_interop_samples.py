"""The interop samples are what tests/support/interop_samples.py writes, and SOURCES.md accounts for each."""

from __future__ import annotations

import io
import re
import sqlite3
from pathlib import Path

import pytest
from interop_fixtures import expected
from PIL import Image

from tests.conftest import INTEROP
from tests.support import interop_samples

SOURCES = (INTEROP / "SOURCES.md").read_text(encoding="utf-8")


def database_rows(data: bytes, folder: Path) -> list[str]:
    """A database's schema and rows: the file's bytes also hold the SQLite version that wrote it."""
    path = folder / "copy.sqlite"
    path.write_bytes(data)
    connection = sqlite3.connect(path)
    try:
        return list(connection.iterdump())
    finally:
        connection.close()


def pixels(data: bytes) -> tuple[tuple[int, int], bytes]:
    """An image's size and pixels: PNG compression may differ between zlib builds."""
    with Image.open(io.BytesIO(data)) as image:
        return image.size, image.convert("RGB").tobytes()


@pytest.mark.parametrize("name", list(interop_samples.SAMPLES))
def test_the_script_writes_the_committed_sample(name: str, tmp_path: Path) -> None:
    written = interop_samples.SAMPLES[name]()
    committed = (INTEROP / name).read_bytes()
    if name.endswith(".sqlite"):
        assert database_rows(written, tmp_path) == database_rows(committed, tmp_path)
    elif name.endswith(".png"):
        assert pixels(written) == pixels(committed)
    else:
        assert written == committed, f"run `make interop-samples` and commit {name}"


def test_sources_names_every_file_and_only_files_that_exist() -> None:
    on_disk = {path.name for path in INTEROP.iterdir()}
    in_table = set(re.findall(r"^\| `([^`]+)` \|", SOURCES, flags=re.MULTILINE))
    assert in_table == on_disk


def test_every_sample_is_generated_and_expected() -> None:
    """The only files not written by the script are the project's own expectations and this list."""
    on_disk = {path.name for path in INTEROP.iterdir()}
    assert on_disk - set(interop_samples.SAMPLES) == {"expected.json", "SOURCES.md"}
    described = set(expected()["files"]) | {"google_migration_example.expected.json"}
    assert described == set(interop_samples.SAMPLES)


def test_the_encrypted_samples_need_the_password_expected_json_gives() -> None:
    assert interop_samples.PASSWORD == "test"
    passwords = {name: info["password"] for name, info in expected()["files"].items() if "password" in info}
    assert passwords == {"aegis_encrypted.json": "test", "2fas_authenticator_encrypted_v4.2fas": "test"}
