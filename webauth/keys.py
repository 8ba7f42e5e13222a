"""The app's keyring: loaded once when the app is made, then reached through `keyring()`.

`crypto.Keyring` knows nothing of Flask; this module is the one place that decides where the
keys come from (`WEBAUTH_KEYS`, or `keyring.json` in the instance folder) and keeps them on
the app, so views, commands and the sync all use the same keys.

A keyring is created only for a database that holds no user yet. With users in the database
and no keyring file (a lost file, or `WEBAUTH_INSTANCE_PATH` pointing at a new folder while the
data is on PostgreSQL), a new key would open no vault: the app then has no keyring, and
`keyring_problem()` says which key ids are missing. The same check unwraps one data key per
key id in use, so a keyring that holds another key under the same id (`k1` made anew) is found
too. The app refuses to serve while it fails (views/ops.py), and so do the commands
(cli/common.py), except those that help to recover.

Rotation holds the keyring's lock across reading, writing and rewrapping (`rotate`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, current_app
from sqlalchemy import func, inspect, select
from sqlalchemy.exc import SQLAlchemyError

from webauth.crypto import DecryptionError, Keyring, KeyringError
from webauth.extensions import db
from webauth.locking import hold_transaction_lock
from webauth.models import User

_EXTENSION = "webauth.keyring"
log = logging.getLogger(__name__)


@dataclass
class _State:
    """The app's keyring (None when it could not be had) and, once checked, what is wrong with it."""

    ring: Keyring | None
    problem: str | None = None
    checked: bool = False


def init_app(app: Flask) -> None:
    state = app.extensions[_EXTENSION] = _load_keyring(app)
    with app.app_context():
        try:
            state.problem, state.checked = keyring_problem(), True
        except SQLAlchemyError:
            db.session.rollback()  # no database yet, or it does not answer: checked at the first request
    if state.problem:
        app.logger.error("webauth cannot open the vaults: %s", state.problem)


def keyring() -> Keyring:
    """The keyring of the current app."""
    return keyring_of(current_app)


def keyring_of(app: Flask) -> Keyring:
    """The keyring of `app`, for code that holds the app rather than runs inside it (`flask doctor`)."""
    state: _State = app.extensions[_EXTENSION]
    if state.ring is None:
        raise KeyringError(state.problem or "there is no keyring")
    return state.ring


def has_keyring(app: Flask) -> bool:
    return app.extensions[_EXTENSION].ring is not None


def _load_keyring(app: Flask) -> _State:
    if app.config["WEBAUTH_KEYS"]:
        return _State(Keyring.from_json(app.config["WEBAUTH_KEYS"]))
    path = Path(app.config["WEBAUTH_KEYRING_PATH"])
    if path.exists():
        return _State(Keyring.load(path))
    with Keyring.file_lock(path):
        if path.exists():
            return _State(Keyring.load(path))
        with app.app_context():
            users = _count_users()
        if users is None:
            return _State(None, f"{path} does not exist and the database does not answer, so it is not known "
                                "whether a new keyring may be created; start again once the database answers")
        if users:
            return _State(None, f"{path} is missing while the database holds {users} user(s): their vaults need "
                                "the keys it held. Restore it from the backup taken with the database "
                                "(docs/operations.md); no new keyring was created")
        return _State(Keyring.create(path))


def _count_users() -> int | None:
    """How many users the database holds (0 before the migrations ran), or None when it does not answer."""
    try:
        if not inspect(db.engine).has_table(User.__tablename__):
            return 0
        return db.session.scalar(select(func.count(User.id)))
    except SQLAlchemyError:
        log.warning("the database does not answer", exc_info=True)
        return None
    finally:
        db.session.remove()


def missing_keys(ring: Keyring | None) -> list[str]:
    """The key ids that users' data keys are wrapped under and `ring` cannot open.

    One data key per key id is unwrapped, not only looked up: a keyring made anew holds a `k1`
    too, which opens nothing.
    """
    first_of_each = select(func.min(User.id)).where(User.kek_id != "").group_by(User.kek_id)
    rows = db.session.execute(select(User.id, User.kek_id, User.wrapped_dek).where(User.id.in_(first_of_each)))
    missing = []
    for user_id, kek_id, wrapped in rows:
        try:
            if ring is None:
                raise KeyringError(kek_id)
            ring.unwrap_data_key(user_id, kek_id, wrapped)
        except (KeyringError, DecryptionError):
            missing.append(kek_id)
    return sorted(missing)


def keyring_problem() -> str | None:
    """Why the current app's keyring cannot open every vault, or None; asks the database."""
    state: _State = current_app.extensions[_EXTENSION]
    missing = missing_keys(state.ring)
    if not missing:
        return None
    names = ", ".join(missing)
    if state.ring is None:
        return f"{state.problem} (missing key ids: {names})"
    where = "WEBAUTH_KEYS" if state.ring.path is None else str(state.ring.path)
    return (f"{where} lacks the key(s) {names} that users' data keys are wrapped under (or holds other keys "
            "under those ids): restore the keyring from the backup taken with the database (docs/operations.md)")


def serving_problem() -> str | None:
    """What stops this process from serving, checked once (again after a database error)."""
    state: _State = current_app.extensions[_EXTENSION]
    if not state.checked:
        state.problem, state.checked = keyring_problem(), True
        if state.problem:
            current_app.logger.error("webauth cannot open the vaults: %s", state.problem)
    return state.problem


def rotate(ring: Keyring) -> tuple[str, int]:
    """Add a new primary key and rewrap every data key under it; returns (new key id, data keys rewrapped).

    Two rotations at once must not lose a key: the keyring file's lock and the database lock
    "keyring" are held across reading the file again, writing it (durably) and rewrapping, in
    the caller's transaction, which the caller commits. A process that serves meanwhile
    sees the new file before any data key needs it (crypto.Keyring reloads on an unknown id).
    """
    if ring.path is None:
        raise KeyringError(
            "WEBAUTH_KEYS is set: add a new key to it, make it the primary, restart, then run `keys rewrap`"
        )
    with Keyring.file_lock(ring.path):
        hold_transaction_lock(db.session.connection(), "keyring")
        ring.reload()
        kek_id = ring.add_primary()
        ring.save()
        return kek_id, rewrap(ring, locked=True)


def rewrap(ring: Keyring, *, locked: bool = False) -> int:
    """Rewrap every data key not under the primary key, in the caller's transaction; returns how many."""
    if not locked:
        hold_transaction_lock(db.session.connection(), "keyring")
        ring.reload()
    changed = 0
    for user in db.session.scalars(select(User).where(User.kek_id != ring.primary, User.kek_id != "")):
        dek = ring.unwrap_data_key(user.id, user.kek_id, user.wrapped_dek)
        user.kek_id, user.wrapped_dek = ring.wrap_data_key(user.id, dek)
        changed += 1
    return changed


def retire(ring: Keyring, kek_id: str) -> None:
    """Remove a key that no data key needs any more, under the same locks as `rotate`."""
    if ring.path is None:
        raise KeyringError("WEBAUTH_KEYS is set: remove the key from it instead")
    with Keyring.file_lock(ring.path):
        hold_transaction_lock(db.session.connection(), "keyring")
        ring.reload()
        in_use = db.session.scalar(select(func.count(User.id)).where(User.kek_id == kek_id))
        if in_use:
            raise KeyringError(f"{in_use} users' data keys are still wrapped under {kek_id}; run `keys rewrap`")
        ring.retire(kek_id)
        ring.save()
