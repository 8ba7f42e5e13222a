"""Orphaned backup folders (a user gone without their removal owed, e.g. a crash between the two)
are swept from the server folder and the instance-wide WebDAV target (a real WsgiDAV server):
never a live user's folder, never a name outside the backup layout, never a file the app did not write."""

from __future__ import annotations

import os

from sqlalchemy import delete, select

from tests.backups.helpers import fill, folder_of, run, set_password
from tests.backups.test_removal import owed, removals, run_all
from webauth.backups import sweep
from webauth.extensions import db
from webauth.models import BackupPlan, User

BACKUP = "webauth-backup-20260301T031500Z.json"


def crash_after_deleting(app, username: str) -> None:
    """The user's row goes and nothing is owed: what a crash before the removal left (or an older version)."""
    with app.app_context():
        db.session.execute(delete(User).where(User.username == username))
        db.session.commit()


def backed_up(app, make_user, username: str) -> None:
    make_user(username)
    fill(app, username)
    set_password(app, username)
    assert run(app, username).result == "written"


def test_the_sweep_removes_only_what_the_app_wrote_for_users_that_are_gone(app, make_user, backup_dir):
    backed_up(app, make_user, "alice")
    backed_up(app, make_user, "bob")
    alice, bob = folder_of(app, backup_dir, "alice"), folder_of(app, backup_dir, "bob")
    # A live user whose plan is gone (stopped, files left) keeps their folder.
    make_user("carol")
    crash_after_deleting(app, "bob")
    with app.app_context():
        carol_id = db.session.scalar(select(User.id).where(User.username == "carol"))
    carol = backup_dir / f"carol-{carol_id}"
    carol.mkdir()
    (carol / BACKUP).write_bytes(b"{}")
    # A gone user's folder holding a file the app did not write: its backups go, the rest stays.
    mixed = backup_dir / "dave-900"
    mixed.mkdir()
    (mixed / BACKUP).write_bytes(b"{}")
    (mixed / "notes.txt").write_text("mine")
    # Names outside the layout are never touched, whatever they hold.
    for name in ("photos", "-901", ".hidden-902"):
        (backup_dir / name).mkdir()
        (backup_dir / name / BACKUP).write_bytes(b"{}")
    (backup_dir / "eve-903").write_text("a file, not a folder")
    (bob / f".{BACKUP}.1234abcd.tmp").write_bytes(b"half")

    cli = app.test_cli_runner()
    dry = cli.invoke(args=["backups", "sweep", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert dry.output.splitlines() == [
        f"orphaned backup folder {bob.name} on folder (dry run: kept)",
        "orphaned backup folder dave-900 on folder (dry run: kept)",
    ]
    assert bob.exists() and owed(app) == []

    swept = cli.invoke(args=["backups", "sweep"])
    assert swept.exit_code == 0, swept.output
    assert not bob.exists()
    assert os.listdir(mixed) == ["notes.txt"]
    assert len(os.listdir(alice)) == 1 and os.listdir(carol) == [BACKUP]
    for name in ("photos", "-901", ".hidden-902"):
        assert os.listdir(backup_dir / name) == [BACKUP]
    assert (backup_dir / "eve-903").read_text() == "a file, not a folder"
    assert owed(app) == []
    assert sorted((event["folder"], event["files"]) for event in removals(app)) == [(bob.name, 1), ("dave-900", 1)]
    # Nothing left to sweep: the folder with notes.txt holds nothing of the app's any more.
    again = cli.invoke(args=["backups", "sweep"])
    assert again.exit_code == 0 and again.output == "" and os.listdir(mixed) == ["notes.txt"]


def test_the_timers_run_sweeps_the_shared_webdav_too(app, make_user, backup_dir, shared):
    backed_up(app, make_user, "alice")
    backed_up(app, make_user, "bob")
    alice, bob = folder_of(app, backup_dir, "alice"), folder_of(app, backup_dir, "bob")
    crash_after_deleting(app, "bob")
    (shared / "photos").mkdir()
    (shared / "photos" / BACKUP).write_bytes(b"{}")
    mixed = shared / "dave-900"
    mixed.mkdir()
    (mixed / BACKUP).write_bytes(b"{}")
    (mixed / "notes.txt").write_text("mine")
    result = run_all(app)
    assert result.exit_code == 0, result.output
    assert "alice: unchanged" in result.output
    assert f"orphaned backup folder {bob.name} on instance-webdav" in result.output
    assert sorted(os.listdir(shared)) == sorted([alice.name, "dave-900", "photos"])
    assert os.listdir(mixed) == ["notes.txt"] and os.listdir(shared / "photos") == [BACKUP]
    assert len(os.listdir(shared / alice.name)) == 1
    assert not bob.exists() and owed(app) == []
    with app.app_context():
        assert db.session.scalars(select(BackupPlan.folder)).all() == [alice.name]


def test_many_folders_are_asked_about_in_chunks_and_a_live_users_stays(app, make_user):
    """More names than one query takes: every gone user's folder found, the live user's never."""
    alice = make_user("alice")
    names = [f"gone-{10_000 + number}" for number in range(1_200)] + [f"alice-{alice.id}", "photos"]
    with app.app_context():
        found = sweep._candidates(names, "folder")
    assert len(found) == 1_200 and f"alice-{alice.id}" not in found and "photos" not in found
