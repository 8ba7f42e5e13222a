"""`flask --app wsgi accounts import` and `accounts export`: the transfer formats from the command line.

`register_transfer_commands` adds them to the `accounts` group. Like the pages, an import adds
every readable entry in one transaction or nothing, and an export is audited; errors go to
stderr with a non-zero exit, and no file is left half-written.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

import click
from flask.cli import with_appcontext

from webauth import qr
from webauth.cli.common import prepare_database, read_password, user_named
from webauth.extensions import db
from webauth.keys import keyring
from webauth.models import User
from webauth.transfer import exports, guard
from webauth.transfer.base import PasswordRequired, TransferError
from webauth.transfer.limits import MAX_IMPORT_BYTES
from webauth.transfer.registry import IMPORTERS_BY_ID, read_import
from webauth.vault import Vault

EXPORT_CHOICES = ("aegis", "aegis-encrypted", "otpauth", "google-qr")


@click.command("import")
@with_appcontext
@click.option("--user", "username", required=True, help="The user whose vault gets the accounts.")
@click.option(
    "--format",
    "format_id",
    type=click.Choice(sorted(IMPORTERS_BY_ID)),
    help="The file's format, when detection does not recognise it.",
)
@click.option("--password-stdin", is_flag=True, help="Read the file's password from standard input.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path))
def import_accounts(username: str, format_id: str | None, password_stdin: bool, file: Path) -> None:
    """Import FILE from another authenticator (any supported format, a QR code image included).

    Every readable entry is added, in one transaction; entries already in the vault, entries
    another app kept in its trash, and entries that cannot be read are skipped and counted.
    """
    prepare_database()
    user = user_named(username)
    if file.stat().st_size > MAX_IMPORT_BYTES:
        raise click.ClickException(f"nothing imported: an import file may be at most {MAX_IMPORT_BYTES // 2**20} MB")
    password = read_password() if password_stdin else None
    try:
        with guard.one_import_at_a_time(user.id):
            _import_file(user, file, password, format_id)
    except guard.ImportBusy:
        raise click.ClickException(
            f"nothing imported: another import for {username} is in progress; try again when it is done"
        ) from None


def _import_file(user: User, file: Path, password: str | None, format_id: str | None) -> None:
    try:
        importer, entries = read_import(file.read_bytes(), password, format_id)
    except PasswordRequired:
        raise click.ClickException(
            "nothing imported: the file is encrypted; give its password on standard input with --password-stdin"
        ) from None
    except TransferError as error:
        raise click.ClickException(f"nothing imported: {error}") from None
    problems = [entry for entry in entries if entry.spec is None]
    trashed = [entry for entry in entries if entry.spec is not None and entry.trashed]
    for entry in problems:
        click.echo(f"skipped {entry.source}: {entry.problem}", err=True)
    specs = [entry.spec for entry in entries if entry.spec is not None and not entry.trashed]
    if not specs:
        raise click.ClickException("nothing imported: the file holds no account that can be imported")
    details = {"entries": len(entries), "chosen": len(specs), "problems": len(problems), "via": "cli"}
    added, duplicates = Vault(user, keyring()).add_many(specs, source=importer.format_id, details=details)
    db.session.commit()
    click.echo(
        f"imported {len(added)} accounts from {importer.title}; skipped {duplicates} already in the vault, "
        f"{len(trashed)} in the other app's trash, {len(problems)} unreadable"
    )


def _private_temp(path: Path) -> tuple[Path, int]:
    """A new file beside `path`, readable by its owner only, to be renamed over it once complete."""
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    return temp, os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)


def _write_all(files: list[tuple[Path, bytes]]) -> None:
    """Write every file, or none: all go to temporary files first, then are renamed into place."""
    written: list[tuple[Path, Path]] = []
    try:
        for path, data in files:
            temp, fd = _private_temp(path)
            written.append((temp, path))
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
        for temp, path in written:
            os.replace(temp, path)
    except OSError as error:
        for temp, _ in written:
            with contextlib.suppress(OSError):
                temp.unlink()
        raise click.ClickException(f"nothing exported: {error.strerror or error}") from None


def _numbered_paths(out: Path, total: int) -> list[Path]:
    stem = out.name[: -len(".png")] if out.name.lower().endswith(".png") else out.name
    return [out.with_name(f"{stem}-{number}-of-{total}.png") for number in range(1, total + 1)]


@click.command("export")
@with_appcontext
@click.option("--user", "username", required=True, help="The user whose accounts to export.")
@click.option("--format", "fmt", type=click.Choice(EXPORT_CHOICES), required=True, help="What to write.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The file to write; for google-qr the name of the PNG files, numbered NAME-1-of-N.png.",
)
@click.option("--password-stdin", is_flag=True, help="Read the backup password from standard input (aegis-encrypted).")
def export_accounts(username: str, fmt: str, out: Path, password_stdin: bool) -> None:
    """Export every account of a user: an Aegis backup (plain or encrypted), otpauth:// links, or
    Google Authenticator transfer QR codes (at most 10 accounts each). The files hold secrets:
    they are written readable by their owner only."""
    prepare_database()
    user = user_named(username)
    password = None
    if fmt == "aegis-encrypted":
        if not password_stdin:
            raise click.ClickException("an encrypted backup needs a password: give it with --password-stdin")
        password = read_password()
        if len(password) < exports.MIN_BACKUP_PASSWORD:
            raise click.ClickException(f"the backup password needs at least {exports.MIN_BACKUP_PASSWORD} characters")
    elif password_stdin:
        raise click.ClickException(f"--password-stdin is only for aegis-encrypted, not {fmt}")
    if not out.parent.is_dir():
        raise click.ClickException(f"nothing exported: the folder {out.parent} does not exist")
    vault = Vault(user, keyring())
    specs = exports.vault_specs(vault)
    if fmt == "google-qr":
        codes, incompatible = exports.transfer_codes(specs)
        for spec, reason in incompatible:
            click.echo(f"not exported, Google Authenticator cannot hold {spec.label}: {reason}", err=True)
        if not codes:
            raise click.ClickException("nothing exported: no account can go to Google Authenticator")
        paths = _numbered_paths(out, len(codes))
        images = [qr.qr_png(code.uri, qr.LARGE_SCALE) for code in codes]
        _write_all(list(zip(paths, images, strict=True)))
        exports.record_export(vault, fmt, len(specs) - len(incompatible), source="cli")
        db.session.commit()
        for path, code in zip(paths, codes, strict=True):
            click.echo(f"wrote {path} ({code.number} of {code.total}: {len(code.labels)} accounts)")
        return
    exported = exports.export_file(specs, fmt, password)
    _write_all([(out, exported.data)])
    exports.record_export(vault, fmt, len(specs), source="cli")
    db.session.commit()
    click.echo(f"wrote {out} ({len(specs)} accounts)")


def register_transfer_commands(group: click.Group) -> None:
    group.add_command(import_accounts)
    group.add_command(export_accounts)
