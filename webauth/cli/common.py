"""What every command needs: the database brought up to date, and a user named on the command line."""

from __future__ import annotations

import sys

import click
from flask_migrate import upgrade

from webauth import users
from webauth.models import User


def prepare_database() -> None:
    upgrade(revision="heads")


def user_named(username: str) -> User:
    user = users.find_user(username)
    if user is None:
        raise click.ClickException(f"no user named {username!r}")
    return user


def read_password() -> str:
    """A password from the first line of standard input (never an argument: those show in `ps`)."""
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise click.ClickException("no password on standard input")
    return password
