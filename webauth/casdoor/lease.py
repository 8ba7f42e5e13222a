"""The sync lease: one sync of a user at a time, across threads, processes and machines.

The lease: `casdoor_links.lock_token/locked_until`, taken by one conditional UPDATE
("set my token where the lease is free or expired") and committed at once. On PostgreSQL
the row lock taken by that UPDATE serialises concurrent takers, and the loser re-reads the
row and matches nothing; SQLite has one writer at a time, so the same statement is atomic
there too. A row lock held for the whole sync (`SELECT ... FOR UPDATE`, or `BEGIN
IMMEDIATE` on SQLite) would keep a transaction open across slow network calls: on SQLite
that blocks every writer of the whole database, and on PostgreSQL it pins a connection for
as long as Casdoor takes. The expiry frees the lease of a process that died; the final
transaction renews the lease under its own token first (a fencing check), so a sync that
overran its lease cannot apply a stale plan.
"""

from __future__ import annotations

import secrets
import time
from datetime import timedelta

from sqlalchemy import or_, update
from sqlalchemy.exc import OperationalError

from webauth.extensions import db
from webauth.models import CasdoorLink, utcnow

LOCK_TTL = timedelta(minutes=5)
LOCK_POLL_SECONDS = 0.1


def acquire(user_id: int, wait: float) -> str | None:
    """Take the user's sync lease, waiting up to `wait` seconds; its token, or None."""
    token = secrets.token_hex(16)
    deadline = time.monotonic() + wait
    while True:
        now = utcnow()
        try:
            taken = db.session.execute(
                update(CasdoorLink)
                .where(
                    CasdoorLink.user_id == user_id,
                    or_(CasdoorLink.locked_until.is_(None), CasdoorLink.locked_until < now),
                )
                .values(lock_token=token, locked_until=now + LOCK_TTL)
                .execution_options(synchronize_session=False)
            ).rowcount
            db.session.commit()
        except OperationalError:  # SQLite busy beyond its timeout: as good as taken by someone else
            db.session.rollback()
            taken = 0
        if taken == 1:
            return token
        if time.monotonic() >= deadline:
            return None
        time.sleep(LOCK_POLL_SECONDS)


def release(user_id: int, token: str) -> None:
    db.session.rollback()
    db.session.execute(
        update(CasdoorLink)
        .where(CasdoorLink.user_id == user_id, CasdoorLink.lock_token == token)
        .values(lock_token=None, locked_until=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def renew(user_id: int, token: str) -> bool:
    """Extend the lease if `token` still holds it (in the caller's transaction): the fencing check
    a sync makes before applying anything, so one that overran its lease applies nothing."""
    renewed = db.session.execute(
        update(CasdoorLink)
        .where(CasdoorLink.user_id == user_id, CasdoorLink.lock_token == token)
        .values(locked_until=utcnow() + LOCK_TTL)
        .execution_options(synchronize_session=False)
    ).rowcount
    return renewed == 1
