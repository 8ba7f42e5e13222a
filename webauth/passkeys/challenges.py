"""WebAuthn challenges: random, kept on the server, answered once, soon expired.

The session cookie is signed but kept by the browser, so a challenge kept there could be
answered twice by replaying an old cookie. Here each challenge is a row that its answer
deletes: of two requests carrying the same answer (a replay, or the same answer sent twice
at once from two processes) exactly one deletes it, and only that one goes on to verify.
A challenge is bound to what asked for it, and lives `LIFETIME`.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import session
from sqlalchemy import delete

from webauth.extensions import db
from webauth.models import PasskeyChallenge, SessionRecord, utcnow

# Long enough to pick a passkey and touch a sensor; the sign-in page asks for a new one
# before this runs out while it waits on the browser's autofill.
LIFETIME = timedelta(minutes=2)
CHALLENGE_BYTES = 32
PURPOSES = ("register", "signin", "reauth")
# The random value, in this browser's session cookie, that sign-in challenges are bound to.
BROWSER_KEY = "passkey_browser"


def _browser_hash() -> str:
    """SHA-256 of this browser's random binding value, made on first use."""
    value = session.get(BROWSER_KEY)
    if not isinstance(value, str) or len(value) < 32:
        value = secrets.token_urlsafe(32)
        session[BROWSER_KEY] = value
    return hashlib.sha256(value.encode()).hexdigest()


def issue(purpose: str, record: SessionRecord | None = None) -> bytes:
    """A new challenge for `purpose`, bound to the signed-in session `record` or, for a
    sign-in, to this browser. Expired challenges are swept out at the same time. The caller
    commits before the challenge leaves the server."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown purpose {purpose!r}")
    now = utcnow()
    db.session.execute(delete(PasskeyChallenge).where(PasskeyChallenge.expires_at <= now))
    challenge = secrets.token_bytes(CHALLENGE_BYTES)
    db.session.add(
        PasskeyChallenge(
            challenge=challenge,
            purpose=purpose,
            session_id=record.id if record is not None else None,
            browser_hash=None if record is not None else _browser_hash(),
            created_at=now,
            expires_at=now + LIFETIME,
        )
    )
    return challenge


def consume(challenge: bytes, purpose: str, record: SessionRecord | None = None) -> bool:
    """Use up a challenge: True only for the one caller that deletes a live challenge issued
    for this purpose to this session (or this browser). A wrong binding leaves it in place,
    so that a stranger cannot spend someone else's.

    Commits, on purpose: a challenge is spent for good, whatever the caller does next. Were
    the spending left to the caller's transaction, a check that fails later and rolls back
    would give the challenge back, and the same answer could be replayed."""
    if not challenge or len(challenge) > 64:
        return False
    binding = (
        PasskeyChallenge.session_id == record.id
        if record is not None
        else PasskeyChallenge.browser_hash == _browser_hash()
    )
    result = db.session.execute(
        delete(PasskeyChallenge).where(
            PasskeyChallenge.challenge == challenge,
            PasskeyChallenge.purpose == purpose,
            PasskeyChallenge.expires_at > utcnow(),
            binding,
        )
    )
    db.session.commit()
    return result.rowcount == 1
