"""`flask settings show | set`: the values of the admin settings page."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from webauth import settings
from webauth.cli.common import prepare_database
from webauth.extensions import db

settings_cli = AppGroup("settings", help="Show or change the values of the admin settings page.")


@settings_cli.command("show")
def show_settings() -> None:
    """The value in force of each setting."""
    prepare_database()
    for name, value in settings.all_settings().items():
        click.echo(f"{name:20} {str(value).lower()}")


_SWITCH_WORDS = {"on": True, "true": True, "yes": True, "1": True}
_SWITCH_WORDS |= {"off": False, "false": False, "no": False, "0": False}


@settings_cli.command("set")
@click.argument("name", type=click.Choice(sorted(settings.SPECS)))
@click.argument("value")
def set_setting(name: str, value: str) -> None:
    """Change a setting as the settings page would (also a way back in if a switch locked you out)."""
    prepare_database()
    parsed: bool | int
    if settings.SPECS[name].kind is bool:
        if value.lower() not in _SWITCH_WORDS:
            raise click.ClickException(f"{name} is on or off, not {value!r}")
        parsed = _SWITCH_WORDS[value.lower()]
    else:
        try:
            parsed = int(value)
        except ValueError:
            raise click.ClickException(f"{name} is a whole number, not {value!r}") from None
    try:
        changed = settings.update_settings({name: parsed})
    except settings.SettingError as error:
        raise click.ClickException(error.message) from None
    db.session.commit()
    click.echo(f"{name} = {str(parsed).lower()}" if changed else f"{name} was already {str(parsed).lower()}")
