"""Two clients at once through the real HTTP stack: gunicorn (2 workers x 4 threads) on the test
database (SQLite, or PostgreSQL in CI's second pass), and requests released together.

`race` (tests/support/server.py) starts its calls on threads held at a barrier, so both requests reach the server within
a millisecond or so; each test repeats its race, and checks every round, so that a window of a
few milliseconds without the fix is hit in most rounds, and the fix must hold in all of them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.server import start_server, stop_server


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
