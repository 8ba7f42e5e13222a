"""`flask keys`: the keyring that encrypts the vault (see crypto.py, and docs/operations.md for rotation)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from webauth import users
from webauth.cli.common import prepare_database
from webauth.crypto import KeyringError
from webauth.keys import keyring

keys_cli = AppGroup("keys", help="Manage the keyring that encrypts the vault.")


@keys_cli.command("list")
def list_keys() -> None:
    """The key-encryption keys and how many users' data keys each wraps."""
    prepare_database()
    ring = keyring()
    counts = users.users_by_key()
    for kek_id in sorted(ring.keys):
        marker = "primary" if kek_id == ring.primary else ""
        click.echo(f"{kek_id:6} {counts.get(kek_id, 0):6} users  {marker}")


@keys_cli.command("rotate")
def rotate_keys() -> None:
    """Add a new primary key and rewrap every user's data key under it, online."""
    prepare_database()
    ring = keyring()
    try:
        if ring.path is None:
            raise KeyringError(
                "WEBAUTH_KEYS is set: add a new key to it, make it the primary, restart, then run `keys rewrap`"
            )
        kek_id = ring.add_primary()
        ring.save()
    except KeyringError as error:
        raise click.ClickException(str(error)) from None
    changed = users.rewrap_data_keys(ring)
    click.echo(f"new primary key {kek_id}; rewrapped {changed} data keys")


@keys_cli.command("rewrap")
def rewrap_keys() -> None:
    """Rewrap data keys that are not under the primary key (after editing WEBAUTH_KEYS)."""
    prepare_database()
    click.echo(f"rewrapped {users.rewrap_data_keys(keyring())} data keys")


@keys_cli.command("retire")
@click.argument("kek_id")
def retire_key(kek_id: str) -> None:
    """Remove a key that no data key needs any more."""
    prepare_database()
    ring = keyring()
    in_use = users.users_by_key().get(kek_id, 0)
    if in_use:
        raise click.ClickException(f"{in_use} users' data keys are still wrapped under {kek_id}; run `keys rewrap`")
    try:
        ring.retire(kek_id)
        ring.save()
    except KeyringError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"retired key {kek_id}")
