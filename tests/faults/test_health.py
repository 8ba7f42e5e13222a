"""Issue 13.6: /healthz says 503, with the reason, when the database answers but cannot be written.

It used to run `SELECT 1` only: a read-only database file answered 200, then every sign-in
and change failed with a 500. Now it writes a heartbeat row; pages that fail on a database
that cannot be written answer 503 too.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from sqlalchemy import delete, select

from tests.conftest import post_form
from webauth import create_app
from webauth.extensions import db
from webauth.models import Heartbeat


def _read_only(database_url: str) -> str:
    """The same database, opened so that every write is refused."""
    if database_url.startswith("sqlite:///"):
        return f"sqlite:///file:{database_url.removeprefix('sqlite:///')}?mode=ro&uri=true"
    separator = "&" if "?" in database_url else "?"
    return f"{database_url}{separator}options={quote('-c default_transaction_read_only=on')}"


@pytest.fixture
def read_only_app(app, app_config, database_url, user):
    return create_app({**app_config, "SQLALCHEMY_DATABASE_URI": _read_only(database_url)})


def test_health_is_503_with_the_reason_when_the_database_cannot_be_written(app, read_only_app):
    assert app.test_client().get("/healthz").status_code == 200
    health = read_only_app.test_client().get("/healthz")
    assert health.status_code == 503
    assert health.get_json() == {
        "status": "unavailable",
        "problems": ["the database answers but cannot be written (read-only file, full disk or read-only server?)"],
    }


def test_a_sign_in_on_a_database_that_cannot_be_written_is_503_not_500(read_only_app):
    read_only_app.config["PROPAGATE_EXCEPTIONS"] = False
    client = read_only_app.test_client()
    answer = post_form(client, "/login", "/login", {"username": "alice", "password": "correct horse battery"})
    assert answer.status_code == 503
    assert "cannot store changes" in answer.get_data(as_text=True)


def test_health_writes_its_heartbeat_row_even_when_it_went_missing(app):
    with app.app_context():
        db.session.execute(delete(Heartbeat))
        db.session.commit()
    client = app.test_client()
    for _ in range(2):
        assert client.get("/healthz").status_code == 200
    with app.app_context():
        assert db.session.scalars(select(Heartbeat.id)).all() == [1]
        assert db.session.scalar(select(Heartbeat.beat_at)) is not None
