"""The app's keyring: loaded once when the app is made, then reached through `keyring()`.

`crypto.Keyring` knows nothing of Flask; this module is the one place that decides where the
keys come from (`WEBAUTH_KEYS`, or `keyring.json` in the instance folder) and keeps them on
the app, so views, commands and the sync all use the same keys.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app

from webauth.crypto import Keyring

_EXTENSION = "webauth.keyring"


def init_app(app: Flask) -> None:
    app.extensions[_EXTENSION] = _load_keyring(app)


def keyring() -> Keyring:
    """The keyring of the current app."""
    return keyring_of(current_app)


def keyring_of(app: Flask) -> Keyring:
    """The keyring of `app`, for code that holds the app rather than runs inside it (`flask doctor`)."""
    return app.extensions[_EXTENSION]


def _load_keyring(app: Flask) -> Keyring:
    if app.config["WEBAUTH_KEYS"]:
        return Keyring.from_json(app.config["WEBAUTH_KEYS"])
    return Keyring.load_or_create(Path(app.config["WEBAUTH_KEYRING_PATH"]))
