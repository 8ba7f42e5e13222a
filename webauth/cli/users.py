"""`flask users`: local users."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from webauth import users
from webauth.cli.common import prepare_database, user_named
from webauth.keys import keyring

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
    click.echo(f"created {'administrator' if user.is_admin else 'user'} {user.username}")


@users_cli.command("set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, required=True, help="Read the password from standard input.")
def set_user_password(username: str, password_stdin: bool) -> None:
    """Give a user a new password, read from standard input (e.g. one created by single sign-on)."""
    prepare_database()
    user = user_named(username)
    try:
        users.set_password(user, sys.stdin.readline().rstrip("\r\n"))
    except users.UserError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"set the password of {user.username}")
