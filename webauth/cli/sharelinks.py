"""`flask accounts share-link | share-links | revoke-link`: share links from the command line
(docs/share-links.md). The link is printed once, as the page shows it once; the audit records
each command like the same action on the page."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from webauth.cli.common import prepare_database, user_named
from webauth.extensions import db
from webauth.keys import keyring
from webauth.models import Account
from webauth.sharelinks import links
from webauth.vault import AccountNotFound, Vault


def register_share_link_commands(group: AppGroup) -> None:
    group.add_command(share_link)
    group.add_command(share_links)
    group.add_command(revoke_link)


@click.command("share-link")
@with_appcontext
@click.option("--user", "username", required=True, help="The owner of the account.")
@click.option("--minutes", type=click.Choice(["2", "10", "60"]), default="10", show_default=True)
@click.option("--show-name", is_flag=True, help="Show the account name too, not only the issuer.")
@click.argument("account_id")
def share_link(username: str, minutes: str, show_name: bool, account_id: str) -> None:
    """Make a link that shows the account's live code for 2, 10 or 60 minutes, and print it."""
    prepare_database()
    vault = Vault(user_named(username), keyring())
    try:
        link, token = links.create(vault, account_id, int(minutes), show_name=show_name)
    except AccountNotFound:
        raise click.ClickException(f"{username} has no account {account_id}") from None
    except links.ShareLinkError as error:
        raise click.ClickException(error.message) from None
    db.session.commit()
    origin = current_app.config["WEBAUTH_PUBLIC_URL"]
    click.echo(f"{origin}/s#{token}")
    ends = link.expires_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    note = "" if origin else "; put your server's address before it (or set WEBAUTH_PUBLIC_URL)"
    click.echo(f"link {link.id}, until {ends}: shown only this once{note}", err=True)


@click.command("share-links")
@with_appcontext
@click.option("--user", "username", required=True)
def share_links(username: str) -> None:
    """List the user's running share links (never their tokens)."""
    prepare_database()
    user = user_named(username)
    for link in links.links_of(user):
        account = db.session.get(Account, link.account_id)
        label = (account.issuer or account.name) if account else "?"
        ends = link.expires_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        seen = link.last_view_at.strftime("%Y-%m-%d %H:%M:%S UTC") if link.last_view_at else "never"
        uuid = account.uuid if account else "?"
        click.echo(f"{link.id}  {uuid}  until {ends}  views {link.views}  last {seen}  {label}")


@click.command("revoke-link")
@with_appcontext
@click.option("--user", "username", required=True)
@click.argument("link_id", type=int)
def revoke_link(username: str, link_id: int) -> None:
    """End a share link now."""
    prepare_database()
    user = user_named(username)
    try:
        link = links.get(user, link_id)
    except LookupError:
        raise click.ClickException(f"{username} has no share link {link_id}") from None
    links.revoke(user, link, by="cli")
    db.session.commit()
    click.echo(f"revoked share link {link_id}")
