"""A deleted user's backups go with them: their folder on the server at once, their folder on the
instance-wide WebDAV target (a real WsgiDAV server) at the next run, owed durably so the deletion
never waits on WebDAV and a server that is down loses nothing; audited; their own WebDAV folder is
theirs and stays."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading

from sqlalchemy import select

from tests.backups.helpers import fill, folder_of, run, set_password
from tests.backups.test_concurrency import JOIN_SECONDS, MEETING_SECONDS, _in_thread
from tests.backups.test_webdav import point_at
from tests.conftest import post_form
from webauth import admin
from webauth.backups import removal
from webauth.backups import run as backup_run
from webauth.cli import backups as cli_backups
from webauth.extensions import db
from webauth.models import AuditEvent, User


def backed_up(app, make_user, username: str) -> None:
    make_user(username)
    fill(app, username)
    set_password(app, username)


def removals(app) -> list[dict]:
    with app.app_context():
        return [e.details for e in db.session.scalars(select(AuditEvent).where(AuditEvent.event == "backup.remove"))]


def delete_on_the_page(client, user_id: int, username: str):
    page = f"/admin/users/{user_id}/delete"
    return post_form(client, page, page, {"confirmation": username})


def user_id(app, username: str) -> int:
    with app.app_context():
        return db.session.scalar(select(User.id).where(User.username == username))


def owed(app) -> list[tuple[str, str, int, str | None]]:
    with app.app_context():
        return [(row.folder, row.target, row.attempts, row.last_error) for row in removal.pending()]


def run_all(app):
    return app.test_cli_runner().invoke(args=["backups", "run", "--all"])


def test_deleting_a_user_removes_their_folder_at_once_and_their_shared_webdav_copies_at_the_next_run(
    app, signed_in, make_user, backup_dir, webdav, shared, caplog
):
    caplog.set_level(logging.DEBUG)
    backed_up(app, make_user, "bob")
    backed_up(app, make_user, "carol")
    own = webdav.root / "bobs-own"
    own.mkdir()
    point_at(app, f"{webdav.url}bobs-own/", webdav.user, webdav.password, user="bob")
    assert run(app, "bob").targets == ["folder", "instance-webdav", "webdav"]
    assert run(app, "carol").targets == ["folder", "instance-webdav"]
    bob_folder, carol_folder = folder_of(app, backup_dir, "bob"), folder_of(app, backup_dir, "carol")
    assert sorted(os.listdir(shared)) == sorted([bob_folder.name, carol_folder.name])
    bob = user_id(app, "bob")
    done = delete_on_the_page(signed_in, bob, "bob")
    assert done.status_code == 302
    assert "Their remaining backups are removed at the next backup run." in signed_in.get("/admin/users").get_data(
        as_text=True
    )
    # The server's folder went at once; the shared WebDAV copy waits for the runner, owed durably.
    assert not bob_folder.exists()
    assert sorted(os.listdir(shared)) == sorted([bob_folder.name, carol_folder.name])
    assert owed(app) == [(bob_folder.name, "instance-webdav", 0, None)]
    result = run_all(app)
    assert result.exit_code == 0, result.output
    assert "removed bob's backups from instance-webdav (1 files)" in result.output
    assert os.listdir(shared) == [carol_folder.name] and owed(app) == []
    # Carol's stay; bob's own WebDAV folder is his, and keeps what the server put there.
    assert len(os.listdir(carol_folder)) == 1 and len(os.listdir(shared / carol_folder.name)) == 1
    assert len(os.listdir(own)) == 1
    assert removals(app) == [
        {"user_id": bob, "folder": bob_folder.name, "target": "folder", "files": 1, "all": True},
        {"user_id": bob, "folder": bob_folder.name, "target": "instance-webdav", "files": 1, "all": True},
    ]
    assert webdav.password not in caplog.text


def test_a_shared_webdav_that_refuses_keeps_the_removal_owed_until_it_accepts(
    app, signed_in, make_user, backup_dir, webdav, shared, caplog
):
    caplog.set_level(logging.DEBUG)
    backed_up(app, make_user, "bob")
    run(app, "bob")
    folder = folder_of(app, backup_dir, "bob")
    app.config["WEBAUTH_BACKUP_WEBDAV_PASSWORD"] = "no-longer-the-password"
    bob = user_id(app, "bob")
    done = delete_on_the_page(signed_in, bob, "bob")
    assert done.status_code == 302
    assert "Deleted bob and 4 accounts." in signed_in.get("/admin/users").get_data(as_text=True)
    with app.app_context():
        assert db.session.get(User, bob) is None
    assert not folder.exists() and os.listdir(shared) == [folder.name]
    for attempt in (1, 2):  # each run tries again, and says so
        result = run_all(app)
        assert result.exit_code == 1
        assert "removing bob's backups from instance-webdav: failed, tried again next run" in result.output
        assert "no-longer-the-password" not in result.output
        assert owed(app) == [(folder.name, "instance-webdav", attempt, "webdav-auth (HTTP 401)")]
    assert "no-longer-the-password" not in caplog.text
    app.config["WEBAUTH_BACKUP_WEBDAV_PASSWORD"] = webdav.password
    assert run_all(app).exit_code == 0
    assert os.listdir(shared) == [] and owed(app) == []


class SilentServer:
    """A TCP server that accepts connections and never answers: a WebDAV server that hangs.
    It counts the connections, so a test can tell whether anything contacted it."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/dav/"
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                self.accepted.append(self.listener.accept()[0])

    def close(self) -> None:
        self.listener.close()
        for connection in self.accepted:
            connection.close()


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/dav/"  # nothing listens there once the probe is closed


def test_deleting_a_user_never_waits_on_the_webdav_server_and_the_next_run_removes_their_copies(
    app, signed_in, make_user, backup_dir, webdav, shared
):
    backed_up(app, make_user, "bob")
    run(app, "bob")
    folder = folder_of(app, backup_dir, "bob")
    working = app.config["WEBAUTH_BACKUP_WEBDAV_URL"]
    silent = SilentServer()
    try:
        # The shared WebDAV server hangs: a request to it would wait for its 30 s timeout.
        app.config["WEBAUTH_BACKUP_WEBDAV_URL"] = silent.url
        done = delete_on_the_page(signed_in, user_id(app, "bob"), "bob")
        assert done.status_code == 302
        assert silent.accepted == []  # the deletion never contacted it
    finally:
        silent.close()
    with app.app_context():
        assert db.session.scalar(select(User).where(User.username == "bob")) is None
    assert not folder.exists() and os.listdir(shared) == [folder.name]
    # Down (nothing listens): the run says so and keeps the removal owed.
    app.config["WEBAUTH_BACKUP_WEBDAV_URL"] = closed_port_url()
    result = run_all(app)
    assert result.exit_code == 1 and "webdav-unreachable" in result.output
    assert owed(app) == [(folder.name, "instance-webdav", 1, "webdav-unreachable")]
    # Back: the next run removes the copies.
    app.config["WEBAUTH_BACKUP_WEBDAV_URL"] = working
    result = run_all(app)
    assert result.exit_code == 0, result.output
    assert os.listdir(shared) == [] and owed(app) == []


def test_a_user_deleted_while_their_backup_runs_leaves_nothing_behind(app, user, make_user, backup_dir, monkeypatch):
    """The run holds bob's lock while an administrator deletes bob: the deletion waits for it,
    then removes what the run wrote; the run ends without an error."""
    backed_up(app, make_user, "bob")
    inside, go_on = threading.Event(), threading.Event()
    seal = backup_run.export_aegis_sealed

    def hold(*args, **kwargs):
        inside.set()
        assert go_on.wait(JOIN_SECONDS)
        return seal(*args, **kwargs)

    monkeypatch.setattr(backup_run, "export_aegis_sealed", hold)
    runner, by_run = _in_thread(run, app, "bob")
    assert inside.wait(JOIN_SECONDS)

    deleter, by_deleter = _in_thread(delete_bob, app)
    deleter.join(MEETING_SECONDS)  # waits for the run: on bob's lock, or (PostgreSQL) his plan's row
    go_on.set()
    runner.join(JOIN_SECONDS)
    deleter.join(JOIN_SECONDS)
    assert "error" not in by_run and "error" not in by_deleter, (by_run, by_deleter)
    assert by_run["value"].result in {"written", "deleted"}
    assert by_deleter["value"] == admin.Deleted(accounts=4, backups_pending=False)
    assert [path.name for path in backup_dir.iterdir()] == [".locks"]


def test_a_user_deleted_during_backups_run_all_is_skipped_and_the_others_backed_up(
    app, user, make_user, backup_dir, monkeypatch
):
    backed_up(app, make_user, "bob")
    backed_up(app, make_user, "carol")
    real = cli_backups.backup_user

    def delete_bob_first(subject, *args):
        if not removals(app):  # an administrator deletes bob as the command reaches him
            _in_thread(delete_bob, app)[0].join(JOIN_SECONDS)
        return real(subject, *args)

    monkeypatch.setattr(cli_backups, "backup_user", delete_bob_first)
    result = app.test_cli_runner().invoke(args=["backups", "run", "--all"])
    assert result.exit_code == 0, result.output
    assert "bob: deleted meanwhile, nothing kept" in result.output and "carol: wrote" in result.output
    assert [path.name for path in backup_dir.iterdir() if path.name != ".locks"] == [
        folder_of(app, backup_dir, "carol").name
    ]


def delete_bob(app):
    with app.app_context():
        actor = db.session.scalar(select(User).where(User.username == "alice"))
        subject = db.session.scalar(select(User).where(User.username == "bob"))
        deleted = admin.delete_user(subject, "bob", actor)
        db.session.commit()
        return deleted
