"""Races and faults through the real stack: two clients at once through gunicorn (2 workers x 4
threads) on the test database (SQLite, or PostgreSQL in CI's second pass), two commands at once
in their own processes, and restarts with a file missing.

`race` (tests/support/server.py) starts its calls on threads held at a barrier, so both
requests reach the server within a millisecond or so; each test repeats its race and checks
every round, so that a window of a few milliseconds is hit in most rounds without the fix,
and the fix must hold in all of them.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.support.server import ROOT, start_server, stop_server


@pytest.fixture(scope="session")
def served(base_config, migrated_database, tmp_path_factory) -> Iterator[str]:
    """Base URL of a gunicorn serving the test database with the test keyring."""
    process, base_url = start_server(
        {
            "WEBAUTH_DATABASE_URL": migrated_database,
            "WEBAUTH_KEYS": base_config["WEBAUTH_KEYS"],
            "WEBAUTH_SECRET_KEY": base_config["SECRET_KEY"],
            "WEBAUTH_RATELIMIT_ENABLED": "0",
        },
        tmp_path_factory.mktemp("races-server"),
    )
    yield base_url
    stop_server(process)


@pytest.fixture
def fresh_database(migrated_database, tmp_path) -> Iterator[Callable[[], str]]:
    """Makes empty databases of the same kind as the test database: new SQLite files, or new
    PostgreSQL schemas (first in the search path), dropped afterwards."""
    engine = sa.create_engine(migrated_database)
    schemas: list[str] = []

    def make() -> str:
        name = f"fresh_{secrets.token_hex(4)}"
        if engine.dialect.name != "postgresql":
            return f"sqlite:///{tmp_path / name}.db"
        with engine.begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{name}"'))
        schemas.append(name)
        separator = "&" if "?" in migrated_database else "?"
        return f"{migrated_database}{separator}options=-csearch_path%3D{name}"

    yield make
    with engine.begin() as connection:
        for name in schemas:
            connection.execute(sa.text(f'DROP SCHEMA "{name}" CASCADE'))
    engine.dispose()


def flask_cli(*args: str, instance: Path, database_url: str) -> subprocess.Popen:
    """`flask --app wsgi ARGS` in its own process, as an operator runs it, with only these settings."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("WEBAUTH_")}
    env.update(WEBAUTH_INSTANCE_PATH=str(instance), WEBAUTH_DATABASE_URL=database_url)
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env, text=True,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def finished(process: subprocess.Popen) -> tuple[int, str, str]:
    """(exit status, standard output, standard error) once the process ends."""
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err
