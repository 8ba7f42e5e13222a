"""`flask audit prune | export`: the audit log's retention and its CSV export."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import click
from flask.cli import AppGroup

from webauth import admin
from webauth.cli.common import prepare_database
from webauth.extensions import db

audit_cli = AppGroup("audit", help="Prune or export the audit log.")


@audit_cli.command("prune")
@click.option(
    "--days", type=click.IntRange(min=1), help="Keep this many days instead of WEBAUTH_AUDIT_RETENTION_DAYS."
)
def prune_audit(days: int | None) -> None:
    """Delete audit events older than the retention period, and sessions that ended before it."""
    prepare_database()
    result = admin.prune(days)
    db.session.commit()
    if result is None:
        click.echo("WEBAUTH_AUDIT_RETENTION_DAYS is 0: the audit log is kept forever, nothing pruned")
        return
    click.echo(
        f"deleted {result.events} audit events and {result.sessions} ended sessions "
        f"from before {result.cutoff:%Y-%m-%d %H:%M} UTC"
    )


@audit_cli.command("export")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="The CSV file to write.")
@click.option("--user", "username", default="", help="Only events whose user or actor name contains this.")
@click.option("--event", default="", help="Only this event type, or a family such as signin.*")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="From this day (UTC).")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="To this day (UTC), included.")
def export_audit(out: Path, username: str, event: str, since: datetime | None, until: datetime | None) -> None:
    """Write the audit log (or the events matching the filters) as CSV, readable by its owner only."""
    prepare_database()
    try:
        filters = admin.AuditFilter(
            user=username, event=event, since=since.date() if since else None, until=until.date() if until else None
        )
    except admin.AdminError as error:
        raise click.ClickException(error.message) from None
    admin.record_export(filters, "cli")
    db.session.commit()
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", newline="", encoding="utf-8") as handle:
        for chunk in admin.audit_csv(filters):
            handle.write(chunk)
    click.echo(f"wrote {out}")
