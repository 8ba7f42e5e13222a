"""`flask --app wsgi ...` command groups: users, accounts (with import, export and sharing), teams, API tokens, keys,
audit, settings, backups and the Casdoor sync, one module each; `doctor` lives with its checks (doctor.py).

Commands apply pending migrations first, so they work on a fresh instance folder, and refuse
to run while the keyring cannot open the users' data keys (cli/common.py). Errors
go to stderr with a non-zero exit; nothing here prints a secret. Like the pages, a command
goes through the domain (`Vault`, `users`, `admin`, `settings`) and commits its own change.
"""

from __future__ import annotations

from flask import Flask
from flask_migrate.cli import db as db_cli

from webauth.cli.accounts import accounts_cli
from webauth.cli.audit import audit_cli
from webauth.cli.backups import backup_cli, backups_cli, restore_cli
from webauth.cli.keys import keys_cli
from webauth.cli.settings import settings_cli
from webauth.cli.sharelinks import register_share_link_commands
from webauth.cli.sharing import register_sharing_commands, teams_cli
from webauth.cli.sync import sync_command
from webauth.cli.tokens import tokens_cli
from webauth.cli.transfer import register_transfer_commands
from webauth.cli.users import users_cli
from webauth.doctor import doctor_command
from webauth.migrating import add_force_option


def register_cli(app: Flask) -> None:
    register_transfer_commands(accounts_cli)
    register_share_link_commands(accounts_cli)
    register_sharing_commands(accounts_cli)
    for group in (
        users_cli, accounts_cli, teams_cli, tokens_cli, keys_cli, audit_cli, settings_cli, backups_cli, backup_cli,
        restore_cli,
    ):
        app.cli.add_command(group)
    app.cli.add_command(sync_command)
    app.cli.add_command(doctor_command)
    add_force_option(db_cli.commands["downgrade"])  # `flask db downgrade --force` (migrating.py)
