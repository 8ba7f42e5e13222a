"""Scheduled backups (webauth/backups/): what `flask backups ...` writes, opened by an independent
Aegis reader (aegis_reader.py), and the rules of the folder: mode 0600, keep N, atomic, skip
when unchanged, nobody without a backup password."""

from __future__ import annotations

import base64
import io
import json
import os
import stat
from datetime import UTC, datetime, timedelta

import pytest
from flask import current_app
from PIL import Image
from sqlalchemy import select

from tests.backups.aegis_reader import by_label, entry_code, open_vault
from tests.backups.helpers import (
    NEW_PASSWORD,
    PASSWORD,
    SPECS,
    T0,
    backups_in,
    edit_note,
    fill,
    folder_of,
    run,
    set_password,
    vault_of,
)
from tests.conftest import FROZEN_AT
from webauth.backups import files
from webauth.backups.run import BackupSettings
from webauth.extensions import db
from webauth.models import AuditEvent, BackupPlan, User
from webauth.otp import OtpParams, OtpType, code_at
from webauth.otpauth import AccountSpec, decode_secret
from webauth.transfer.aegis import SCRYPT_N, SCRYPT_P, SCRYPT_R, AegisImporter

# Opened by an independent reader ------------------------------------------------------------


def test_a_backup_opens_with_an_independent_aegis_reader_and_gives_the_same_codes(app, make_user, backup_dir):
    make_user("alice")
    fill(app)
    set_password(app)
    outcome = run(app)
    assert outcome.result == "written" and outcome.accounts == len(SPECS)
    path = folder_of(app, backup_dir) / outcome.file
    db_json = open_vault(path.read_bytes(), PASSWORD)
    entries = by_label(db_json)
    assert set(entries) == {(spec.issuer, spec.name) for spec in SPECS}
    with app.app_context():
        vault = vault_of("alice")
        for account in vault.accounts():
            params = vault.params(account)
            entry = entries[(account.issuer, account.name)]
            assert decode_secret(entry["info"]["secret"]) == params.secret
            assert entry["type"] == params.type.value and entry["info"]["digits"] == params.digits
            assert entry["note"] == account.note and entry["favorite"] == account.favorite
            assert entry["group_names"] == sorted(group.name for group in account.groups)
            if params.type is not OtpType.STEAM:
                for moment in (FROZEN_AT, FROZEN_AT + 3600.5, 2_000_000_000.0):
                    assert entry_code(entry, moment) == code_at(params, moment)
    icon_entry = entries[("Acme", "alice@example.com")]
    assert icon_entry["icon_mime"] == "image/png"
    assert Image.open(io.BytesIO(base64.b64decode(icon_entry["icon"]))).size == (16, 16)


def test_motp_and_yandex_accounts_are_backed_up_with_their_pin(app, make_user, backup_dir):
    """Aegis's own vectors: the backup holds what Aegis needs to give the same codes."""
    make_user("alice")
    motp_secret, yandex_secret = bytes.fromhex("e3152afee62599c8"), decode_secret("LA2V6KMCGYMWWVEW64RNP3JA3I")
    fill(
        app,
        specs=[
            AccountSpec(issuer="Bank", name="alice", params=OtpParams(OtpType.MOTP, motp_secret, pin="1234")),
            AccountSpec(issuer="Yandex", name="alice", params=OtpParams(OtpType.YANDEX, yandex_secret, pin="7586")),
        ],
    )
    set_password(app)
    outcome = run(app)
    entries = by_label(open_vault((folder_of(app, backup_dir) / outcome.file).read_bytes(), PASSWORD))
    motp, yandex = entries[("Bank", "alice")], entries[("Yandex", "alice")]
    assert (motp["type"], motp["info"]["pin"], decode_secret(motp["info"]["secret"])) == ("motp", "1234", motp_secret)
    assert entry_code(motp, 165892298) == "e7d8b6"  # Aegis's MOTPTest
    assert (yandex["type"], yandex["info"]["pin"]) == ("yandex", "7586")
    assert decode_secret(yandex["info"]["secret"]) == yandex_secret
    assert (yandex["info"]["digits"], yandex["info"]["period"]) == (8, 30)


def test_the_slot_is_aegis_scrypt_and_is_reused_without_the_password(app, make_user, backup_dir):
    """The scheduled run never sees the password: the same slot (salt, sealed key) seals each backup."""
    make_user("alice")
    fill(app)
    set_password(app)
    first = run(app)
    edit_note(app, "changed")
    second = run(app, at=T0 + timedelta(days=1))
    folder = folder_of(app, backup_dir)
    slots = [json.loads((folder / name).read_bytes())["header"]["slots"] for name in (first.file, second.file)]
    assert slots[0] == slots[1] and len(slots[0]) == 1
    slot = slots[0][0]
    assert (slot["type"], slot["n"], slot["r"], slot["p"]) == (1, SCRYPT_N, SCRYPT_R, SCRYPT_P) == (1, 2**15, 8, 1)
    headers = [json.loads((folder / name).read_bytes())["header"] for name in (first.file, second.file)]
    assert headers[0]["params"]["nonce"] != headers[1]["params"]["nonce"]  # a fresh nonce each time
    assert open_vault((folder / second.file).read_bytes(), PASSWORD)["entries"][0]["note"] == "changed"
    with app.app_context():
        stored = db.session.scalars(select(BackupPlan)).one()
        # Neither the password nor the master key is stored in clear.
        assert PASSWORD.encode() not in stored.master_key_sealed and len(stored.master_key_sealed) > 32


def test_a_new_password_makes_a_new_slot_and_master_key(app, make_user, backup_dir):
    make_user("alice")
    fill(app)
    set_password(app)
    old = run(app)
    with app.app_context():
        old_sealed = db.session.scalars(select(BackupPlan)).one().master_key_sealed
    set_password(app, password=NEW_PASSWORD)
    new = run(app, at=T0 + timedelta(hours=1))
    assert new.result == "written"  # the vault did not change, the password did
    folder = folder_of(app, backup_dir)
    old_slot = json.loads((folder / old.file).read_bytes())["header"]["slots"][0]
    new_slot = json.loads((folder / new.file).read_bytes())["header"]["slots"][0]
    assert old_slot["uuid"] != new_slot["uuid"] and old_slot["salt"] != new_slot["salt"]
    with app.app_context():
        stored = db.session.scalars(select(BackupPlan)).one()
        assert stored.master_key_sealed != old_sealed
    assert open_vault((folder / new.file).read_bytes(), NEW_PASSWORD)
    with pytest.raises(ValueError, match="no password slot"):
        open_vault((folder / new.file).read_bytes(), PASSWORD)
    assert open_vault((folder / old.file).read_bytes(), PASSWORD)  # older backups keep their password


def test_a_backup_imports_back_through_the_aegis_importer_with_every_field(app, make_user, backup_dir):
    make_user("alice")
    make_user("erin")
    fill(app)
    set_password(app)
    outcome = run(app)
    data = (folder_of(app, backup_dir) / outcome.file).read_bytes()
    entries = AegisImporter().read(data, PASSWORD)
    assert all(entry.spec is not None for entry in entries)
    with app.app_context():
        erin = vault_of("erin")
        erin.add_many([entry.spec for entry in entries], source="aegis")
        db.session.commit()
        alice = vault_of("alice")
        before = {(s.issuer, s.name): s for s in map(alice.spec, alice.accounts())}
        after = {(s.issuer, s.name): s for s in map(erin.spec, erin.accounts())}
    assert before.keys() == after.keys()
    for label, spec in before.items():
        restored = after[label]
        assert restored.params == spec.params
        assert (restored.note, restored.favorite, restored.icon) == (spec.note, spec.favorite, spec.icon)
        assert sorted(restored.groups) == sorted(spec.groups)
        if spec.params.type is not OtpType.STEAM:
            assert code_at(restored.params, FROZEN_AT) == code_at(spec.params, FROZEN_AT)
    assert before[("Acme", "alice@example.com")].icon is not None


# The folder ---------------------------------------------------------------------------------


def test_backups_are_readable_by_their_owner_only(app, make_user, backup_dir):
    make_user("alice")
    fill(app)
    set_password(app)
    outcome = run(app)
    folder = folder_of(app, backup_dir)
    assert stat.S_IMODE((folder / outcome.file).stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(backup_dir.stat().st_mode) == 0o700


def test_file_names_carry_the_utc_time(app, make_user, backup_dir):
    make_user("alice")
    fill(app)
    set_password(app)
    assert run(app, at=datetime(2026, 7, 4, 23, 59, 58, tzinfo=UTC)).file == "webauth-backup-20260704T235958Z.json"
    edit_note(app, "again, in the same second")
    assert run(app, at=datetime(2026, 7, 4, 23, 59, 58, tzinfo=UTC)).file == "webauth-backup-20260704T235958Z-2.json"


def test_an_unchanged_vault_is_not_backed_up_again_and_a_change_is(app, make_user, backup_dir):
    make_user("alice")
    fill(app)
    set_password(app)
    assert run(app).result == "written"
    assert run(app, at=T0 + timedelta(days=1)).result == "unchanged"
    assert len(backups_in(folder_of(app, backup_dir))) == 1
    edit_note(app, "a new note")
    assert run(app, at=T0 + timedelta(days=2)).result == "written"
    with app.app_context():
        vault = vault_of("alice")
        vault.delete(vault.accounts()[1].uuid)
        db.session.commit()
    assert run(app, at=T0 + timedelta(days=3)).result == "written"
    assert len(backups_in(folder_of(app, backup_dir))) == 3


def test_only_the_newest_backups_are_kept(app, make_user, backup_dir):
    """WEBAUTH_BACKUP_KEEP is 3 here (conftest.py): five backups leave the three newest."""
    make_user("alice")
    fill(app)
    set_password(app)
    written = []
    for day in range(5):
        edit_note(app, f"day {day}")
        written.append(run(app, at=T0 + timedelta(days=day)).file)
    assert backups_in(folder_of(app, backup_dir)) == sorted(written[-3:])


def test_a_crash_between_write_and_rename_leaves_the_previous_backup_intact(app, make_user, backup_dir, monkeypatch):
    make_user("alice")
    fill(app)
    set_password(app)
    first = run(app)
    folder = folder_of(app, backup_dir)
    previous = (folder / first.file).read_bytes()
    edit_note(app, "never backed up")

    class Crash(BaseException):
        """The process dying between the write and the rename."""

    def crash(source, target):
        assert os.path.getsize(source) > 0  # the whole new backup is on disk, under its temporary name
        raise Crash

    monkeypatch.setattr(files.os, "replace", crash)
    with pytest.raises(Crash):
        run(app, at=T0 + timedelta(days=1))
    monkeypatch.undo()
    with app.app_context():
        db.session.rollback()
    assert backups_in(folder) == [first.file]
    assert (folder / first.file).read_bytes() == previous
    assert open_vault(previous, PASSWORD)
    # A leftover temporary file (a real crash leaves one) is never a backup, and the next run removes it.
    (folder / f".{first.file}.dead.tmp").write_bytes(b"half a backup")
    again = run(app, at=T0 + timedelta(days=2))
    assert again.result == "written"
    assert backups_in(folder) == sorted([first.file, again.file])
    assert open_vault((folder / again.file).read_bytes(), PASSWORD)["entries"][0]["note"] == "never backed up"


def test_a_user_without_a_backup_password_gets_no_backup(app, make_user, backup_dir):
    make_user("alice")
    make_user("bob")
    fill(app, "alice")
    fill(app, "bob")
    set_password(app, "alice")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["backups", "run", "--all"])
    assert result.exit_code == 0, result.output
    assert "alice: wrote" in result.output and "bob" not in result.output
    # Only alice's folder (the lock files have a folder of their own, `.locks`, and hold nothing).
    folders = [path.name for path in backup_dir.iterdir() if path.name != ".locks"]
    assert folders == [folder_of(app, backup_dir, "alice").name]
    refused = runner.invoke(args=["backups", "run", "--user", "bob"])
    assert refused.exit_code != 0 and "no backup password" in refused.output
    assert len([path for path in backup_dir.iterdir() if path.name != ".locks"]) == 1


def test_the_commands_set_the_password_from_stdin_and_run(app, make_user, backup_dir):
    make_user("alice")
    fill(app)
    runner = app.test_cli_runner()
    short = runner.invoke(args=["backups", "password", "--user", "alice", "--password-stdin"], input="short\n")
    assert short.exit_code != 0 and "at least 8" in short.output
    done = runner.invoke(args=["backups", "password", "--user", "alice", "--password-stdin"], input=PASSWORD + "\n")
    assert done.exit_code == 0 and PASSWORD not in done.output
    first = runner.invoke(args=["backups", "run", "--user", "alice"])
    assert first.exit_code == 0 and "wrote webauth-backup-" in first.output
    second = runner.invoke(args=["backups", "run", "--user", "alice"])
    assert second.exit_code == 0 and "unchanged" in second.output
    [name] = backups_in(folder_of(app, backup_dir))
    assert open_vault((folder_of(app, backup_dir) / name).read_bytes(), PASSWORD)
    status = runner.invoke(args=["backups", "status", "--user", "alice"])
    assert name in status.output and "next backup: around" in status.output


def test_each_backup_is_audited_without_a_secret(app, make_user, backup_dir):
    make_user("alice")
    fill(app)
    set_password(app)
    outcome = run(app)
    run(app, at=T0 + timedelta(days=1))  # unchanged: not a backup
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.event.like("backup%"))).all()
        assert [event.event for event in events] == ["backup.password", "backup"]
        assert events[1].details == {"file": outcome.file, "bytes": outcome.size, "accounts": 4, "targets": ["folder"]}
        for event in events:
            assert PASSWORD not in json.dumps(event.details) and "JBSWY3DP" not in json.dumps(event.details)


def test_an_unwritable_folder_is_a_failure_in_words_and_the_next_run_retries(app, make_user, backup_dir):
    make_user("alice")
    fill(app)
    set_password(app)
    backup_dir.parent.mkdir(parents=True, exist_ok=True)
    backup_dir.write_text("a file where the folder should be")
    outcome = run(app)
    assert outcome.result == "failed" and outcome.error == "folder"
    with app.app_context():
        from webauth.backups.status import status_of

        alice = db.session.scalar(select(User).where(User.username == "alice"))
        status = status_of(alice, BackupSettings.from_config(current_app.config))
        assert "could not write the backup" in status.failure and status.last_backup_at is None
    backup_dir.unlink()
    assert run(app, at=T0 + timedelta(hours=1)).result == "written"


def test_a_sealed_key_that_no_longer_opens_is_a_failure_in_words(app, make_user, backup_dir):
    make_user("alice")
    fill(app)
    set_password(app)
    with app.app_context():
        stored = db.session.scalars(select(BackupPlan)).one()
        stored.master_key_sealed = stored.master_key_sealed[:-1] + bytes([stored.master_key_sealed[-1] ^ 1])
        db.session.commit()
    outcome = run(app)
    assert outcome.result == "failed" and outcome.error == "keys"
    assert backups_in(folder_of(app, backup_dir)) == []
    with app.app_context():
        failures = db.session.scalars(select(AuditEvent).where(AuditEvent.event == "backup.failure"))
        assert [event.details for event in failures] == [{"kind": "keys"}]


def test_one_users_unexpected_failure_does_not_stop_the_others(app, make_user, backup_dir, monkeypatch):
    import webauth.cli.backups as command

    make_user("alice")
    make_user("bob")
    for name in ("alice", "bob"):
        fill(app, name)
        set_password(app, name)
    real = command.backup_user

    def broken_for_alice(user, *args):
        if user.username == "alice":
            raise RuntimeError("a bug")
        return real(user, *args)

    monkeypatch.setattr(command, "backup_user", broken_for_alice)
    result = app.test_cli_runner().invoke(args=["backups", "run", "--all"])
    assert result.exit_code == 1
    assert "alice: failed: unexpected error" in result.output and "bob: wrote" in result.output
    assert len(backups_in(folder_of(app, backup_dir, "bob"))) == 1
