"""At most one import in progress per user, across processes, and a few per process.

Each import stays within its budget; these tests show that a user cannot multiply it with many
tabs or scripts, and that one process does not run more imports at once than it allows. The
clock the markers are judged by is frozen; the other process is a marker row in the database.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from tests.conftest import sign_in
from tests.support.transfer_flow import (
    EXPECTED,
    INTEROP,
    confirm,
    pending_count,
    picks,
    token_of,
    unlock,
    upload,
)
from webauth.extensions import db
from webauth.models import ImportInProgress, User
from webauth.transfer import guard, kdf, limits

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
PLAIN = (INTEROP / "plain.txt").read_bytes()
ENCRYPTED = (INTEROP / "aegis_encrypted.json").read_bytes()
ENCRYPTED_PASSWORD = EXPECTED["files"]["aegis_encrypted.json"]["password"]


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> datetime:
    monkeypatch.setattr(guard, "utcnow", lambda: NOW)
    return NOW


def user_id(app, username: str = "alice") -> int:
    with app.app_context():
        return db.session.scalar(select(User.id).where(User.username == username))


def mark(app, username: str, started_at: datetime) -> None:
    """The marker another process commits while it reads an import of `username`."""
    with app.app_context():
        db.session.add(ImportInProgress(user_id=user_id(app, username), token="other-process", started_at=started_at))
        db.session.commit()


def markers(app) -> list[tuple[int, str]]:
    with app.app_context():
        return [tuple(row) for row in db.session.execute(select(ImportInProgress.user_id, ImportInProgress.token))]


def assert_busy_for_the_user(response) -> None:
    html = response.get_data(as_text=True)
    assert response.status_code == 409, html[:2000]
    assert "Another import of yours is in progress" in html


def test_two_imports_of_one_user_at_once_the_second_is_refused(app, client, user, monkeypatch):
    """Two browsers of the same user: while the first import derives its key, the second waits."""
    started, release = threading.Event(), threading.Event()
    derive = kdf._derive

    def slow_derive(params, password, salt):
        started.set()
        assert release.wait(30), "the test never released the first import"
        return derive(params, password, salt)

    monkeypatch.setattr(kdf, "_derive", slow_derive)
    first, second = client, app.test_client()
    sign_in(first)
    sign_in(second)
    results = {}

    def first_import():
        results["first"] = upload(first, data=ENCRYPTED, filename="aegis.json", password=ENCRYPTED_PASSWORD)

    thread = threading.Thread(target=first_import)
    thread.start()
    try:
        assert started.wait(30)
        assert_busy_for_the_user(upload(second, data=PLAIN, filename="plain.txt"))
        assert pending_count(app) == 0
    finally:
        release.set()
        thread.join(60)
    token_of(results["first"])
    assert markers(app) == []
    # Once the first is read, the second browser imports like any other.
    assert upload(second, data=PLAIN, filename="plain.txt").status_code == 303
    assert pending_count(app) == 2


def test_an_import_running_in_another_process_makes_every_step_wait(app, signed_in, frozen_clock):
    waiting = token_of(upload(signed_in, data=ENCRYPTED, filename="aegis.json"))
    previewed = token_of(upload(signed_in, data=PLAIN, filename="plain.txt"))
    mark(app, "alice", frozen_clock - timedelta(seconds=5))
    assert_busy_for_the_user(upload(signed_in, data=PLAIN, filename="plain.txt"))
    assert_busy_for_the_user(unlock(signed_in, waiting, ENCRYPTED_PASSWORD))
    page = signed_in.get(f"/transfer/import/{previewed}").get_data(as_text=True)
    assert_busy_for_the_user(confirm(signed_in, previewed, picks(page)))
    # Nothing was added or consumed, and the other process's marker is left to it.
    assert pending_count(app) == 2
    assert markers(app) == [(user_id(app), "other-process")]


def test_a_marker_left_by_a_dead_process_is_taken_over(app, signed_in, frozen_clock):
    mark(app, "alice", frozen_clock - limits.IMPORT_MARKER_LIFETIME + timedelta(seconds=1))
    assert_busy_for_the_user(upload(signed_in, data=PLAIN, filename="plain.txt"))
    stale = frozen_clock - limits.IMPORT_MARKER_LIFETIME - timedelta(seconds=1)
    with app.app_context():
        db.session.execute(update(ImportInProgress).values(started_at=stale))
        db.session.commit()
    assert upload(signed_in, data=PLAIN, filename="plain.txt").status_code == 303
    assert markers(app) == []


def test_other_users_import_while_one_does(app, signed_in, make_user, frozen_clock):
    make_user("bob")
    mark(app, "bob", frozen_clock)
    assert upload(signed_in, data=PLAIN, filename="plain.txt").status_code == 303
    assert markers(app) == [(user_id(app, "bob"), "other-process")]


def test_a_process_runs_only_a_few_imports_at_once(app, signed_in):
    # In a thread: an import that queued for a slot instead of answering would hang the test.
    answered: list = []
    asking = threading.Thread(target=lambda: answered.append(upload(signed_in, data=PLAIN, filename="plain.txt")))
    taken = 0
    try:
        while guard._process_slots.acquire(blocking=False):
            taken += 1
        assert taken == limits.MAX_IMPORTS_PER_PROCESS
        asking.start()
        asking.join(30)
        assert answered, "the import waited for a free slot instead of answering"
    finally:
        for _ in range(taken):
            guard._process_slots.release()
        if asking.is_alive():
            asking.join(30)
    [response] = answered
    html = response.get_data(as_text=True)
    assert response.status_code == 429, html[:2000]
    assert "busy with other imports" in html and response.headers["Retry-After"] == "5"
    assert pending_count(app) == 0 and markers(app) == []
    assert upload(signed_in, data=PLAIN, filename="plain.txt").status_code == 303


def test_an_import_that_fails_unexpectedly_releases_its_marker(app, signed_in, monkeypatch):
    from webauth.views import transfer as transfer_views

    def broken(*args, **kwargs):
        raise RuntimeError("a bug in an importer")

    monkeypatch.setattr(transfer_views, "read_import", broken)
    with pytest.raises(RuntimeError):
        upload(signed_in, data=PLAIN, filename="plain.txt")
    assert markers(app) == [] and pending_count(app) == 0


def test_the_cli_waits_for_the_users_import_too(app, user, frozen_clock):
    mark(app, "alice", frozen_clock)
    result = app.test_cli_runner().invoke(args=["accounts", "import", "--user", "alice", str(INTEROP / "plain.txt")])
    assert result.exit_code != 0
    assert "another import for alice is in progress" in result.output
    assert markers(app) == [(user_id(app), "other-process")]
