"""At most one import in progress per user, and a few per process (limits.py).

Each import stays within its budget, but many at once would not: a user could start several
from as many tabs, and every user of a process could start one together. So reading a file
(upload, password) and adding its accounts (confirm) happen inside `one_import_at_a_time`:

- per process, a semaphore of `MAX_IMPORTS_PER_PROCESS`, taken without waiting: a request
  that finds it taken is answered "busy, try again" (`ServerBusy`) instead of queueing work;
- per user, across every process and machine, an `ImportInProgress` row, committed before the
  work starts and deleted after: its primary key lets one exist per user, so a second import
  of the same user meets the first one's row (`UserBusy`). A row older than
  `IMPORT_MARKER_LIFETIME` (longer than any import takes) was left by a process that died,
  and is taken over.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from webauth.extensions import db
from webauth.models import ImportInProgress, utcnow
from webauth.transfer.limits import IMPORT_MARKER_LIFETIME, MAX_IMPORTS_PER_PROCESS

_process_slots = threading.BoundedSemaphore(MAX_IMPORTS_PER_PROCESS)


class ImportBusy(Exception):
    """An import cannot start now; try again shortly."""


class UserBusy(ImportBusy):
    """Another import of the same user is in progress."""


class ServerBusy(ImportBusy):
    """This process is already running as many imports as it allows."""


@contextmanager
def one_import_at_a_time(user_id: int) -> Iterator[None]:
    """Run the body as the user's only import, and one of this process's few, or raise `ImportBusy`.

    The body's own uncommitted changes are rolled back if it fails; the marker goes either way.
    """
    if not _process_slots.acquire(blocking=False):
        raise ServerBusy()
    try:
        token = _mark(user_id)
        try:
            yield
        except BaseException:
            db.session.rollback()
            raise
        finally:
            db.session.execute(
                delete(ImportInProgress).where(ImportInProgress.user_id == user_id, ImportInProgress.token == token)
            )
            db.session.commit()
    finally:
        _process_slots.release()


def _mark(user_id: int) -> str:
    """Commit the user's marker, taking over a stale one; `UserBusy` when a live one is there."""
    now = utcnow()
    db.session.execute(
        delete(ImportInProgress).where(
            ImportInProgress.user_id == user_id, ImportInProgress.started_at < now - IMPORT_MARKER_LIFETIME
        )
    )
    token = secrets.token_hex(16)
    db.session.add(ImportInProgress(user_id=user_id, token=token, started_at=now))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise UserBusy() from None
    return token
