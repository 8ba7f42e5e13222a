"""The settings page: switches an administrator changes at run time, with defaults from the config.

A setting without a row in the `settings` table has its default from a `WEBAUTH_*` variable
(config.py), so a fresh install behaves as its environment says and the page only records
departures from it. Values live in the database, so every process sees a change at its next
request; each request reads them once (cached in `g`), so one page never sees two versions.

Other code asks through the small functions at the end (`offline_allowed()`,
`session_lifetime()`, ...), never by reading the table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app, g
from flask_babel import gettext as _
from sqlalchemy import select

from webauth import audit
from webauth.casdoor.oidc import configured as casdoor_configured
from webauth.config import MAX_SESSION_HOURS
from webauth.extensions import db
from webauth.models import Setting, utcnow

Value = bool | int

MAX_IDLE_LOCK_MINUTES = 24 * 60


@dataclass(frozen=True)
class SettingSpec:
    """A setting's type, the config key holding its default, and for numbers their bounds."""

    kind: type[bool] | type[int]
    config_key: str
    minimum: int = 0
    maximum: int = 0


SPECS: dict[str, SettingSpec] = {
    # Bites only when Casdoor is set up (see `local_login_enabled`), so nobody is locked out.
    "local_signin": SettingSpec(bool, "WEBAUTH_LOCAL_LOGIN"),
    "open_registration": SettingSpec(bool, "WEBAUTH_OPEN_REGISTRATION"),
    "offline_allowed": SettingSpec(bool, "WEBAUTH_OFFLINE_ALLOWED"),
    "session_hours": SettingSpec(int, "WEBAUTH_SESSION_HOURS", 1, MAX_SESSION_HOURS),
    # 0 turns the idle lock off.
    "idle_lock_minutes": SettingSpec(int, "WEBAUTH_IDLE_LOCK_MINUTES", 0, MAX_IDLE_LOCK_MINUTES),
}


class SettingError(ValueError):
    """A value the setting cannot take; `name` is the setting at fault."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.message = message


def _check(name: str, value: object) -> Value:
    spec = SPECS.get(name)
    if spec is None:
        raise SettingError(name, _("There is no setting named %(name)s.", name=name))
    if spec.kind is bool:
        if not isinstance(value, bool):
            raise SettingError(name, _("This setting is on or off."))
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        raise SettingError(name, _("Enter a whole number."))
    if not spec.minimum <= value <= spec.maximum:
        raise SettingError(
            name, _("Enter a number from %(low)d to %(high)d.", low=spec.minimum, high=spec.maximum)
        )
    return value


def _default(name: str) -> Value:
    """The config's value, clamped into range: a bad environment value must not break sign-in."""
    spec = SPECS[name]
    raw = current_app.config[spec.config_key]
    if spec.kind is bool:
        return bool(raw)
    return min(max(int(raw), spec.minimum), spec.maximum)


# Every request reads the settings (a session's lifetime and idle lock): the keys and values,
# as rows rather than objects, by a statement built once, run by the connection (no ORM).
_STORED = select(Setting.key, Setting.value)


def _stored() -> dict[str, Value]:
    if "webauth_settings" not in g:
        g.webauth_settings = {key: value for key, value in db.session.connection().execute(_STORED)}
    return g.webauth_settings


def get_setting(name: str) -> Value:
    """The value in force for this request: the stored one if valid, else the config's default."""
    stored = _stored()
    if name in stored:
        try:
            return _check(name, stored[name])
        except SettingError:
            pass  # a row written by an older version with other bounds: the default is safe
    if name not in SPECS:
        raise KeyError(name)
    return _default(name)


def all_settings() -> dict[str, Value]:
    return {name: get_setting(name) for name in SPECS}


def update_settings(values: Mapping[str, object]) -> dict[str, tuple[Value, Value]]:
    """Store the values that differ from those in force; returns {name: (before, after)}.

    All values are checked before anything is written, so a bad one changes nothing. The
    change is audited as one `settings.change` event, in the same transaction.
    """
    checked = {name: _check(name, value) for name, value in values.items()}
    current = all_settings()
    changes = {name: (current[name], value) for name, value in checked.items() if current[name] != value}
    if not changes:
        return {}
    entry = audit.record("settings.change", details={name: list(pair) for name, pair in changes.items()})
    for name, (_before, after) in changes.items():
        row = db.session.get(Setting, name)
        if row is None:
            row = Setting(key=name)
            db.session.add(row)
        row.value, row.updated_at, row.updated_by = after, utcnow(), entry.actor_id
    g.pop("webauth_settings", None)
    return changes


# What the rest of the app asks ------------------------------------------------------------


def local_login_enabled() -> bool:
    """Whether the username and password form is there: the page's switch (default
    `WEBAUTH_LOCAL_LOGIN`) turns it off only when Casdoor is configured, so nobody is locked out."""
    return bool(get_setting("local_signin")) or not casdoor_configured()


def registration_open() -> bool:
    """Whether /register creates accounts: open registration on, and the password form there."""
    return bool(get_setting("open_registration")) and local_login_enabled()


def offline_allowed() -> bool:
    """Whether users may keep an encrypted offline copy of their vault on a device."""
    return bool(get_setting("offline_allowed"))


def session_lifetime() -> timedelta:
    """How long a session lasts after sign-in; shortening it also ends older sessions sooner."""
    return timedelta(hours=get_setting("session_hours"))


def idle_lock() -> timedelta | None:
    """How long a session may go without a request before it is locked, or None when off."""
    minutes = get_setting("idle_lock_minutes")
    return timedelta(minutes=minutes) if minutes else None
