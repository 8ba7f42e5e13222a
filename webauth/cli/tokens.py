"""`flask tokens create | list | revoke`: a user's personal access tokens for the API (docs/api.md)."""

from __future__ import annotations

import json
from datetime import datetime

import click
from flask.cli import AppGroup

from webauth import tokens
from webauth.cli.common import prepare_database, user_named
from webauth.extensions import db

tokens_cli = AppGroup("tokens", help="Manage a user's personal access tokens for the API.")


@tokens_cli.command("create")
@click.option("--user", "username", required=True, help="The user the token acts for.")
@click.option("--name", required=True, help="A name that says where the token is used (unique per user).")
@click.option("--read-only", is_flag=True, help="Read accounts and codes only; no changes.")
@click.option("--days", type=int, default=tokens.DEFAULT_DAYS, show_default=True, help="Days until it expires.")
def create_token(username: str, name: str, read_only: bool, days: int) -> None:
    """Make a token; it is printed once, on the last line, and stored only as a hash."""
    prepare_database()
    user = user_named(username)
    try:
        token, raw = tokens.create(user, name, scope="read" if read_only else "write", days=days)
    except tokens.TokenError as error:
        raise click.ClickException(error.message) from None
    db.session.commit()
    click.echo(f"created {token.scope} token {token.name!r} for {user.username}, expiring {_moment(token.expires_at)}")
    click.echo("it is shown this once:")
    click.echo(raw)


@tokens_cli.command("list")
@click.option("--user", "username", required=True, help="The user whose tokens to list.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
def list_tokens(username: str, as_json: bool) -> None:
    """The user's tokens: name, scope, expiry and last use (never the tokens themselves)."""
    prepare_database()
    found = tokens.tokens_of(user_named(username))
    if as_json:
        rows = [
            {
                "name": token.name,
                "scope": token.scope,
                "created_at": token.created_at.isoformat(),
                "expires_at": token.expires_at.isoformat(),
                "expired": tokens.is_expired(token),
                "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
                "last_used_ip": token.last_used_ip or None,
            }
            for token in found
        ]
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for token in found:
        state = "expired" if tokens.is_expired(token) else f"expires {_moment(token.expires_at)}"
        used = "never used"
        if token.last_used_at is not None:
            used = f"last used {_moment(token.last_used_at)} from {token.last_used_ip}"
        click.echo(f"{token.name}  {token.scope:5}  {state}  {used}")


def _moment(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


@tokens_cli.command("revoke")
@click.option("--user", "username", required=True, help="The token's user.")
@click.option("--name", required=True, help="The token's name.")
def revoke_token(username: str, name: str) -> None:
    """Revoke a token: its next request is refused."""
    prepare_database()
    user = user_named(username)
    try:
        token = tokens.named(user, name)
    except (LookupError, tokens.TokenError):
        raise click.ClickException(f"{username} has no token named {name!r}") from None
    tokens.revoke(user, token, by="cli")
    db.session.commit()
    click.echo(f"revoked {name!r}")
