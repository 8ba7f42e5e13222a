"""The backups page: the password after a password re-entry, the status in words, "Download the
latest backup" (audited), "Back up now" as a plain form and as an htmx fragment."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from tests.backups.aegis_reader import open_vault
from tests.backups.helpers import PASSWORD, fill
from tests.conftest import TEST_PASSWORD, csrf_from
from webauth.extensions import db
from webauth.models import AuditEvent, BackupPlan, SessionRecord, utcnow

HTMX = {"HX-Request": "true"}


def post(client, action: str, data: dict | None = None, **kwargs):
    token = csrf_from(client.get("/backups/").get_data(as_text=True))
    return client.post(action, data={"csrf_token": token, **(data or {})}, **kwargs)


def set_on_page(client, password: str = PASSWORD):
    return post(client, "/backups/password", {"password": password, "confirm": password})


def events(app, name: str) -> list[dict]:
    with app.app_context():
        return [e.details for e in db.session.scalars(select(AuditEvent).where(AuditEvent.event == name))]


def test_the_password_is_set_after_a_password_re_entry(app, signed_in):
    page = signed_in.get("/backups/")
    assert page.status_code == 200 and "Set a backup password" in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    with app.app_context():
        db.session.execute(update(SessionRecord).values(reauth_at=utcnow() - timedelta(hours=1)))
        db.session.commit()
    refused = set_on_page(signed_in)
    assert refused.status_code == 302 and "/reauth" in refused.headers["Location"]
    with app.app_context():
        assert db.session.scalars(select(BackupPlan)).first() is None
    reauth = signed_in.get("/reauth?next=/backups/").get_data(as_text=True)
    signed_in.post("/reauth?next=/backups/", data={"csrf_token": csrf_from(reauth), "password": TEST_PASSWORD})
    done = set_on_page(signed_in)
    assert done.status_code == 303
    assert "Your backup password is set" in signed_in.get("/backups/").get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(BackupPlan)).one().slot["n"] == 2**15


def test_a_short_or_mistyped_password_is_refused_with_a_reason(app, signed_in):
    short = set_on_page(signed_in, "short")
    assert short.status_code == 422 and "Use at least 8 characters." in short.get_data(as_text=True)
    differ = post(signed_in, "/backups/password", {"password": PASSWORD, "confirm": PASSWORD + "x"})
    assert differ.status_code == 422 and "The passwords differ." in differ.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(BackupPlan)).first() is None


def test_the_page_shows_the_last_backup_and_downloads_it_audited(app, signed_in):
    fill(app)
    set_on_page(signed_in)
    page = signed_in.get("/backups/").get_data(as_text=True)
    assert "At the next scheduled run" in page and "Download the latest backup" not in page
    ran = post(signed_in, "/backups/run")
    assert ran.status_code == 303
    page = signed_in.get("/backups/").get_data(as_text=True)
    assert "Backed up 4 accounts." in page and "4 accounts" in page and "Download the latest backup" in page
    assert "Around " in page and " UTC, if your vault changed" in page
    with app.app_context():
        stored = db.session.scalars(select(BackupPlan)).one()
        size, name = stored.last_size, stored.last_file
    assert f"{size / 1000:.1f} kB" in page
    download = post(signed_in, "/backups/latest")
    assert download.status_code == 200 and download.headers["Cache-Control"] == "no-store"
    assert name in download.headers["Content-Disposition"]
    assert len(open_vault(download.data, PASSWORD)["entries"]) == 4
    assert events(app, "backup.download") == [{"file": name, "bytes": size}]
    assert len(events(app, "backup")) == 1


def test_back_up_now_swaps_the_status_card_with_htmx(app, signed_in):
    fill(app)
    set_on_page(signed_in)
    token = csrf_from(signed_in.get("/backups/").get_data(as_text=True))
    first = signed_in.post("/backups/run", data={"csrf_token": token}, headers=HTMX)
    html = first.get_data(as_text=True)
    assert first.status_code == 200 and html.lstrip().startswith('<section class="card" id="backup-status">')
    assert "Backed up 4 accounts." in html and "Download the latest backup" in html
    again = signed_in.post("/backups/run", data={"csrf_token": token}, headers=HTMX).get_data(as_text=True)
    assert "Nothing changed since the last backup" in again


def test_without_a_backup_there_is_nothing_to_download(app, signed_in):
    set_on_page(signed_in)
    assert post(signed_in, "/backups/latest").status_code == 404
    assert events(app, "backup.download") == []


def test_a_webdav_folder_is_set_on_the_page_and_its_password_kept_sealed(app, signed_in):
    app.config["WEBAUTH_BACKUP_USER_WEBDAV"] = True
    set_on_page(signed_in)
    bad = post(signed_in, "/backups/webdav", {"url": "https://u:p@dav.example/x/", "username": "u", "password": "p"})
    assert bad.status_code == 422 and "in their own fields" in bad.get_data(as_text=True)
    url = "https://dav.example/remote.php/dav/files/alice/Backups"
    form = {"url": url, "username": "alice", "password": "app-pw-1"}
    assert post(signed_in, "/backups/webdav", form).status_code == 303
    page = signed_in.get("/backups/").get_data(as_text=True)
    assert "https://dav.example/remote.php/dav/files/alice/Backups/" in page and "app-pw-1" not in page
    # An empty password keeps the saved one.
    assert post(signed_in, "/backups/webdav", {**form, "password": ""}).status_code == 303
    with app.app_context():
        stored = db.session.scalars(select(BackupPlan)).one()
        assert stored.webdav_password_sealed is not None and b"app-pw-1" not in stored.webdav_password_sealed
    assert post(signed_in, "/backups/webdav/remove").status_code == 303
    with app.app_context():
        assert db.session.scalars(select(BackupPlan)).one().webdav_url == ""


def test_users_name_no_webdav_address_unless_the_operator_allows_it(app, signed_in):
    """By default a user cannot make the server send requests to an address of their choosing."""
    set_on_page(signed_in)
    assert "Save the WebDAV folder" not in signed_in.get("/backups/").get_data(as_text=True)
    refused = post(signed_in, "/backups/webdav", {"url": "http://127.0.0.1:6379/", "username": "", "password": ""})
    assert refused.status_code == 404
    with app.app_context():
        assert db.session.scalars(select(BackupPlan)).one().webdav_url == ""
