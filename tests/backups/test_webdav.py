"""WebDAV targets, against a real WebDAV server (WsgiDAV under gunicorn, tests/support/webdav_server.py):
a user's own folder and the instance-wide one, kept to the newest N, failures in words, and the
WebDAV password sealed at rest and never in the log."""

from __future__ import annotations

import logging
import os
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.backups.aegis_reader import open_vault
from tests.backups.helpers import PASSWORD, T0, edit_note, fill, run, set_password, vault_of
from webauth.backups import plan
from webauth.extensions import db
from webauth.models import BackupPlan


@pytest.fixture
def dav_folder(webdav, request):
    """A folder of the WebDAV share of this test's own."""
    name = request.node.name[:60]
    (webdav.root / name).mkdir()
    return name


def point_at(app, url: str, username: str, password: str | None, user: str = "alice") -> None:
    with app.app_context():
        vault = vault_of(user)
        plan.set_webdav(vault, db.session.get(BackupPlan, vault.user.id), url, username, password)
        db.session.commit()


def test_backups_go_to_the_users_webdav_folder_and_only_the_newest_stay(app, make_user, webdav, dav_folder, caplog):
    caplog.set_level(logging.DEBUG)
    make_user("alice")
    fill(app)
    set_password(app)
    point_at(app, webdav.url + dav_folder + "/", webdav.user, webdav.password)
    written = []
    for day in range(4):
        edit_note(app, f"day {day}")
        outcome = run(app, at=T0 + timedelta(days=day))
        assert outcome.error is None and outcome.targets == ["folder", "webdav"]
        written.append(outcome.file)
    on_server = sorted(os.listdir(webdav.root / dav_folder))
    assert on_server == sorted(written[-3:])  # WEBAUTH_BACKUP_KEEP=3, no temporary upload left
    assert open_vault((webdav.root / dav_folder / written[-1]).read_bytes(), PASSWORD)["entries"][0]["note"] == "day 3"
    assert webdav.password not in caplog.text
    with app.app_context():
        stored = db.session.scalars(select(BackupPlan)).one()
        assert webdav.password.encode() not in stored.webdav_password_sealed
        assert plan.webdav_password(vault_of("alice"), stored) == webdav.password


def test_a_wrong_webdav_password_is_a_failure_in_words_then_the_upload_is_retried(
    app, make_user, webdav, dav_folder, backup_dir, caplog
):
    caplog.set_level(logging.DEBUG)
    make_user("alice")
    fill(app)
    set_password(app)
    point_at(app, webdav.url + dav_folder + "/", webdav.user, "not-the-password")
    failed = run(app)
    # The folder has its backup; WebDAV refused it, and the user is told so in words.
    assert failed.result == "written" and failed.error == "webdav-auth"
    assert os.listdir(webdav.root / dav_folder) == []
    assert "not-the-password" not in caplog.text
    client = app.test_client()
    from tests.conftest import sign_in

    sign_in(client)
    page = client.get("/backups/").get_data(as_text=True)
    assert "The WebDAV server refused the user name or the password." in page
    # A new WebDAV password: the next run writes the vault to both.
    point_at(app, webdav.url + dav_folder + "/", webdav.user, webdav.password)
    again = run(app, at=T0 + timedelta(days=1))
    assert again.error is None and again.targets == ["folder", "webdav"]
    assert os.listdir(webdav.root / dav_folder) == [again.file]
    assert "The WebDAV server refused" not in client.get("/backups/").get_data(as_text=True)


def test_an_upload_that_failed_is_sent_again_though_the_vault_did_not_change(app, make_user, webdav, dav_folder):
    make_user("alice")
    fill(app)
    set_password(app)
    point_at(app, webdav.url + dav_folder + "/later/", webdav.user, webdav.password)
    failed = run(app)
    assert failed.result == "written" and failed.error == "webdav-refused"  # no such folder yet
    (webdav.root / dav_folder / "later").mkdir()
    again = run(app, at=T0 + timedelta(days=1))
    assert again.error is None and again.file == failed.file and again.targets == ["webdav"]
    assert os.listdir(webdav.root / dav_folder / "later") == [failed.file]
    assert run(app, at=T0 + timedelta(days=2)).result == "unchanged"


def test_an_unreachable_server_is_said_so(app, make_user):
    make_user("alice")
    fill(app)
    set_password(app)
    point_at(app, "http://127.0.0.1:9/dav/", "someone", "whatever-password")
    assert run(app).error == "webdav-unreachable"


@pytest.fixture
def instance_webdav(app_config, webdav, dav_folder):
    return {
        **app_config,
        "WEBAUTH_BACKUP_WEBDAV_URL": webdav.url + dav_folder,
        "WEBAUTH_BACKUP_WEBDAV_USERNAME": webdav.user,
        "WEBAUTH_BACKUP_WEBDAV_PASSWORD": webdav.password,
    }


def test_the_instance_webdav_target_gets_a_folder_per_user(instance_webdav, webdav, dav_folder):
    from webauth import create_app, users
    from webauth.keys import keyring

    app = create_app(instance_webdav)
    with app.app_context():
        for name in ("alice", "bob"):
            users.create_local_user(name, "correct horse battery", keyring())
        db.session.commit()
    fill(app, "alice")
    fill(app, "bob")
    set_password(app, "alice")
    set_password(app, "bob", "bob's backup password")
    result = app.test_cli_runner().invoke(args=["backups", "run", "--all"])
    assert result.exit_code == 0, result.output
    folders = sorted(os.listdir(webdav.root / dav_folder))
    assert len(folders) == 2 and folders[0].startswith("alice-") and folders[1].startswith("bob-")
    [bob_file] = os.listdir(webdav.root / dav_folder / folders[1])
    assert open_vault((webdav.root / dav_folder / folders[1] / bob_file).read_bytes(), "bob's backup password")
    with app.app_context():
        db.engine.dispose()


def test_a_webdav_address_with_credentials_or_another_scheme_is_refused(app, make_user):
    make_user("alice")
    set_password(app)
    for url in ("ftp://example.com/x/", "https://bob:pw@example.com/dav/", "example.com/dav", "https://x/?a=1"):
        with pytest.raises(plan.PlanError):
            point_at(app, url, "bob", "pw")
