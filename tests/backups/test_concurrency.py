"""Two backup runs for the same user at once (two app servers' schedulers, cron and "Back up now")
lose nothing: each thread has its own app context, so its own database session and connection,
as two processes would; on SQLite and, with WEBAUTH_TEST_DATABASE_URL, on PostgreSQL.

The runs are made to meet inside the step that seals the vault: without the user's lock both
get there together; with it the second waits (the meeting then times out and each goes on).
"""

from __future__ import annotations

import contextlib
import threading
from datetime import timedelta

from sqlalchemy import select

from tests.backups.aegis_reader import open_vault
from tests.backups.helpers import PASSWORD, T0, backups_in, edit_note, fill, folder_of, run, set_password
from tests.backups.test_page import post
from tests.conftest import sign_in
from webauth.backups import files
from webauth.backups import run as backup_run
from webauth.extensions import db
from webauth.models import AuditEvent, BackupPlan

MEETING_SECONDS = 2
JOIN_SECONDS = 60


def _in_thread(target, *args) -> tuple[threading.Thread, dict]:
    result: dict = {}

    def work() -> None:
        try:
            result["value"] = target(*args)
        except BaseException as error:  # the test asserts there was none
            result["error"] = error

    thread = threading.Thread(target=work)
    thread.start()
    return thread, result


def _newest_last(folder) -> list[str]:
    assert [name for name in backups_in(folder) if not files.is_backup_name(name)] == []  # nothing partial
    return [item.name for item in files.listing(folder)]


def _plan(app) -> BackupPlan:
    with app.app_context():
        plan = db.session.scalars(select(BackupPlan)).one()
        db.session.expunge(plan)
        return plan


def _prepare(app, backup_dir) -> list[str]:
    """Alice with three backups already (WEBAUTH_BACKUP_KEEP=3), and a change since the last."""
    fill(app)
    set_password(app)
    for day in range(3):
        edit_note(app, f"day {day}")
        run(app, at=T0 + timedelta(days=day))
    edit_note(app, "the newest note")
    return backups_in(folder_of(app, backup_dir))


def test_a_scheduled_run_and_back_up_now_at_once_write_one_whole_backup(
    app, make_user, backup_dir, monkeypatch
):
    make_user("alice")
    before = _prepare(app, backup_dir)
    meeting = threading.Barrier(2, timeout=MEETING_SECONDS)
    seal = backup_run.export_aegis_sealed

    def meet_then_seal(*args, **kwargs):
        with contextlib.suppress(threading.BrokenBarrierError):
            meeting.wait()
        return seal(*args, **kwargs)

    monkeypatch.setattr(backup_run, "export_aegis_sealed", meet_then_seal)
    at = T0 + timedelta(days=5)
    browser = app.test_client()
    sign_in(browser)
    cron, by_cron = _in_thread(run, app, "alice", at)
    now, by_button = _in_thread(post, browser, "/backups/run")
    cron.join(JOIN_SECONDS)
    now.join(JOIN_SECONDS)
    assert "error" not in by_cron and "error" not in by_button, (by_cron, by_button)
    assert by_button["value"].status_code == 303  # no 500, no IntegrityError
    folder = folder_of(app, backup_dir)
    after = _newest_last(folder)
    plan = _plan(app)
    # One new backup, whole; the older ones pruned to three, the new one kept; nothing temporary.
    new = sorted(set(after) - set(before))
    assert len(new) == 1 and len(after) == 3 and after[-1] == new[0] == plan.last_file
    assert open_vault((folder / new[0]).read_bytes(), PASSWORD)["entries"][0]["note"] == "the newest note"
    assert plan.last_size == (folder / new[0]).stat().st_size and plan.last_error is None
    with app.app_context():
        written = db.session.scalars(select(AuditEvent).where(AuditEvent.event == "backup")).all()
        assert [event.details["file"] for event in written][-1] == new[0]
        assert len(written) == 4  # three before, one now: the other run found it backed up


def test_a_run_that_waited_for_another_never_goes_back_in_time(app, make_user, backup_dir, monkeypatch):
    """The first run (started later, by the clock) holds the lock while the vault changes again;
    the second (started earlier) then writes the change under a later name than the first's file,
    so it is the newest backup, retention keeps it, and the record does not go backwards."""
    make_user("alice")
    _prepare(app, backup_dir)
    first_inside, go_on = threading.Event(), threading.Event()
    seal = backup_run.export_aegis_sealed

    def hold_the_first(*args, **kwargs):
        if not first_inside.is_set():
            first_inside.set()
            assert go_on.wait(JOIN_SECONDS)
        return seal(*args, **kwargs)

    monkeypatch.setattr(backup_run, "export_aegis_sealed", hold_the_first)
    late, early = T0 + timedelta(days=5, hours=1), T0 + timedelta(days=5)
    first, by_first = _in_thread(run, app, "alice", late)
    assert first_inside.wait(JOIN_SECONDS)
    edit_note(app, "changed while the first run wrote")  # the vault never waits for a backup
    second, by_second = _in_thread(run, app, "alice", early)
    second.join(MEETING_SECONDS)  # the second waits for the first's lock (or, unlocked, runs through)
    go_on.set()
    first.join(JOIN_SECONDS)
    second.join(JOIN_SECONDS)
    assert "error" not in by_first and "error" not in by_second, (by_first, by_second)
    assert by_first["value"].result == by_second["value"].result == "written"
    folder = folder_of(app, backup_dir)
    after = _newest_last(folder)
    plan = _plan(app)
    assert after[-2:] == [by_first["value"].file, by_second["value"].file] and len(after) == 3
    assert plan.last_file == after[-1] and plan.last_backup_at == late and plan.last_attempt_at == late
    assert open_vault((folder / after[-1]).read_bytes(), PASSWORD)["entries"][0]["note"] == (
        "changed while the first run wrote"
    )
    assert run(app, at=late + timedelta(hours=1)).result == "unchanged"
