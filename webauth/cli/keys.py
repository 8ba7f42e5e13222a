"""`flask keys`: the keyring that encrypts the vault (see crypto.py, keys.py, and docs/operations.md for rotation)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from webauth import keys, users
from webauth.cli.common import prepare_database
from webauth.crypto import KeyringError
from webauth.extensions import db

keys_cli = AppGroup("keys", help="Manage the keyring that encrypts the vault.")


@keys_cli.command("list")
def list_keys() -> None:
    """The key-encryption keys and how many users' data keys each wraps; also the ones missing."""
    prepare_database(need_keys=False)  # works without a keyring: it tells what to restore
    counts = users.users_by_key()
    held = keys.keyring_of(current_app).keys if keys.has_keyring(current_app) else {}
    primary = keys.keyring_of(current_app).primary if held else None
    missing = set(keys.missing_keys(keys.keyring_of(current_app) if held else None))
    for kek_id in sorted(set(held) | set(counts)):
        marker = "primary" if kek_id == primary else ""
        marker = "MISSING: restore it from the backup" if kek_id in missing else marker
        click.echo(f"{kek_id:24} {counts.get(kek_id, 0):6} users  {marker}")


@keys_cli.command("rotate")
def rotate_keys() -> None:
    """Add a new primary key and rewrap every user's data key under it, online."""
    prepare_database()
    try:
        kek_id, changed = keys.rotate(keys.keyring())
    except KeyringError as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"new primary key {kek_id}; rewrapped {changed} data keys")


@keys_cli.command("rewrap")
def rewrap_keys() -> None:
    """Rewrap data keys that are not under the primary key (after editing WEBAUTH_KEYS)."""
    prepare_database()
    changed = keys.rewrap(keys.keyring())
    db.session.commit()
    click.echo(f"rewrapped {changed} data keys")


@keys_cli.command("retire")
@click.argument("kek_id")
def retire_key(kek_id: str) -> None:
    """Remove a key that no data key needs any more."""
    prepare_database()
    try:
        keys.retire(keys.keyring(), kek_id)
    except KeyringError as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"retired key {kek_id}")
