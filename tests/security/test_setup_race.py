"""The first-run set-up makes exactly one administrator, however many posts race (issue 12, item 6).

Two set-up forms posted at the same moment both found no user and both created an
administrator. Here two real requests run in two threads, each with its own test client
(its own app context, database session and connection), and are held at a barrier right
after the set-up page checked that no user exists, so both are inside the window every time.
Exactly one administrator may come out, on SQLite and on PostgreSQL (CI's second pass); the
other request creates nobody, signs nobody in and says why.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from tests.conftest import TEST_PASSWORD, csrf_from
from webauth import users
from webauth.extensions import db
from webauth.models import AuditEvent, InstanceSetup, User

BARRIER_SECONDS = 20


@pytest.fixture
def racing_check(monkeypatch):
    """`has_users` answers as usual, then, in the racing threads only, waits for the other one."""
    barrier = threading.Barrier(2, timeout=BARRIER_SECONDS)
    racing: set[int] = set()
    checked: set[int] = set()
    original = users.has_users

    def has_users() -> bool:
        answer = original()
        me = threading.get_ident()
        if me in racing and me not in checked:
            checked.add(me)
            barrier.wait()
        return answer

    monkeypatch.setattr(users, "has_users", has_users)
    return racing


def _post_setup(app, racing: set[int], username: str):
    client = app.test_client()
    token = csrf_from(client.get("/setup").get_data(as_text=True))
    racing.add(threading.get_ident())
    answer = client.post(
        "/setup", data={"csrf_token": token, "username": username, "password": TEST_PASSWORD, "confirm": TEST_PASSWORD}
    )
    return answer, client


def test_two_set_up_posts_at_once_make_one_administrator(app, racing_check) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(_post_setup, app, racing_check, name) for name in ("root", "mallory")]
        results = [future.result(timeout=60) for future in futures]

    with app.app_context():
        admins = list(db.session.scalars(db.select(User).where(User.is_admin.is_(True))))
        assert len(admins) == 1, f"{len(admins)} administrators: {[a.username for a in admins]}"
        assert db.session.scalar(db.select(db.func.count(User.id))) == 1
        marker = db.session.get(InstanceSetup, 1)
        assert marker is not None and marker.admin_id == admins[0].id
        assert db.session.scalar(db.select(db.func.count(AuditEvent.id)).where(AuditEvent.event == "setup.done")) == 1
        winner = admins[0].username
    statuses = sorted(answer.headers["Location"] for answer, _client in results)
    assert statuses == ["/accounts/new", "/login"]
    for answer, client in results:
        signed_in = client.get("/", follow_redirects=False).status_code == 200
        assert signed_in == (answer.headers["Location"] == "/accounts/new")
    loser = next(client for answer, client in results if answer.headers["Location"] == "/login")
    assert "The administrator was created a moment ago" in loser.get("/login").get_data(as_text=True)
    assert winner in ("root", "mallory")


def test_the_set_up_page_is_gone_once_done(app, client) -> None:
    page = client.get("/setup")
    token = csrf_from(page.get_data(as_text=True))
    form = {"csrf_token": token, "username": "root", "password": TEST_PASSWORD, "confirm": TEST_PASSWORD}
    assert client.post("/setup", data=form).status_code == 302
    other = app.test_client()
    assert other.get("/setup").status_code == 404


def test_an_instance_set_up_before_the_marker_stays_set_up(base_config, tmp_path) -> None:
    """The migration marks an instance that has users as set up, so its set-up cannot run again."""
    from flask_migrate import upgrade

    from webauth import create_app
    from webauth.keys import keyring

    app = create_app({**base_config, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'old.db'}"})
    with app.app_context():
        upgrade(revision="0006")
        db.session.execute(
            sa.text(
                "INSERT INTO users (username, display_name, is_admin, disabled, kek_id, wrapped_dek, created_at) "
                "VALUES ('root', 'root', 1, 0, 'k1', x'00', CURRENT_TIMESTAMP)"
            )
        )
        db.session.commit()
        upgrade(revision="heads")
        assert db.session.get(InstanceSetup, 1) is not None
        db.session.execute(sa.delete(User))
        db.session.commit()
        with pytest.raises(users.SetupAlreadyDone):
            users.create_first_admin("mallory", TEST_PASSWORD, keyring())
        assert db.session.scalar(db.select(db.func.count(User.id))) == 0
        db.engine.dispose()
