"""`flask --app wsgi ...` command groups: users, accounts and keys.

Commands apply pending migrations first, so they work on a fresh instance folder. Errors
go to stderr with a non-zero exit; nothing here prints a secret.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext
from flask_migrate import upgrade

from webauth import admin, keyring, settings, users
from webauth.crypto import KeyringError
from webauth.doctor import doctor_command
from webauth.models import User
from webauth.otp import InvalidParameter, OtpType
from webauth.otpauth import parse_uri
from webauth.vault import AccountNotFound, DuplicateAccount, Vault

users_cli = AppGroup("users", help="Manage users.")
accounts_cli = AppGroup("accounts", help="Manage a user's accounts.")
keys_cli = AppGroup("keys", help="Manage the keyring that encrypts the vault.")
audit_cli = AppGroup("audit", help="Prune or export the audit log.")
settings_cli = AppGroup("settings", help="Show or change the values of the admin settings page.")


def register_cli(app: Flask) -> None:
    for group in (users_cli, accounts_cli, keys_cli, audit_cli, settings_cli):
        app.cli.add_command(group)
    app.cli.add_command(sync_command)
    app.cli.add_command(doctor_command)


def _prepare_database() -> None:
    upgrade(revision="heads")


def _user(username: str) -> User:
    user = users.find_user(username)
    if user is None:
        raise click.ClickException(f"no user named {username!r}")
    return user


@users_cli.command("create")
@click.argument("username")
@click.option("--admin", is_flag=True, help="Make the user an administrator.")
@click.option("--password-stdin", is_flag=True, required=True, help="Read the password from standard input.")
def create_user(username: str, admin: bool, password_stdin: bool) -> None:
    """Create a local user whose password is read from standard input."""
    _prepare_database()
    password = sys.stdin.readline().rstrip("\r\n")
    try:
        user = users.create_local_user(username, password, keyring(), is_admin=admin)
    except users.UserError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"created {'administrator' if user.is_admin else 'user'} {user.username}")


@users_cli.command("set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, required=True, help="Read the password from standard input.")
def set_user_password(username: str, password_stdin: bool) -> None:
    """Give a user a new password, read from standard input (e.g. one created by single sign-on)."""
    _prepare_database()
    user = _user(username)
    try:
        users.set_password(user, sys.stdin.readline().rstrip("\r\n"))
    except users.UserError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"set the password of {user.username}")


@accounts_cli.command("add")
@click.option("--user", "username", required=True, help="The user whose vault gets the account.")
@click.argument("uri")
def add_account(username: str, uri: str) -> None:
    """Add an account from an otpauth:// URI."""
    _prepare_database()
    vault = Vault(_user(username), keyring())
    try:
        account = vault.add(parse_uri(uri), source="cli")
    except InvalidParameter as error:
        raise click.ClickException(f"cannot add this URI: {error}") from None
    except DuplicateAccount as duplicate:
        raise click.ClickException(f"already in the vault as account {duplicate.existing.uuid}") from None
    click.echo(account.uuid)


@accounts_cli.command("list")
@click.option("--user", "username", required=True, help="The user whose accounts to list.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
def list_accounts(username: str, as_json: bool) -> None:
    """List accounts with their current codes (never their secrets)."""
    _prepare_database()
    vault = Vault(_user(username), keyring())
    now = time.time()
    rows = []
    for view in vault.codes(vault.accounts(), at=now):
        account = view.account
        row: dict[str, object] = {
            "id": account.uuid,
            "type": account.type,
            "issuer": account.issuer,
            "name": account.name,
            "algorithm": account.algorithm,
            "digits": account.digits,
            "groups": [group.name for group in account.groups],
            "favorite": account.favorite,
            "note": account.note,
        }
        if account.type == OtpType.HOTP.value:
            row["counter"] = account.counter
        else:
            row["period"] = account.period
            row["code"] = view.code
            row["remaining"] = round(view.remaining, 3)
        rows.append(row)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        label = f"{row['issuer']}: {row['name']}" if row["issuer"] else row["name"]
        shown = row.get("code", f"counter {row.get('counter')}")
        click.echo(f"{row['id']}  {row['type']:5}  {shown:>10}  {label}")


@accounts_cli.command("rm")
@click.option("--user", "username", required=True)
@click.argument("account_id")
def remove_account(username: str, account_id: str) -> None:
    """Move an account to the trash."""
    _prepare_database()
    try:
        Vault(_user(username), keyring()).delete(account_id)
    except AccountNotFound:
        raise click.ClickException(f"{username} has no account {account_id}") from None
    click.echo(f"moved {account_id} to the trash")


@keys_cli.command("list")
def list_keys() -> None:
    """The key-encryption keys and how many users' data keys each wraps."""
    _prepare_database()
    ring = keyring()
    counts = users.users_by_key()
    for kek_id in sorted(ring.keys):
        marker = "primary" if kek_id == ring.primary else ""
        click.echo(f"{kek_id:6} {counts.get(kek_id, 0):6} users  {marker}")


@keys_cli.command("rotate")
def rotate_keys() -> None:
    """Add a new primary key and rewrap every user's data key under it, online."""
    _prepare_database()
    ring = keyring()
    try:
        if ring.path is None:
            raise KeyringError(
                "WEBAUTH_KEYS is set: add a new key to it, make it the primary, restart, then run `keys rewrap`"
            )
        kek_id = ring.add_primary()
        ring.save()
    except KeyringError as error:
        raise click.ClickException(str(error)) from None
    changed = users.rewrap_data_keys(ring)
    click.echo(f"new primary key {kek_id}; rewrapped {changed} data keys")


@keys_cli.command("rewrap")
def rewrap_keys() -> None:
    """Rewrap data keys that are not under the primary key (after editing WEBAUTH_KEYS)."""
    _prepare_database()
    click.echo(f"rewrapped {users.rewrap_data_keys(keyring())} data keys")


@keys_cli.command("retire")
@click.argument("kek_id")
def retire_key(kek_id: str) -> None:
    """Remove a key that no data key needs any more."""
    _prepare_database()
    ring = keyring()
    in_use = users.users_by_key().get(kek_id, 0)
    if in_use:
        raise click.ClickException(f"{in_use} users' data keys are still wrapped under {kek_id}; run `keys rewrap`")
    try:
        ring.retire(kek_id)
        ring.save()
    except KeyringError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"retired key {kek_id}")


@audit_cli.command("prune")
@click.option(
    "--days", type=click.IntRange(min=1), help="Keep this many days instead of WEBAUTH_AUDIT_RETENTION_DAYS."
)
def prune_audit(days: int | None) -> None:
    """Delete audit events older than the retention period, and sessions that ended before it."""
    _prepare_database()
    result = admin.prune(days)
    if result is None:
        click.echo("WEBAUTH_AUDIT_RETENTION_DAYS is 0: the audit log is kept forever, nothing pruned")
        return
    click.echo(
        f"deleted {result.events} audit events and {result.sessions} ended sessions "
        f"from before {result.cutoff:%Y-%m-%d %H:%M} UTC"
    )


@audit_cli.command("export")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="The CSV file to write.")
@click.option("--user", "username", default="", help="Only events whose user or actor name contains this.")
@click.option("--event", default="", help="Only this event type, or a family such as signin.*")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="From this day (UTC).")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="To this day (UTC), included.")
def export_audit(out: Path, username: str, event: str, since: datetime | None, until: datetime | None) -> None:
    """Write the audit log (or the events matching the filters) as CSV, readable by its owner only."""
    _prepare_database()
    try:
        filters = admin.AuditFilter(
            user=username, event=event, since=since.date() if since else None, until=until.date() if until else None
        )
    except admin.AdminError as error:
        raise click.ClickException(error.message) from None
    admin.record_export(filters, "cli")
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", newline="", encoding="utf-8") as handle:
        for chunk in admin.audit_csv(filters):
            handle.write(chunk)
    click.echo(f"wrote {out}")


@click.command("sync")
@with_appcontext
@click.option("--user", "user_id", metavar="OWNER/NAME", help="The Casdoor user (or the username here) to sync.")
@click.option("--all", "sync_all", is_flag=True, help="Every user connected to Casdoor (for cron).")
@click.option("--force", is_flag=True, help="With --all: also users still waiting after a failed sync.")
def sync_command(user_id: str | None, sync_all: bool, force: bool) -> None:
    """Sync vaults with Casdoor's mfaAccounts, with the stored refresh tokens; exit 1 if any sync failed."""
    from webauth.casdoor import oidc
    from webauth.casdoor import sync as casdoor_sync

    _prepare_database()
    if not oidc.configured():
        raise click.ClickException("Casdoor is not configured: set WEBAUTH_CASDOOR_URL and WEBAUTH_CASDOOR_CLIENT_ID")
    if bool(user_id) == sync_all:
        raise click.UsageError("give either --user OWNER/NAME or --all")
    if sync_all:
        targets = casdoor_sync.linked_users()
    else:
        found = casdoor_sync.find_linked_user(user_id) or users.find_user(user_id)
        if found is None or casdoor_sync.link_of(found) is None:
            raise click.ClickException(f"no user connected to Casdoor as {user_id!r}")
        targets = [found]
    failed = 0
    for target in targets:
        label = casdoor_sync.link_of(target).casdoor_id
        report = casdoor_sync.sync_user(
            target, casdoor_sync.Trigger.CLI, force=force or not sync_all, wait=casdoor_sync.CLI_WAIT_SECONDS
        )
        if report.outcome is casdoor_sync.Outcome.WAITING:
            click.echo(f"{label}: skipped, waiting to retry after a failure (--force syncs it now)")
            continue
        click.echo(f"{label}: {report.message}")
        failed += report.outcome is casdoor_sync.Outcome.FAILED
    if failed:
        sys.exit(1)


@settings_cli.command("show")
def show_settings() -> None:
    """The value in force of each setting."""
    _prepare_database()
    for name, value in settings.all_settings().items():
        click.echo(f"{name:20} {str(value).lower()}")


_SWITCH_WORDS = {"on": True, "true": True, "yes": True, "1": True}
_SWITCH_WORDS |= {"off": False, "false": False, "no": False, "0": False}


@settings_cli.command("set")
@click.argument("name", type=click.Choice(sorted(settings.SPECS)))
@click.argument("value")
def set_setting(name: str, value: str) -> None:
    """Change a setting as the settings page would (also a way back in if a switch locked you out)."""
    _prepare_database()
    parsed: bool | int
    if settings.SPECS[name].kind is bool:
        if value.lower() not in _SWITCH_WORDS:
            raise click.ClickException(f"{name} is on or off, not {value!r}")
        parsed = _SWITCH_WORDS[value.lower()]
    else:
        try:
            parsed = int(value)
        except ValueError:
            raise click.ClickException(f"{name} is a whole number, not {value!r}") from None
    try:
        changed = settings.update_settings({name: parsed})
    except settings.SettingError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"{name} = {str(parsed).lower()}" if changed else f"{name} was already {str(parsed).lower()}")


# `accounts import` and `accounts export` live with the transfer formats; importing them registers them.
from webauth.transfer import cli as _transfer_cli  # noqa: E402, F401
