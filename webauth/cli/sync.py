"""`flask sync`: the Casdoor sync from the command line or cron, with the stored refresh tokens."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from webauth import users
from webauth.casdoor import oidc
from webauth.casdoor import sync as casdoor_sync
from webauth.casdoor.status import Outcome
from webauth.cli.common import prepare_database


@click.command("sync")
@with_appcontext
@click.option("--user", "user_id", metavar="OWNER/NAME", help="The Casdoor user (or the username here) to sync.")
@click.option("--all", "sync_all", is_flag=True, help="Every user connected to Casdoor (for cron).")
@click.option("--force", is_flag=True, help="With --all: also users still waiting after a failed sync.")
def sync_command(user_id: str | None, sync_all: bool, force: bool) -> None:
    """Sync vaults with Casdoor's mfaAccounts, with the stored refresh tokens; exit 1 if any sync failed."""
    prepare_database()
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
        if report.outcome is Outcome.WAITING:
            click.echo(f"{label}: skipped, waiting to retry after a failure (--force syncs it now)")
            continue
        click.echo(f"{label}: {report.message}")
        failed += report.outcome is Outcome.FAILED
    if failed:
        sys.exit(1)
