"""What the migrations (migrations/env.py and versions/) need from the app: one at a time, and
no downgrade that drops people's data without being told to.

Every command applies the pending migrations first (cli/common.py), so two commands started
at once on a fresh database would both create the same tables. `run_locked` runs the whole
upgrade or downgrade in one transaction holding the lock "migrations" (locking.py): the
second waits, then finds the schema up to date. Both databases undo DDL with the transaction,
so a failed or refused migration leaves the schema as it was.

A downgrade step that drops a table says so first with `dropping(...)`, which counts the
rows it would lose (`dropping_rows` for rows it deletes because the older schema cannot hold
them). After the steps ran, still inside the transaction, a downgrade that
dropped rows is rolled back unless `--force` was given (`flask db downgrade --force`, which
passes `-x force=1`), with a message that says what it would drop.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import click
from sqlalchemy import func, select, table
from sqlalchemy.engine import Connection

from webauth.locking import hold_transaction_lock

_DROPPED = "webauth.dropped"


class LossyDowngrade(click.ClickException):
    """A downgrade would drop rows of people's data and was not forced."""


def run_locked(connection: Connection, context, run: Callable[[], None]) -> None:
    """Run the migrations in one transaction under the migrations lock; refuse a lossy downgrade."""
    context.config.attributes[_DROPPED] = []
    with connection.begin():
        hold_transaction_lock(connection, "migrations")
        run()
        dropped = [(name, rows) for name, rows in context.config.attributes[_DROPPED] if rows]
        forced = context.get_x_argument(as_dictionary=True).get("force", "") in ("1", "true", "yes")
        if dropped and not forced:
            what = ", ".join(f"{name} ({rows} row{'s' if rows != 1 else ''})" for name, rows in dropped)
            raise LossyDowngrade(
                f"this downgrade would drop {what}; nothing was changed. Back up the database, then run it "
                "again with --force to drop them"
            )


def dropping(*tables: str) -> None:
    """Called by a downgrade step before it drops `tables`: counts what they hold."""
    from alembic import op

    bind = op.get_bind()
    for name in tables:
        dropping_rows(name, bind.scalar(select(func.count()).select_from(table(name))) or 0)


def dropping_rows(what: str, rows: int) -> None:
    """Called by a downgrade step before it deletes `rows` the older schema cannot hold (`what`
    names them, as the refusal will): counted like the rows of a dropped table."""
    from alembic import context

    context.config.attributes.setdefault(_DROPPED, []).append((what, rows))


def add_force_option(downgrade: click.Command) -> None:
    """Give Flask-Migrate's `flask db downgrade` a `--force` flag (passed to env.py as `-x force=1`)."""
    if any(param.name == "force" for param in downgrade.params) or downgrade.callback is None:
        return
    downgrade.params.append(click.Option(
        ["--force"], is_flag=True, help="Drop tables that hold data (groups, settings...) all the same."
    ))
    callback = downgrade.callback

    @functools.wraps(callback)
    def forced(*args, force: bool = False, x_arg=(), **kwargs):
        return callback(*args, x_arg=[*x_arg, "force=1"] if force else list(x_arg), **kwargs)

    downgrade.callback = forced
