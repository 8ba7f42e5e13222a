"""`flask accounts add | list | rm`: one user's accounts, through the vault like the pages."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from webauth import clock
from webauth.cli.common import prepare_database, read_stdin_line, user_named
from webauth.extensions import db
from webauth.keys import keyring
from webauth.listing import ListQuery
from webauth.otp import PIN_TYPES, InvalidParameter
from webauth.otpauth import AccountSpec, parse_uri, with_pin
from webauth.sharing.received import Received
from webauth.vault import AccountNotFound, DuplicateAccount, Vault

accounts_cli = AppGroup("accounts", help="Manage a user's accounts.")


@accounts_cli.command("add")
@click.option("--user", "username", required=True, help="The user whose vault gets the account.")
@click.option(
    "--pin-stdin",
    is_flag=True,
    help="Read the PIN of an mOTP or Yandex account from standard input (an mOTP link never holds it).",
)
@click.argument("uri")
def add_account(username: str, pin_stdin: bool, uri: str) -> None:
    """Add an account from an otpauth:// (or motp://) URI."""
    prepare_database()
    vault = Vault(user_named(username), keyring())
    try:
        spec = _with_pin(parse_uri(uri), pin_stdin)
        account = vault.add(spec, source="cli")
    except InvalidParameter as error:
        raise click.ClickException(f"cannot add this URI: {error}") from None
    except DuplicateAccount as duplicate:
        raise click.ClickException(f"already in the vault as account {duplicate.existing.uuid}") from None
    db.session.commit()
    click.echo(account.uuid)


def _with_pin(spec: AccountSpec, pin_stdin: bool) -> AccountSpec:
    """The spec with the PIN read from standard input when the link has none (never from an
    argument, which other users of the machine can read in the process list)."""
    params = spec.params
    if not pin_stdin:
        if params.needs_pin:
            raise click.ClickException(
                f"this {params.type.value} link holds no PIN: give it on standard input with --pin-stdin"
            )
        return spec
    if params.type not in PIN_TYPES:
        raise click.ClickException(f"a {params.type.value} account has no PIN: leave out --pin-stdin")
    if params.pin is not None:
        raise click.ClickException("this link holds its own PIN: leave out --pin-stdin")
    return with_pin(spec, read_stdin_line("PIN"))


@accounts_cli.command("list")
@click.option("--user", "username", required=True, help="The user whose accounts to list.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
def list_accounts(username: str, as_json: bool) -> None:
    """List accounts with their current codes (never their secrets), those shared with the user
    too (with `shared_by`, the owner's user name)."""
    prepare_database()
    vault = Vault(user_named(username), keyring())
    now = clock.now()
    rows = [view.as_row(hotp_code=False) for view in vault.codes(vault.accounts(), at=now)]
    rows.extend(view.as_row() for view in Received(vault.user, keyring()).views(ListQuery(), at=now))
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        label = f"{row['issuer']}: {row['name']}" if row["issuer"] else row["name"]
        shown = row.get("code", f"counter {row.get('counter')}")
        shared = f"  (shared by {row['shared_by']})" if "shared_by" in row else ""
        click.echo(f"{row['id']}  {row['type']:5}  {shown:>10}  {label}{shared}")


@accounts_cli.command("rm")
@click.option("--user", "username", required=True)
@click.argument("account_id")
def remove_account(username: str, account_id: str) -> None:
    """Move an account to the trash."""
    prepare_database()
    try:
        Vault(user_named(username), keyring()).delete(account_id)
    except AccountNotFound:
        raise click.ClickException(f"{username} has no account {account_id}") from None
    db.session.commit()
    click.echo(f"moved {account_id} to the trash")
