"""What the holder of a share link sees: the account's issuer (and name, if the owner chose),
its live code, the seconds the code and the link have left. Never the secret, never a code the
link's time does not cover.

The code is computed at request time through the owner's `Vault`: the secret is opened under the
owner's data key for this one computation and goes nowhere else. A link shows nothing once it
expired or was revoked, while its owner is disabled, when its account is in the trash (the
trash ends links for good), or got a new secret key or type since; all of these look alike to the holder
(`None`), so an answer tells a guesser nothing about which tokens exist.

Each view is audited in the owner's log, with the viewer's address (and user, if signed in),
never the token or the code. A page that refreshes its code at every period boundary is one
view: the audit records a view when the page opens, when the address changes, or when the last
recorded view of the link is `VIEW_AUDIT_RESOLUTION` old; `views` counts those.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select, update

from webauth import audit, clock
from webauth.crypto import Keyring
from webauth.extensions import db
from webauth.models import Account, ShareLink, User
from webauth.otp import OtpType, code_at, seconds_remaining
from webauth.sharelinks.links import SHAREABLE_TYPES, digest, is_live, is_well_formed, now
from webauth.vault import Vault

VIEW_AUDIT_RESOLUTION = timedelta(minutes=10)


@dataclass(frozen=True)
class Shown:
    """One answer to a link's holder."""

    issuer: str
    name: str
    type: str
    code: str
    period: int
    # Seconds the code has left, and the link.
    code_left: float
    link_left: float

    def as_json(self) -> dict:
        return {
            "issuer": self.issuer,
            "name": self.name,
            "type": self.type,
            "code": self.code,
            "period": self.period,
            "code_left_ms": int(self.code_left * 1000),
            "link_left_ms": int(self.link_left * 1000),
        }


def find(token: object) -> ShareLink | None:
    """The link of a well-formed token, whatever its state; None for any other token."""
    if not is_well_formed(token):
        return None
    wanted = digest(token)  # type: ignore[arg-type]
    link = db.session.scalar(select(ShareLink).where(ShareLink.token_hash == wanted))
    if link is None or not hmac.compare_digest(link.token_hash, wanted):
        return None
    return link


def show(token: object, keyring: Keyring, *, opened: bool = False) -> Shown | None:
    """The code the link shows now, or None if it shows nothing (see the module's docstring).

    `opened`: the page has just loaded, so this is a new view whatever was recorded before.
    """
    link = find(token)
    moment = now()
    if link is None or not is_live(link, moment):
        return None
    owner = db.session.get(User, link.user_id)
    account = db.session.get(Account, link.account_id)
    if owner is None or owner.disabled or account is None or account.deleted_at is not None:
        return None
    if account.secret_digest != link.secret_digest or OtpType(account.type) not in SHAREABLE_TYPES:
        return None  # a new secret key or type is another account as far as the link goes
    params = Vault(owner, keyring).params(account)
    at = clock.now()
    shown = Shown(
        issuer=account.issuer,
        name=account.name if link.show_name else "",
        type=account.type,
        code=code_at(params, at),
        period=params.period,
        code_left=seconds_remaining(params, at),
        link_left=(link.expires_at - moment).total_seconds(),
    )
    _note_view(link, owner, account, opened=opened)
    return shown


def _note_view(link: ShareLink, owner: User, account: Account, *, opened: bool) -> None:
    """Count and audit a view (see the module's docstring). One conditional UPDATE: of two
    refreshes at once, one records the view and the other finds it recorded."""
    moment = now()
    ip = audit.client_ip()
    statement = update(ShareLink).where(ShareLink.id == link.id)
    if not opened:
        statement = statement.where(
            or_(
                ShareLink.last_view_at.is_(None),
                ShareLink.last_view_at <= moment - VIEW_AUDIT_RESOLUTION,
                ShareLink.last_view_ip != ip,
            )
        )
    result = db.session.execute(
        statement.values(views=ShareLink.views + 1, last_view_at=moment, last_view_ip=ip).execution_options(
            synchronize_session=False
        )
    )
    if result.rowcount:
        audit.record("sharelink.view", user=owner, details={"account": account.uuid, "link": link.id})
