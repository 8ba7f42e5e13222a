"""`flask backups password | webdav | stop | resume | run | status | sweep`: each user's scheduled backups; and the
administrator's `flask backup instance` and `flask restore instance` (webauth/backups/).

`backups run --all` is what cron or the systemd timer starts (deploy/systemd/webauth-backups.timer):
it backs up every user, then works through the removals owed (a deleted user's WebDAV copies) and
sweeps the folders nobody owns.
Passwords come from standard input, never from arguments, and are never printed.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from webauth.backups import instance as instance_backup
from webauth.backups import plan as backup_plan
from webauth.backups import removal, sweep
from webauth.backups.run import BackupSettings, backup_user, planned_users
from webauth.backups.status import status_of
from webauth.cli.common import prepare_database, read_password, user_named
from webauth.crypto import KeyringError
from webauth.extensions import db
from webauth.keys import keyring
from webauth.models import utcnow
from webauth.vault import Vault

log = logging.getLogger(__name__)

backups_cli = AppGroup("backups", help="Each user's scheduled, encrypted backups (Aegis vaults).")
backup_cli = AppGroup("backup", help="Back up the whole instance (administrators).")
restore_cli = AppGroup("restore", help="Restore the whole instance from `flask backup instance`.")


@backups_cli.command("password")
@click.option("--user", "username", required=True, help="The user whose backups the password protects.")
@click.option("--password-stdin", is_flag=True, required=True, help="Read the backup password from standard input.")
def set_backup_password(username: str, password_stdin: bool) -> None:
    """Set (or change) a user's backup password: backups from now on open with it, in any Aegis-compatible app."""
    prepare_database()
    user = user_named(username)
    try:
        backup_plan.set_password(Vault(user, keyring()), read_password())
    except backup_plan.PlanError as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"set the backup password of {user.username}; the next run backs up the vault")


@backups_cli.command("webdav")
@click.option("--user", "username", required=True, help="The user whose backups also go to the folder.")
@click.option("--url", help="The WebDAV folder, e.g. https://cloud.example.com/remote.php/dav/files/alice/Backups/")
@click.option("--username", "dav_user", default="", help="The WebDAV user name.")
@click.option("--password-stdin", is_flag=True, help="Read the WebDAV password from standard input.")
@click.option("--remove", is_flag=True, help="Stop sending this user's backups to WebDAV.")
def set_webdav(username: str, url: str | None, dav_user: str, password_stdin: bool, remove: bool) -> None:
    """Send a user's backups to a WebDAV folder (Nextcloud and others) as well as to the backup folder."""
    prepare_database()
    user = user_named(username)
    vault = Vault(user, keyring())
    plan = backup_plan.plan_of(user)
    if plan is None:
        raise click.ClickException(f"{user.username} has no backup password yet: set one with `backups password`")
    if remove == bool(url):
        raise click.UsageError("give either --url URL or --remove")
    try:
        if remove:
            backup_plan.clear_webdav(vault, plan)
        else:
            password = read_password() if password_stdin else None
            backup_plan.set_webdav(vault, plan, url or "", dav_user, password)
    except backup_plan.PlanError as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"{user.username}'s backups {'no longer go' if remove else 'now also go'} to WebDAV")


@backups_cli.command("stop")
@click.option("--user", "username", required=True, help="The user whose backups stop.")
@click.option("--keep-files", "keep", flag_value="keep", help="Keep the backups made so far (the user may resume).")
@click.option(
    "--delete-files", "keep", flag_value="delete",
    help="Delete the backups made so far (server folder and instance WebDAV) and forget the backup password.",
)
def stop_backups(username: str, keep: str | None) -> None:
    """Stop a user's backups, keeping or deleting what was written: one of the two must be said."""
    prepare_database()
    if keep is None:
        raise click.UsageError("say what becomes of the backups made so far: --keep-files or --delete-files")
    user = user_named(username)
    plan = backup_plan.plan_of(user)
    if plan is None:
        raise click.ClickException(f"{user.username} has no backups to stop")
    if keep == "keep":
        backup_plan.stop_keeping_files(Vault(user, keyring()), plan)
        db.session.commit()
        click.echo(f"stopped {user.username}'s backups; the backups made so far are kept")
        return
    settings = BackupSettings.from_config(current_app.config)
    found = removal.stop_and_delete(user, settings)
    db.session.commit()
    if found is not None and removal.remove_local_now(found, settings):
        click.echo(f"stopped {user.username}'s backups and deleted the backups made so far")
    else:
        click.echo(f"stopped {user.username}'s backups; the rest of their backups go at the next `backups run --all`")


@backups_cli.command("resume")
@click.option("--user", "username", required=True, help="The user whose stopped backups start again.")
def resume_backups(username: str) -> None:
    """Start a user's stopped backups again, under the same backup password."""
    prepare_database()
    user = user_named(username)
    plan = backup_plan.plan_of(user)
    if plan is None:
        raise click.ClickException(f"{user.username} has no backup password: set one with `backups password`")
    backup_plan.resume(Vault(user, keyring()), plan)
    db.session.commit()
    click.echo(f"{user.username}'s backups run again")


def _removals(settings: BackupSettings) -> int:
    """Work through the owed removals; print each; returns how many failed (they stay owed)."""
    failed = 0
    for done in removal.run_pending(settings, utcnow()):
        whose = done.username or done.folder
        if done.error:
            click.echo(f"removing {whose}'s backups from {done.target}: failed, tried again next run: {done.error}",
                       err=True)
            failed += 1
        else:
            click.echo(f"removed {whose}'s backups from {done.target} ({done.files} files)")
    return failed


def _sweep(settings: BackupSettings, dry_run: bool = False) -> int:
    """Owe the removal of orphaned folders (printed); returns 1 if the WebDAV target could not be listed."""
    orphans = sweep.find(settings)
    for target, names in (("folder", orphans.folder), ("instance-webdav", orphans.instance_webdav)):
        for name in names:
            click.echo(f"orphaned backup folder {name} on {target}{' (dry run: kept)' if dry_run else ''}")
    if orphans.error:
        click.echo(f"could not list the instance WebDAV target: {orphans.error}", err=True)
    if not dry_run:
        sweep.owe_removals(settings, orphans)
    return 1 if orphans.error else 0


@backups_cli.command("sweep")
@click.option("--dry-run", is_flag=True, help="List the orphaned folders, remove nothing.")
def sweep_backups(dry_run: bool) -> None:
    """Remove backup folders of users that no longer exist (and owed removals); exit 1 if any failed."""
    prepare_database()
    settings = BackupSettings.from_config(current_app.config)
    failed = _sweep(settings, dry_run)
    if not dry_run:
        failed += _removals(settings)
    if failed:
        sys.exit(1)


@backups_cli.command("run")
@click.option("--user", "username", help="Back up one user.")
@click.option("--all", "run_all", is_flag=True, help="Every user with a backup password (for cron or the timer).")
def run_backups(username: str | None, run_all: bool) -> None:
    """Write a backup for each user whose vault changed since their last one; exit 1 if any failed."""
    prepare_database()
    if bool(username) == run_all:
        raise click.UsageError("give either --user NAME or --all")
    settings = BackupSettings.from_config(current_app.config)
    # Names read now: a user deleted during the run is not there to ask any more.
    chosen = planned_users() if run_all else [user_named(username or "")]
    targets = [(user, user.id, user.username) for user in chosen]
    failed = 0
    for user, user_id, name in targets:
        try:
            outcome = backup_user(user, keyring(), settings, utcnow())
        except Exception:
            # One user's unexpected failure must not cost everyone else their backup.
            db.session.rollback()
            log.exception("backup of user %s failed", user_id)
            click.echo(f"{name}: failed: unexpected error (see the log)", err=True)
            failed += 1
            continue
        if outcome.result == "deleted":
            click.echo(f"{name}: deleted meanwhile, nothing kept")
            continue
        if outcome.result == "stopped":
            click.echo(f"{name}: backups stopped, nothing written")
            continue
        if outcome.result == "no-password":
            raise click.ClickException(f"{name} has no backup password: set one with `backups password`")
        if outcome.result == "written":
            click.echo(f"{name}: wrote {outcome.file} ({outcome.accounts} accounts, {outcome.size} bytes)")
        elif outcome.result == "unchanged":
            click.echo(f"{name}: unchanged since {outcome.file}")
        if outcome.error:
            click.echo(f"{name}: failed: {outcome.error}", err=True)
            failed += 1
    if run_all:
        # After the backups, so a slow WebDAV server never delays anyone's backup.
        failed += _sweep(settings) + _removals(settings)
    if failed:
        sys.exit(1)


@backups_cli.command("status")
@click.option("--user", "username", required=True)
def backup_status(username: str) -> None:
    """A user's backups: the last one, the next one, the last failure."""
    prepare_database()
    status = status_of(user_named(username), BackupSettings.from_config(current_app.config))
    if not status.has_password:
        click.echo("no backup password: no backups")
        return
    if status.stopped_at:
        click.echo(f"stopped since {status.stopped_at} (the backups made so far are kept)")
    click.echo(f"last backup: {status.last_backup_at or 'none yet'} {status.latest or ''}".rstrip())
    click.echo(f"next backup: around {status.next_at or 'the next scheduled run'}")
    if status.failure:
        click.echo(f"last failure ({status.failure_at}): {status.failure}")


def _database_file() -> Path:
    url = current_app.config["SQLALCHEMY_DATABASE_URI"]
    path = instance_backup.sqlite_path(url)
    if path is None:
        raise click.ClickException(
            "the database is not SQLite: back it up with PostgreSQL's own tool, e.g. "
            "`pg_dump --format=custom --file=webauth.dump DATABASE_URL`, and keep the keyring "
            "(keyring.json or WEBAUTH_KEYS) apart from it (docs/operations.md#backups)"
        )
    return path


@backup_cli.command("instance")
@with_appcontext
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="The file to write.")
def backup_instance(out: Path) -> None:
    """Write the database (a consistent snapshot) and the keyring to OUT, encrypted with a passphrase
    read from standard input. Keep the passphrase apart from the file."""
    database = _database_file()
    passphrase = read_password()
    if out.exists():
        raise click.ClickException(f"{out} exists already: choose a new file")
    try:
        data = instance_backup.write_backup(database, keyring().to_json(), passphrase)
    except KeyringError as error:
        raise click.ClickException(f"nothing written: {error}") from None
    except instance_backup.InstanceBackupError as error:
        raise click.ClickException(str(error)) from None
    try:
        # Never over a file that appeared meanwhile (another operator's run to the same name).
        instance_backup.write_private(out, data, replace=False)
    except FileExistsError:
        raise click.ClickException(f"{out} exists already: choose a new file") from None
    except OSError as error:
        raise click.ClickException(f"nothing written: {error.strerror or error}") from None
    click.echo(f"wrote {out} ({len(data)} bytes): the database and the keyring, encrypted")


@restore_cli.command("instance")
@with_appcontext
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path))
def restore_instance(file: Path) -> None:
    """Restore FILE (from `flask backup instance`) into this empty instance folder; the passphrase
    is read from standard input."""
    database = _database_file()
    passphrase = read_password()
    db.engine.dispose()  # this process's own connections to the empty database, before it is replaced
    try:
        restored = instance_backup.restore(file.read_bytes(), passphrase, Path(current_app.instance_path), database)
    except instance_backup.InstanceBackupError as error:
        raise click.ClickException(f"nothing restored: {error}") from None
    click.echo(f"restored the database into {restored.database} and the keyring into {restored.keyring}")
    click.echo(f"(backup made {restored.manifest.get('created')}); start the app, it applies any newer migration")
    if current_app.config["WEBAUTH_KEYS"]:
        click.echo(
            "WEBAUTH_KEYS is set, so the app ignores keyring.json: put its contents in WEBAUTH_KEYS", err=True
        )
