"""A user stops their backups, keeping the files or deleting them as they choose (on the page, after
a recent password entry, and with `flask backups stop` for administrators): on the server folder
and on the instance-wide WebDAV target (a real WsgiDAV server); their own WebDAV folder is theirs."""

from __future__ import annotations

import os
from datetime import timedelta

from sqlalchemy import select, update

from tests.backups.aegis_reader import open_vault
from tests.backups.helpers import PASSWORD, T0, edit_note, fill, folder_of, run, set_password
from tests.backups.test_page import events, post, set_on_page
from tests.backups.test_removal import closed_port_url, owed, run_all
from tests.backups.test_webdav import point_at
from webauth.extensions import db
from webauth.models import BackupPlan, SessionRecord, utcnow


def backed_up_on_the_page(app, client, backup_dir):
    fill(app)
    set_on_page(client)
    assert run(app).result == "written"
    return folder_of(app, backup_dir)


def plan_row(app) -> BackupPlan | None:
    with app.app_context():
        return db.session.scalars(select(BackupPlan)).first()


def test_stopping_and_keeping_the_files_writes_nothing_more_and_resuming_starts_again(app, signed_in, backup_dir):
    folder = backed_up_on_the_page(app, signed_in, backup_dir)
    [first] = os.listdir(folder)
    page = signed_in.get("/backups/").get_data(as_text=True)
    assert "Stop backups" in page and "Keep them" in page and "Delete them" in page
    done = post(signed_in, "/backups/stop", {"files": "keep"})
    assert done.status_code == 303
    page = signed_in.get("/backups/").get_data(as_text=True)
    assert "Your backups are stopped. The backups made so far are kept." in page
    assert "None: your backups are stopped" in page and "Resume backups" in page and "Back up now" not in page
    edit_note(app, "changed after the stop")
    assert run(app, at=T0 + timedelta(days=1)).result == "stopped"
    assert "alice" not in run_all(app).output  # the timer's run passes the user by
    assert post(signed_in, "/backups/run").status_code == 409
    assert os.listdir(folder) == [first]
    # What was kept is still theirs to download.
    download = post(signed_in, "/backups/latest")
    assert download.status_code == 200 and len(open_vault(download.data, PASSWORD)["entries"]) == 4
    assert events(app, "backup.stop") == [{"files": "kept"}]
    assert post(signed_in, "/backups/resume").status_code == 303
    assert events(app, "backup.resume") == [{}]
    assert run(app, at=T0 + timedelta(days=2)).result == "written"
    assert len(os.listdir(folder)) == 2


def test_stopping_and_deleting_removes_the_files_and_forgets_the_backup_password(app, signed_in, backup_dir):
    folder = backed_up_on_the_page(app, signed_in, backup_dir)
    done = post(signed_in, "/backups/stop", {"files": "delete"})
    assert done.status_code == 303
    page = signed_in.get("/backups/").get_data(as_text=True)
    assert "Your backups are stopped and the backups made so far are deleted." in page
    assert "Set a backup password" in page and "Stop backups" not in page
    assert not folder.exists() and plan_row(app) is None and owed(app) == []
    assert events(app, "backup.stop") == [{"files": "deleted"}]
    assert [event["target"] for event in events(app, "backup.remove")] == ["folder"]
    assert run(app).result == "no-password"


def test_the_choice_is_required_and_a_stale_sign_in_is_asked_for_the_password_again(app, signed_in, backup_dir):
    folder = backed_up_on_the_page(app, signed_in, backup_dir)
    missing = post(signed_in, "/backups/stop", {})
    assert missing.status_code == 422
    assert "Choose whether to keep or delete the backups made so far." in missing.get_data(as_text=True)
    assert post(signed_in, "/backups/stop", {"files": "everything"}).status_code == 422
    no_token = signed_in.post("/backups/stop", data={"files": "delete"})
    assert no_token.status_code in (400, 422)
    with app.app_context():
        db.session.execute(update(SessionRecord).values(reauth_at=utcnow() - timedelta(hours=1)))
        db.session.commit()
    stale = post(signed_in, "/backups/stop", {"files": "delete"})
    assert stale.status_code == 302 and "/reauth" in stale.headers["Location"]
    assert len(os.listdir(folder)) == 1 and plan_row(app).stopped_at is None
    assert events(app, "backup.stop") == []


def test_stopping_with_a_shared_webdav_keeps_or_deletes_its_copies_too(
    app, signed_in, backup_dir, webdav, shared
):
    app.config["WEBAUTH_BACKUP_USER_WEBDAV"] = True
    own = webdav.root / "alices-own"
    own.mkdir()
    folder = backed_up_on_the_page(app, signed_in, backup_dir)  # written before the own folder was set
    point_at(app, f"{webdav.url}alices-own/", webdav.user, webdav.password)
    edit_note(app, "second")
    assert run(app, at=T0 + timedelta(days=1)).targets == ["folder", "instance-webdav", "webdav"]
    assert len(os.listdir(shared / folder.name)) == 2
    page = signed_in.get("/backups/").get_data(as_text=True)
    assert "Copies in your own WebDAV folder stay there: that folder is yours." in page
    # Keep: every copy stays.
    assert post(signed_in, "/backups/stop", {"files": "keep"}).status_code == 303
    assert len(os.listdir(shared / folder.name)) == 2 and len(os.listdir(folder)) == 2
    # Then delete, with the shared WebDAV down: the server's folder goes at once, WebDAV is owed.
    working = app.config["WEBAUTH_BACKUP_WEBDAV_URL"]
    app.config["WEBAUTH_BACKUP_WEBDAV_URL"] = closed_port_url()
    assert "Delete the backups made so far" in signed_in.get("/backups/").get_data(as_text=True)
    assert post(signed_in, "/backups/stop", {"files": "delete"}).status_code == 303
    assert "The backups made so far are being deleted" in signed_in.get("/backups/").get_data(as_text=True)
    assert not folder.exists() and len(os.listdir(shared / folder.name)) == 2
    assert owed(app) == [(folder.name, "instance-webdav", 0, None)]
    assert run_all(app).exit_code == 1
    app.config["WEBAUTH_BACKUP_WEBDAV_URL"] = working
    assert run_all(app).exit_code == 0
    assert os.listdir(shared) == [] and owed(app) == []
    assert len(os.listdir(own)) == 1  # the user's own folder is theirs
    assert events(app, "backup.stop") == [{"files": "kept"}, {"files": "deleted"}]


def test_starting_again_before_the_owed_removal_ran_keeps_the_new_backups(app, make_user, backup_dir, webdav, shared):
    """The new plan has the same folder: the owed removal takes only the backups made before the stop."""
    make_user("alice")
    fill(app)
    set_password(app)
    old = run(app, at=utcnow() - timedelta(days=1)).file
    working = app.config["WEBAUTH_BACKUP_WEBDAV_URL"]
    app.config["WEBAUTH_BACKUP_WEBDAV_URL"] = closed_port_url()
    result = app.test_cli_runner().invoke(args=["backups", "stop", "--user", "alice", "--delete-files"])
    assert result.exit_code == 0 and "go at the next `backups run --all`" in result.output
    app.config["WEBAUTH_BACKUP_WEBDAV_URL"] = working
    set_password(app)
    new = run(app, at=utcnow() + timedelta(minutes=1)).file
    folder = folder_of(app, backup_dir)
    assert sorted(os.listdir(shared / folder.name)) == sorted([old, new])
    assert run_all(app).exit_code == 0
    assert os.listdir(shared / folder.name) == [new] and os.listdir(folder) == [new]


def test_administrators_stop_a_users_backups_with_the_cli(app, make_user, backup_dir):
    make_user("alice")
    fill(app)
    set_password(app)
    run(app)
    folder = folder_of(app, backup_dir)
    cli = app.test_cli_runner()
    unsure = cli.invoke(args=["backups", "stop", "--user", "alice"])
    assert unsure.exit_code == 2 and "--keep-files or --delete-files" in unsure.output
    kept = cli.invoke(args=["backups", "stop", "--user", "alice", "--keep-files"])
    assert kept.exit_code == 0 and "the backups made so far are kept" in kept.output
    assert "stopped since" in cli.invoke(args=["backups", "status", "--user", "alice"]).output
    assert "alice: backups stopped" in cli.invoke(args=["backups", "run", "--user", "alice"]).output
    assert cli.invoke(args=["backups", "resume", "--user", "alice"]).exit_code == 0
    assert plan_row(app).stopped_at is None
    deleted = cli.invoke(args=["backups", "stop", "--user", "alice", "--delete-files"])
    assert deleted.exit_code == 0 and "deleted the backups made so far" in deleted.output
    assert not folder.exists() and plan_row(app) is None
    again = cli.invoke(args=["backups", "stop", "--user", "alice", "--delete-files"])
    assert again.exit_code == 1 and "has no backups to stop" in again.output
