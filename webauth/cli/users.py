"""`flask users`: local users, and their passkeys."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from webauth import users
from webauth.cli.common import prepare_database, user_named
from webauth.extensions import db
from webauth.keys import keyring
from webauth.passkeys import credentials as passkeys

users_cli = AppGroup("users", help="Manage users.")


@users_cli.command("create")
@click.argument("username")
@click.option("--admin", is_flag=True, help="Make the user an administrator.")
@click.option("--password-stdin", is_flag=True, required=True, help="Read the password from standard input.")
def create_user(username: str, admin: bool, password_stdin: bool) -> None:
    """Create a local user whose password is read from standard input."""
    prepare_database()
    password = sys.stdin.readline().rstrip("\r\n")
    try:
        user = users.create_local_user(username, password, keyring(), is_admin=admin)
    except users.UserError as error:
        raise click.ClickException(error.message) from None
    db.session.commit()
    click.echo(f"created {'administrator' if user.is_admin else 'user'} {user.username}")


@users_cli.command("set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, required=True, help="Read the password from standard input.")
@click.option(
    "--force-change",
    is_flag=True,
    help="A reset: end the user's sessions and make them choose a new password at their next sign-in.",
)
def set_user_password(username: str, password_stdin: bool, force_change: bool) -> None:
    """Give a user a new password, read from standard input (e.g. one created by single sign-on).

    Without --force-change the password is the user's own and their sessions stay; with it,
    it is a reset, as from the admin console.
    """
    prepare_database()
    user = user_named(username)
    password = sys.stdin.readline().rstrip("\r\n")
    try:
        if force_change:
            ended = users.reset_password(user, password, by="cli")
        else:
            users.set_password(user, password)
    except users.UserError as error:
        raise click.ClickException(error.message) from None
    db.session.commit()
    if force_change:
        click.echo(
            f"reset the password of {user.username}: {ended} session(s) ended; a new one is due at the next sign-in"
        )
    else:
        click.echo(f"set the password of {user.username}")


@users_cli.command("passkeys")
@click.argument("username")
def list_passkeys(username: str) -> None:
    """List a user's passkeys: id, added, last used, name (never a key)."""
    prepare_database()
    user = user_named(username)
    for passkey in passkeys.user_passkeys(user):
        used = passkey.last_used_at.strftime("%Y-%m-%d %H:%M") if passkey.last_used_at else "never"
        click.echo(f"{passkey.uuid}  added {passkey.created_at:%Y-%m-%d %H:%M}  used {used}  {passkey.name}")
    click.echo(f"{user.username}: passkey only {'on' if user.passkey_only else 'off'}")


@users_cli.command("remove-passkey")
@click.argument("username")
@click.argument("passkey_id", required=False)
@click.option("--all", "remove_all", is_flag=True, help="Remove every passkey of the user.")
def remove_passkey(username: str, passkey_id: str | None, remove_all: bool) -> None:
    """Remove a user's passkey (or --all), e.g. after a lost phone; the last one turns "passkey only" off.

    The way back in for a "passkey only" user, an administrator among them, who lost every
    passkey: once they are removed, the password signs in again (`set-password` resets it).
    """
    prepare_database()
    user = user_named(username)
    if remove_all == (passkey_id is not None):
        raise click.UsageError("name one PASSKEY_ID (see `flask users passkeys`), or give --all")
    chosen = [passkey.uuid for passkey in passkeys.user_passkeys(user)] if remove_all else [passkey_id]
    turned_off = False
    for passkey_uuid in chosen:
        try:
            turned_off = passkeys.remove(user, passkey_uuid, event="admin.passkey.remove") or turned_off
        except passkeys.PasskeyError:
            raise click.ClickException(f"{user.username} has no passkey {passkey_uuid!r}") from None
    db.session.commit()
    click.echo(f"removed {len(chosen)} passkey{'s' if len(chosen) != 1 else ''} of {user.username}")
    if turned_off:
        click.echo(f"passkey only is off: the password of {user.username} signs in again")
