"""Sharing an account, the owner's side: who has access, sharing, unsharing, and the ends of
shares (the account trashed or deleted, a recipient leaving: a share by name ends, a team's or
group's is hidden from that one person).

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
from sqlalchemy import delete, exists, or_, select
from sqlalchemy.exc import IntegrityError

from webauth import audit
from webauth.extensions import db
from webauth.models import Account, User
from webauth.sharing.models import CasdoorGroup, Share, ShareLeave, Team, TeamMember
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
    # Members of the team or group who took the account off their own list (user names).
    left: tuple[str, ...] = ()


def _owned(owner: User, account: Account) -> None:
    if account.user_id != owner.id or account.deleted_at is not None:
        raise ShareError(_("Only the owner can share this account."))


def reaching(user_id) -> list:
    """The conditions of a share that reaches the user: with them by name, with a team they are
    in, or with a Casdoor group they were in at their last sign-in, and not one they left."""
    teams = select(TeamMember.team_id).where(TeamMember.user_id == user_id)
    groups = select(CasdoorGroup.name).where(CasdoorGroup.user_id == user_id)
    left = exists().where(ShareLeave.share_id == Share.id, ShareLeave.user_id == user_id)
    return [
        or_(Share.recipient_id == user_id, Share.team_id.in_(teams), Share.casdoor_group.in_(groups)),
        ~left,
    ]


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
        returned = _forget_leaves(existing)
        if returned:  # sharing with the group again brings it back to those who had left it
            audit.record("share.add", user=owner, details={**_details(account, kind, name, allow), "again": returned})
        return existing, bool(returned)
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


def _forget_leaves(item: Share) -> list[str]:
    """Delete the leaves of a share; the user names of those who had left it."""
    names = list(db.session.scalars(
        select(User.username).join(ShareLeave, ShareLeave.user_id == User.id).where(ShareLeave.share_id == item.id)
    ))
    if names:
        db.session.execute(delete(ShareLeave).where(ShareLeave.share_id == item.id))
    return sorted(names)


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
    leaves: dict[int, list[str]] = {}
    for share_id, username in db.session.execute(
        select(ShareLeave.share_id, User.username)
        .join(User, User.id == ShareLeave.user_id)
        .join(Share, Share.id == ShareLeave.share_id)
        .where(Share.account_id == account.id)
        .order_by(User.username)
    ):
        leaves.setdefault(share_id, []).append(username)
    found = []
    for item, username, team in rows:
        if username is not None:
            kind, name = "user", username
        elif team is not None:
            kind, name = "team", team
        else:
            kind, name = "group", item.casdoor_group or ""
        left = tuple(leaves.get(item.id, ()))
        found.append(Recipient(item.id, kind, name, item.allow_hotp_next, item.created_at, left))
    order = {"user": 0, "team": 1, "group": 2}
    return sorted(found, key=lambda item: (order[item.kind], item.name.casefold()))


def end_shares(owner: User, account: Account, *, reason: str) -> int:
    """End every share of `account` (moved to the trash, deleted): one audit event says how many."""
    ended = db.session.execute(delete(Share).where(Share.account_id == account.id)).rowcount
    if ended:
        audit.record("share.end", user=owner, details={"account": account.uuid, "reason": reason, "shares": ended})
    return ended


def leave(recipient: User, account_uuid: str) -> bool:
    """A recipient takes an account shared with them off their list ("Remove from my list"):
    a share with them by name ends; a share with a team or group they are in stays for the
    others and is hidden from them (`ShareLeave`) until the owner shares it with them again.
    False when no share of that account reaches them. Audited in the owner's log as
    `share.leave`, the recipient as the actor."""
    rows = db.session.execute(
        select(Share.id, Share.recipient_id, Share.casdoor_group, Team.name.label("team"), Account.uuid,
               Account.user_id)
        .join(Account, Account.id == Share.account_id)
        .outerjoin(Team, Team.id == Share.team_id)
        .where(Account.uuid == account_uuid, Account.user_id != recipient.id, *reaching(recipient.id))
    ).all()
    if not rows:
        return False
    owner = db.session.get(User, rows[0].user_id)
    for row in rows:
        if row.recipient_id == recipient.id:
            db.session.execute(delete(Share).where(Share.id == row.id))
            details = {"account": row.uuid, "kind": "user", "with": recipient.username}
        else:
            try:
                with db.session.begin_nested():
                    db.session.add(ShareLeave(share_id=row.id, user_id=recipient.id))
                    db.session.flush()
            except IntegrityError:  # left at the same moment from another page
                continue
            kind, name = ("team", row.team) if row.team is not None else ("group", row.casdoor_group or "")
            details = {"account": row.uuid, "kind": kind, "with": name, "who": recipient.username}
        audit.record("share.leave", user=owner, details=details)
    return True
