"""`flask accounts share | unshare | shares` and `flask teams create | delete | add | remove | list`.

Sharing goes through the same domain as the account's page (sharing/rules.py, teams.py): the
owner's account is read from the owner's `Vault`, and nothing here prints a secret or a code.
"""

from __future__ import annotations

import click
from flask.cli import AppGroup

from webauth.cli.common import prepare_database, user_named
from webauth.extensions import db
from webauth.keys import keyring
from webauth.models import Account
from webauth.sharing import oversight, rules, teams
from webauth.vault import AccountNotFound, Vault

teams_cli = AppGroup("teams", help="Manage the local teams accounts can be shared with.")


def _recipient(username: str | None, group: str | None) -> dict[str, str | None]:
    if bool(username) == bool(group):
        raise click.UsageError("give exactly one of --with USERNAME and --with-group NAME")
    return {"username": username, "group": group}


def _owned(owner: str, account_id: str) -> tuple[Vault, Account]:
    vault = Vault(user_named(owner), keyring())
    try:
        return vault, vault.get(account_id)
    except AccountNotFound:
        raise click.ClickException(f"{owner} has no account {account_id}") from None


def register_sharing_commands(accounts: click.Group) -> None:
    """Add `share`, `unshare` and `shares` to `flask accounts`."""

    @accounts.command("share")
    @click.option("--user", "owner", required=True, help="The owner of the account.")
    @click.option("--with", "username", help="The user to share with.")
    @click.option("--with-group", "group", help="The local team or Casdoor group to share with.")
    @click.option("--allow-hotp-next", is_flag=True, help="Let them move an HOTP account to its next code.")
    @click.argument("account_id")
    def share(owner: str, username: str | None, group: str | None, allow_hotp_next: bool, account_id: str) -> None:
        """Share an account's codes (never its secret) with a user or a group."""
        prepare_database()
        target = _recipient(username, group)
        vault, account = _owned(owner, account_id)
        try:
            _share, new = rules.share(vault.user, account, allow_hotp_next=allow_hotp_next, **target)
        except rules.ShareError as error:
            raise click.ClickException(str(error)) from None
        db.session.commit()
        name = username or group
        click.echo(f"shared {account_id} with {name}" if new else f"{account_id} was shared with {name} already")

    @accounts.command("unshare")
    @click.option("--user", "owner", required=True, help="The owner of the account.")
    @click.option("--with", "username", help="The user who loses access.")
    @click.option("--with-group", "group", help="The local team or Casdoor group that loses access.")
    @click.argument("account_id")
    def unshare(owner: str, username: str | None, group: str | None, account_id: str) -> None:
        """End the share of an account with a user or a group."""
        prepare_database()
        target = _recipient(username, group)
        vault, account = _owned(owner, account_id)
        try:
            ended = rules.unshare(vault.user, account, **target)
        except rules.ShareError as error:
            raise click.ClickException(str(error)) from None
        if not ended:
            raise click.ClickException(f"{account_id} is not shared with {username or group}")
        db.session.commit()
        click.echo(f"{username or group} no longer has access to {account_id}")

    @accounts.command("shares")
    @click.option("--user", "owner", required=True, help="The owner of the account.")
    @click.argument("account_id", required=False)
    def shares(owner: str, account_id: str | None) -> None:
        """Who has access to an account: one line per user, team or Casdoor group. Without an
        account, every share of the owner's accounts (an administrator's view; `unshare` ends one)."""
        prepare_database()
        if account_id is None:
            for row in oversight.shares_made(user_named(owner)):
                recipient = row.recipient
                click.echo(f"{row.account_uuid}  {recipient.kind:5}  {recipient.name}  {row.label}")
            return
        _vault, account = _owned(owner, account_id)
        for recipient in rules.recipients(account):
            extra = "  may use the next code" if recipient.allow_hotp_next else ""
            click.echo(f"{recipient.kind:5}  {recipient.name}{extra}")


def _team_call(action, *args) -> None:
    try:
        action(*args)
    except teams.TeamError as error:
        raise click.ClickException(str(error)) from None


@teams_cli.command("list")
def list_teams() -> None:
    """Every team with its members."""
    prepare_database(need_keys=False)
    for team in teams.teams():
        click.echo(f"{team.name}: {', '.join(team.members) or '(no members)'}")


@teams_cli.command("create")
@click.argument("name")
def create_team(name: str) -> None:
    """Make a team."""
    prepare_database(need_keys=False)
    _team_call(teams.create_team, name)
    db.session.commit()
    click.echo(f"created the team {teams.clean_team_name(name)}")


@teams_cli.command("delete")
@click.argument("name")
def delete_team(name: str) -> None:
    """Remove a team; the accounts shared with it are no longer shared with its members."""
    prepare_database(need_keys=False)
    _team_call(teams.delete_team, name)
    db.session.commit()
    click.echo(f"deleted the team {name}")


@teams_cli.command("add")
@click.argument("name")
@click.argument("usernames", nargs=-1, required=True)
def add_members(name: str, usernames: tuple[str, ...]) -> None:
    """Put users in a team."""
    prepare_database(need_keys=False)
    members = [user_named(username) for username in usernames]
    for member in members:
        try:
            added = teams.add_member(name, member)
        except teams.TeamError as error:
            raise click.ClickException(str(error)) from None
        click.echo(f"added {member.username} to {name}" if added else f"{member.username} is in {name} already")
    db.session.commit()


@teams_cli.command("remove")
@click.argument("name")
@click.argument("usernames", nargs=-1, required=True)
def remove_members(name: str, usernames: tuple[str, ...]) -> None:
    """Take users out of a team."""
    prepare_database(need_keys=False)
    members = [user_named(username) for username in usernames]
    for member in members:
        try:
            removed = teams.remove_member(name, member)
        except teams.TeamError as error:
            raise click.ClickException(str(error)) from None
        click.echo(f"removed {member.username} from {name}" if removed else f"{member.username} was not in {name}")
    db.session.commit()
