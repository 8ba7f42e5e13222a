"""What every command needs: the database brought up to date, keys that open it, and a user named
on the command line."""

from __future__ import annotations

import sys

import click
from flask_migrate import upgrade

from webauth import keys, users
from webauth.models import User


def prepare_database(*, need_keys: bool = True) -> None:
    """Apply pending migrations (one process at a time: migrating.py), then refuse to go on,
    with the reason, when the keyring cannot open the users' data keys (keys.py). Commands
    that help to recover (`keys list`) pass `need_keys=False`; `db` and `doctor` never call this."""
    upgrade(revision="heads")
    if need_keys:
        problem = keys.keyring_problem()
        if problem:
            raise click.ClickException(f"webauth cannot open the vaults: {problem}")


def user_named(username: str) -> User:
    user = users.find_user(username)
    if user is None:
        raise click.ClickException(f"no user named {username!r}")
    return user


def read_password() -> str:
    """A password from the first line of standard input (never an argument: those show in `ps`)."""
    return read_stdin_line("password")


def read_stdin_line(what: str) -> str:
    """A secret (`what`: "password", "PIN") from the first line of standard input, never an argument."""
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise click.ClickException(f"no {what} on standard input")
    return line
