"""Sharing an account, the owner's side: who has access, sharing, unsharing, and the ends of
shares (the account trashed or deleted, a recipient leaving).

The owner names a user, a local team or a Casdoor group (teams.py). A share holds no secret:
it names the account, which stays sealed under the owner's data key; recipients get its codes
through received.py. Every share, unshare and end is audited with who and which account, never
a code. The caller passes an account read from the owner's own `Vault` (so nobody shares what
is not theirs) and commits.

This module reads and writes only the sharing tables and the audit: `Vault.delete` calls
`end_shares`, so it must not import the vault.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from flask_babel import gettext as _
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from webauth import audit
from webauth.extensions import db
from webauth.models import Account, User
from webauth.sharing.models import Share, Team
from webauth.sharing.teams import casdoor_group_known, find_team

# One account's shares are listed on its page and checked at each of its recipients' clocks.
MAX_SHARES_PER_ACCOUNT = 100

RecipientKind = Literal["user", "team", "group"]


class ShareError(ValueError):
    """A share refused, with the reason in words for the person who asked."""


@dataclass(frozen=True)
class Recipient:
    """Who has access to an account through one share."""

    share_id: int
    kind: RecipientKind
    name: str
    allow_hotp_next: bool
    created_at: datetime


def _owned(owner: User, account: Account) -> None:
    if account.user_id != owner.id or account.deleted_at is not None:
        raise ShareError(_("Only the owner can share this account."))


def _target(owner: User, *, username: str | None, group: str | None) -> tuple[RecipientKind, str, dict]:
    """What a share's recipient columns hold for a user name or a group name.

    A group name is a local team's first, else a Casdoor group someone here is in.
    """
    if username is not None:
        name = username.strip()
        user = db.session.scalar(select(User).where(User.username == name)) if name else None
        if user is None:
            raise ShareError(_("There is no user named %(name)s.", name=name))
        if user.id == owner.id:
            raise ShareError(_("This account is yours already."))
        return "user", user.username, {"recipient_id": user.id}
    name = " ".join((group or "").split())
    if not name:
        raise ShareError(_("Name a user or a group to share with."))
    team = find_team(name)
    if team is not None:
        return "team", team.name, {"team_id": team.id}
    if casdoor_group_known(name):
        return "group", name, {"casdoor_group": name}
    raise ShareError(_("There is no team or Casdoor group named %(name)s.", name=name))


def _existing(account: Account, columns: dict) -> Share | None:
    (column, value), = columns.items()
    return db.session.scalar(
        select(Share).where(Share.account_id == account.id, getattr(Share, column) == value)
    )


def share(
    owner: User,
    account: Account,
    *,
    username: str | None = None,
    group: str | None = None,
    allow_hotp_next: bool = False,
) -> tuple[Share, bool]:
    """Share `account` with a user (`username`) or a group (`group`); True when the share is new.

    Sharing again with the same recipient keeps one share and sets its HOTP permission; two
    identical shares made at the same moment keep one (the database's unique constraints).
    """
    _owned(owner, account)
    kind, name, columns = _target(owner, username=username, group=group)
    allow = bool(allow_hotp_next) and account.type == "hotp"
    existing = _existing(account, columns)
    if existing is not None:
        if existing.allow_hotp_next != allow:
            existing.allow_hotp_next = allow
            audit.record("share.change", user=owner, details=_details(account, kind, name, allow))
        return existing, False
    count = len(db.session.scalars(select(Share.id).where(Share.account_id == account.id)).all())
    if count >= MAX_SHARES_PER_ACCOUNT:
        raise ShareError(
            _("An account can be shared with at most %(num)d people and groups.", num=MAX_SHARES_PER_ACCOUNT)
        )
    made = Share(account_id=account.id, allow_hotp_next=allow, created_by_id=owner.id, **columns)
    try:
        with db.session.begin_nested():
            db.session.add(made)
            db.session.flush()
    except IntegrityError:  # the same share, made at the same moment elsewhere
        existing = _existing(account, columns)
        if existing is None:
            raise
        return existing, False
    audit.record("share.add", user=owner, details=_details(account, kind, name, allow))
    return made, True


def _details(account: Account, kind: RecipientKind, name: str, allow: bool | None = None) -> dict:
    details: dict = {"account": account.uuid, "kind": kind, "with": name}
    if allow is not None and account.type == "hotp":
        details["hotp_next"] = allow
    return details


def unshare(
    owner: User, account: Account, *, username: str | None = None, group: str | None = None
) -> bool:
    """End the share of `account` with this user or group; False when there was none."""
    _owned(owner, account)
    kind, name, columns = _target(owner, username=username, group=group)
    existing = _existing(account, columns)
    if existing is None:
        return False
    db.session.delete(existing)
    db.session.flush()
    audit.record("share.remove", user=owner, details=_details(account, kind, name))
    return True


def unshare_id(owner: User, account: Account, share_id: int, *, by: str | None = None) -> bool:
    """End one share of `account` by its id, as the account's page lists them; `by` names who
    other than the owner did it ("admin"), in the audit's details."""
    _owned(owner, account)
    found = next((item for item in recipients(account) if item.share_id == share_id), None)
    if found is None:
        return False
    db.session.execute(delete(Share).where(Share.id == share_id, Share.account_id == account.id))
    details = _details(account, found.kind, found.name)
    if by is not None:
        details["by"] = by
    audit.record("share.remove", user=owner, details=details)
    return True


def recipients(account: Account) -> list[Recipient]:
    """Who has access to `account`, users first, then teams and Casdoor groups, by name."""
    rows = db.session.execute(
        select(Share, User.username, Team.name)
        .outerjoin(User, User.id == Share.recipient_id)
        .outerjoin(Team, Team.id == Share.team_id)
        .where(Share.account_id == account.id)
    )
    found = []
    for item, username, team in rows:
        if username is not None:
            kind, name = "user", username
        elif team is not None:
            kind, name = "team", team
        else:
            kind, name = "group", item.casdoor_group or ""
        found.append(Recipient(item.id, kind, name, item.allow_hotp_next, item.created_at))
    order = {"user": 0, "team": 1, "group": 2}
    return sorted(found, key=lambda item: (order[item.kind], item.name.casefold()))


def end_shares(owner: User, account: Account, *, reason: str) -> int:
    """End every share of `account` (moved to the trash, deleted): one audit event says how many."""
    ended = db.session.execute(delete(Share).where(Share.account_id == account.id)).rowcount
    if ended:
        audit.record("share.end", user=owner, details={"account": account.uuid, "reason": reason, "shares": ended})
    return ended


def leave(recipient: User, account_uuid: str) -> bool:
    """A recipient takes an account shared with them by name off their list ("Remove from my
    list"); shares with their teams or groups stay, as their owner made them for the group."""
    found = db.session.execute(
        select(Share.id, Account.uuid, Account.user_id)
        .join(Account, Account.id == Share.account_id)
        .where(Share.recipient_id == recipient.id, Account.uuid == account_uuid)
    ).first()
    if found is None:
        return False
    db.session.execute(delete(Share).where(Share.id == found.id))
    owner = db.session.get(User, found.user_id)
    audit.record("share.leave", user=owner, details={"account": found.uuid, "kind": "user", "with": recipient.username})
    return True
