"""`flask --app wsgi ...` command groups: users, accounts and keys.

Commands apply pending migrations first, so they work on a fresh instance folder. Errors
go to stderr with a non-zero exit; nothing here prints a secret.
"""

from __future__ import annotations

import json
import sys
import time

import click
from flask import Flask
from flask.cli import AppGroup
from flask_migrate import upgrade

from webauth import keyring, users
from webauth.crypto import KeyringError
from webauth.models import User
from webauth.otp import InvalidParameter, OtpType
from webauth.otpauth import parse_uri
from webauth.vault import AccountNotFound, DuplicateAccount, Vault

users_cli = AppGroup("users", help="Manage users.")
accounts_cli = AppGroup("accounts", help="Manage a user's accounts.")
keys_cli = AppGroup("keys", help="Manage the keyring that encrypts the vault.")


def register_cli(app: Flask) -> None:
    for group in (users_cli, accounts_cli, keys_cli):
        app.cli.add_command(group)


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
