"""Share links on the owner's side: made (for a live, time-based account), listed, revoked.

A link's token is 256 random bits in URL-safe base64. The server stores only its HMAC-SHA256
under a key derived from the app's secret key: a dump of the table (or of the audit log, which
never sees the token either) opens no link, and a lookup by digest reveals nothing about the token.
The token is shown once, to the owner who made it.

Only time-based accounts can be shared (TOTP, Steam, mOTP, Yandex Key). An HOTP code stays valid
until it is used, so a link that showed one would outlive its own time limit: whoever saw the code
could still sign in with it an hour later. The owner gets a clear refusal instead.

Times come from `clock.now()` (as the codes do), so tests freeze and move them; the caller commits.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select

from webauth import audit, clock
from webauth.extensions import db
from webauth.models import Account, ShareLink, User
from webauth.otp import OtpType
from webauth.vault import Vault

MINUTES = (2, 10, 60)
TOKEN_BYTES = 32
# 32 bytes are 43 characters of URL-safe base64, without padding.
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")
SHAREABLE_TYPES = frozenset({OtpType.TOTP, OtpType.STEAM, OtpType.MOTP, OtpType.YANDEX})


class ShareLinkError(ValueError):
    """A link that cannot be made as asked; `message` says why, in the user's language."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TooManyLinks(ShareLinkError):
    """The owner has WEBAUTH_SHARE_LINK_MAX_ACTIVE links running already."""


def now() -> datetime:
    return datetime.fromtimestamp(clock.now(), UTC)


def digest(token: str) -> str:
    """The keyed digest a link is stored and found by."""
    key = hashlib.sha256(b"webauth share link v1\0" + current_app.config["SECRET_KEY"].encode()).digest()
    return hmac.new(key, token.encode("ascii"), hashlib.sha256).hexdigest()


def is_well_formed(token: object) -> bool:
    return isinstance(token, str) and TOKEN_PATTERN.fullmatch(token) is not None


def is_live(link: ShareLink, moment: datetime | None = None) -> bool:
    """Not revoked or ended, and not expired (the owner's and the account's state are checked on view)."""
    return link.revoked_at is None and link.expires_at > (moment or now())


def max_active() -> int:
    return current_app.config["WEBAUTH_SHARE_LINK_MAX_ACTIVE"]


def _active(user: User):
    return select(ShareLink).where(
        ShareLink.user_id == user.id, ShareLink.revoked_at.is_(None), ShareLink.expires_at > now()
    )


def create(vault: Vault, account_uuid: str, minutes: int, *, show_name: bool = False) -> tuple[ShareLink, str]:
    """Make a link to the live account's code for `minutes`; returns the row and the token,
    which exists nowhere else from then on.

    Raises `AccountNotFound` for no such live account, `ShareLinkError` for an HOTP account or
    another lifetime than 2, 10 or 60 minutes, `TooManyLinks` past the owner's cap.
    """
    if minutes not in MINUTES:
        raise ShareLinkError(_("A share link lasts 2, 10 or 60 minutes."))
    vault.lock()  # two creations at once cannot both take the last place under the cap
    account = vault.get(account_uuid, fresh=True)
    if OtpType(account.type) not in SHAREABLE_TYPES:
        raise ShareLinkError(_(
            "Counter-based (HOTP) codes stay valid until they are used, so a link could not limit how "
            "long one works: only time-based accounts can be shared by link."
        ))
    count = db.session.scalar(select(func.count()).select_from(_active(vault.user).subquery()))
    if count >= max_active():
        raise TooManyLinks(_(
            "You have %(limit)d share links running already: revoke one, or wait for one to expire.",
            limit=max_active(),
        ))
    token = secrets.token_urlsafe(TOKEN_BYTES)
    created = now()
    link = ShareLink(
        user_id=vault.user.id,
        account_id=account.id,
        token_hash=digest(token),
        secret_digest=account.secret_digest,
        show_name=show_name,
        minutes=minutes,
        created_at=created,
        expires_at=created + timedelta(minutes=minutes),
        ended="",
        views=0,
        last_view_ip="",
    )
    db.session.add(link)
    db.session.flush()
    details = {"account": account.uuid, "link": link.id, "minutes": minutes, "expires": link.expires_at.isoformat()}
    audit.record("sharelink.create", user=vault.user, details=details)
    return link, token


def links_of(user: User, account: Account | None = None) -> list[ShareLink]:
    """The user's running links (of one account, when given), the soonest to end first."""
    statement = _active(user)
    if account is not None:
        statement = statement.where(ShareLink.account_id == account.id)
    return list(db.session.scalars(statement.order_by(ShareLink.expires_at, ShareLink.id)))


def get(user: User, link_id: int) -> ShareLink:
    """One of the user's links by id; another user's is the same as none (`LookupError`)."""
    link = db.session.scalar(select(ShareLink).where(ShareLink.id == link_id, ShareLink.user_id == user.id))
    if link is None:
        raise LookupError(link_id)
    return link


def revoke(user: User, link: ShareLink, *, by: str = "user") -> None:
    """End the link now: its next request is refused in every process. Revoking an ended link
    changes nothing and records nothing."""
    if link.revoked_at is not None:
        return
    link.revoked_at = now()
    link.ended = "revoked"
    account = db.session.get(Account, link.account_id)
    details = {"account": account.uuid if account else "", "link": link.id, "by": by}
    audit.record("sharelink.revoke", user=user, details=details)


def seconds_left(link: ShareLink) -> int:
    """Whole seconds until the link expires (0 once it has)."""
    return max(0, int((link.expires_at - now()).total_seconds()))
