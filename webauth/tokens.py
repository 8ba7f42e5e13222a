"""Personal access tokens: made, listed, revoked, and checked on each API call.

A token is `wa_pat_` followed by 256 random bits in URL-safe base64: the prefix lets secret
scanners and people recognise it, the randomness makes guessing hopeless, so the server keeps
only its SHA-256 and finds a token by that digest (an index lookup reveals nothing about the
token, and a dump of the table opens nothing). The token itself is shown once, by whoever
made it, and never stored, logged or audited.

Times come from `clock.now()`, so tests move them; the last use is written at most once per
`LAST_USE_RESOLUTION`, so a script polling codes does not write a row per call. The caller
commits, as with the vault.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from flask_babel import gettext as _
from sqlalchemy import or_, select, update

from webauth import audit, clock
from webauth.extensions import db
from webauth.models import AccessToken, User

PREFIX = "wa_pat_"
# 32 random bytes: 43 characters of URL-safe base64 after the prefix.
TOKEN_BYTES = 32
TOKEN_LENGTH = len(PREFIX) + 43
MAX_NAME_LENGTH = 100
SCOPES = ("read", "write")
DEFAULT_DAYS = 90
MAX_DAYS = 3660
LAST_USE_RESOLUTION = timedelta(minutes=1)

Refusal = Literal["missing", "malformed", "unknown", "expired", "disabled"]


class TokenError(ValueError):
    """A token that cannot be made as asked; `field` names the input at fault, `message` says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NameTaken(TokenError):
    """The user already has a token of that name."""


@dataclass(frozen=True)
class Checked:
    """The outcome of `check`: the token and its user, or why the request is refused."""

    token: AccessToken | None = None
    user: User | None = None
    refusal: Refusal | None = None


def now() -> datetime:
    return datetime.fromtimestamp(clock.now(), UTC)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def clean_name(name: str) -> str:
    """A token's name as stored: NFC, trimmed, 1 to 100 printable characters."""
    name = unicodedata.normalize("NFC", name or "").strip()
    if not name:
        raise TokenError("name", _("A token needs a name."))
    if len(name) > MAX_NAME_LENGTH:
        raise TokenError("name", _("A token's name may be at most %(limit)d characters.", limit=MAX_NAME_LENGTH))
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in name):
        raise TokenError("name", _("A token's name cannot contain control characters."))
    return name


def create(user: User, name: str, *, scope: str = "write", days: int = DEFAULT_DAYS) -> tuple[AccessToken, str]:
    """Make a token for `user`; returns the row and the token, which exists nowhere else from then on.

    Raises `TokenError` for a bad name, scope or lifetime, or a name the user already gave a token.
    """
    name = clean_name(name)
    if scope not in SCOPES:
        raise TokenError("scope", _("The scope must be read or write."))
    if not 1 <= days <= MAX_DAYS:
        raise TokenError("days", _("A token lasts from 1 to %(limit)d days.", limit=MAX_DAYS))
    if db.session.scalar(select(AccessToken.id).where(AccessToken.user_id == user.id, AccessToken.name == name)):
        raise NameTaken("name", _("You already have a token called %(name)s.", name=name))
    raw = PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    created = now()
    token = AccessToken(
        user_id=user.id,
        name=name,
        token_hash=digest(raw),
        scope=scope,
        created_at=created,
        expires_at=created + timedelta(days=days),
        last_used_ip="",
    )
    db.session.add(token)
    db.session.flush()
    details = {"token": name, "scope": scope, "expires": token.expires_at.isoformat()}
    audit.record("token.create", user=user, details=details)
    return token, raw


def tokens_of(user: User) -> list[AccessToken]:
    """The user's tokens, newest first (expired ones too, until revoked)."""
    statement = select(AccessToken).where(AccessToken.user_id == user.id)
    return list(db.session.scalars(statement.order_by(AccessToken.created_at.desc(), AccessToken.id.desc())))


def get(user: User, token_id: int) -> AccessToken:
    """One of the user's tokens by id; another user's is the same as none (`LookupError`)."""
    token = db.session.scalar(select(AccessToken).where(AccessToken.id == token_id, AccessToken.user_id == user.id))
    if token is None:
        raise LookupError(token_id)
    return token


def named(user: User, name: str) -> AccessToken:
    token = db.session.scalar(
        select(AccessToken).where(AccessToken.user_id == user.id, AccessToken.name == clean_name(name))
    )
    if token is None:
        raise LookupError(name)
    return token


def revoke(user: User, token: AccessToken, *, by: str = "user") -> None:
    """Delete the token: its next request is refused, whichever process serves it.

    `by` says who revoked it ("user", "admin" or "cli"); the acting user is recorded as the
    audit event's actor when there is one.
    """
    db.session.delete(token)
    audit.record("token.revoke", user=user, details={"token": token.name, "by": by})


def is_expired(token: AccessToken) -> bool:
    return token.expires_at <= now()


def check(header: str | None) -> Checked:
    """The token of an `Authorization: Bearer ...` header and its user, or why they are refused."""
    scheme, _sep, value = (header or "").strip().partition(" ")
    if not scheme:
        return Checked(refusal="missing")
    value = value.strip()
    if scheme.lower() != "bearer" or not value.startswith(PREFIX) or len(value) != TOKEN_LENGTH:
        return Checked(refusal="malformed")
    wanted = digest(value)
    token = db.session.scalar(select(AccessToken).where(AccessToken.token_hash == wanted))
    if token is None or not hmac.compare_digest(token.token_hash, wanted):
        return Checked(refusal="unknown")
    if is_expired(token):
        return Checked(token=token, refusal="expired")
    user = db.session.get(User, token.user_id)
    if user is None or user.disabled:
        return Checked(token=token, refusal="disabled")
    return Checked(token=token, user=user)


def note_use(token: AccessToken, ip: str) -> None:
    """Remember when and from where the token was last used, at most once per `LAST_USE_RESOLUTION`.

    One conditional UPDATE: of two calls at once, one writes and the other finds it done.
    """
    moment = now()
    db.session.execute(
        update(AccessToken)
        .where(
            AccessToken.id == token.id,
            or_(AccessToken.last_used_at.is_(None), AccessToken.last_used_at <= moment - LAST_USE_RESOLUTION),
        )
        .values(last_used_at=moment, last_used_ip=ip[:64])
        .execution_options(synchronize_session=False)
    )
