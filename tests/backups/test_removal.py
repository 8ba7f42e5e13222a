"""A deleted user's backups go with them: their folder on the server and on the instance-wide
WebDAV target (a real WsgiDAV server), audited; their own WebDAV folder is theirs and stays;
a target that cannot be reached is said so, and the deletion still happens."""

from __future__ import annotations

import logging
import os
import threading

import pytest
from sqlalchemy import select

from tests.backups.helpers import fill, folder_of, run, set_password
from tests.backups.test_concurrency import JOIN_SECONDS, MEETING_SECONDS, _in_thread
from tests.backups.test_webdav import point_at
from tests.conftest import post_form
from tests.support.webdav_server import WebDavServer
from webauth import admin
from webauth.backups import run as backup_run
from webauth.cli import backups as cli_backups
from webauth.extensions import db
from webauth.models import AuditEvent, User


@pytest.fixture(scope="module")
def webdav(tmp_path_factory):
    server = WebDavServer(tmp_path_factory.mktemp("webdav"))
    yield server
    server.stop()


@pytest.fixture
def shared(app, webdav, request):
    """The instance-wide WebDAV target, in a folder of this test's own."""
    name = request.node.name[:60]
    (webdav.root / name).mkdir()
    app.config.update(
        WEBAUTH_BACKUP_WEBDAV_URL=f"{webdav.url}{name}/",
        WEBAUTH_BACKUP_WEBDAV_USERNAME=webdav.user,
        WEBAUTH_BACKUP_WEBDAV_PASSWORD=webdav.password,
    )
    return webdav.root / name


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


def test_deleting_a_user_removes_their_backups_from_the_server_and_the_shared_webdav(
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
    assert "could not be removed" not in signed_in.get("/admin/users").get_data(as_text=True)
    assert not bob_folder.exists() and os.listdir(shared) == [carol_folder.name]
    # Carol's stay; bob's own WebDAV folder is his, and keeps what the server put there.
    assert len(os.listdir(carol_folder)) == 1 and len(os.listdir(shared / carol_folder.name)) == 1
    assert len(os.listdir(own)) == 1
    assert removals(app) == [
        {"user_id": bob, "files": 1, "removed": ["folder", "instance-webdav"], "left": [], "own_webdav_kept": True}
    ]
    assert webdav.password not in caplog.text


def test_a_shared_webdav_that_refuses_keeps_its_copies_and_says_so(
    app, signed_in, make_user, backup_dir, webdav, shared, caplog
):
    backed_up(app, make_user, "bob")
    run(app, "bob")
    folder = folder_of(app, backup_dir, "bob")
    app.config["WEBAUTH_BACKUP_WEBDAV_PASSWORD"] = "no-longer-the-password"
    bob = user_id(app, "bob")
    done = delete_on_the_page(signed_in, bob, "bob")
    assert done.status_code == 302  # the user is deleted all the same
    page = signed_in.get("/admin/users").get_data(as_text=True)
    assert "Deleted bob and 4 accounts." in page
    assert "Some of their backups could not be removed: see the audit log." in page
    with app.app_context():
        assert db.session.get(User, bob) is None
    assert not folder.exists() and os.listdir(shared) == [folder.name]
    [event] = removals(app)
    assert event["removed"] == ["folder"] and event["left"] == ["instance-webdav: webdav-auth (HTTP 401)"]
    assert f"backups of deleted user {bob} left on instance-webdav" in caplog.text
    assert "no-longer-the-password" not in caplog.text


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
    assert by_deleter["value"] == admin.Deleted(accounts=4, backups_left=False)
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
        return admin.delete_user(subject, "bob", actor)
