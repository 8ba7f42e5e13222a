"""What an administrator sees of one user's sharing: the share links running and the shares
made of their accounts, and the two ways to end them.

An administrator answers for the server: when an owner is away, a link handed to the wrong
person or a share with someone who left must still end. They see what the owner's own page
shows (the account's label, when a link was made and ends, when it was last opened; who has
access), never a link's token (the server does not have it) nor a code. Ending goes through
the same domain calls as the owner's buttons (`links.revoke`, `rules.unshare_id`), so the audit
records the same events, `sharelink.revoke` and `share.remove`, with the administrator as actor
and `"by": "admin"` in their details. The caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from webauth.extensions import db
from webauth.models import Account, ShareLink, User
from webauth.sharelinks import links
from webauth.sharing import rules
from webauth.sharing.models import Share


@dataclass(frozen=True)
class LinkRow:
    """A running share link as an administrator sees it: no token, no code."""

    id: int
    account_uuid: str
    label: str
    created_at: datetime
    expires_at: datetime
    last_view_at: datetime | None
    views: int


@dataclass(frozen=True)
class ShareRow:
    """One share of one of the user's live accounts."""

    account_uuid: str
    label: str
    recipient: rules.Recipient


def _label(account: Account) -> str:
    if account.issuer and account.name:
        return f"{account.issuer} ({account.name})"
    return account.issuer or account.name


def running_links(user: User) -> list[LinkRow]:
    """The user's running share links, the soonest to end first."""
    found = links.links_of(user)
    accounts = {
        account.id: account
        for account in db.session.scalars(select(Account).where(Account.id.in_({link.account_id for link in found})))
    }
    return [
        LinkRow(link.id, accounts[link.account_id].uuid, _label(accounts[link.account_id]), link.created_at,
                link.expires_at, link.last_view_at, link.views)
        for link in found
        if link.account_id in accounts
    ]


def shares_made(owner: User) -> list[ShareRow]:
    """Every share of the owner's live accounts, by account label, then as the account's page orders them."""
    accounts = db.session.scalars(
        select(Account)
        .where(Account.user_id == owner.id, Account.deleted_at.is_(None),
               Account.id.in_(select(Share.account_id)))
        .order_by(Account.issuer, Account.name, Account.id)
    )
    return [
        ShareRow(account.uuid, _label(account), recipient)
        for account in accounts
        for recipient in rules.recipients(account)
    ]


def revoke_link(user: User, link_id: int) -> ShareLink:
    """End one of the user's links for them; `LookupError` for a link that is not theirs or has ended."""
    link = links.get(user, link_id)
    if not links.is_live(link):
        raise LookupError(link_id)
    links.revoke(user, link, by="admin")
    return link


def end_share(owner: User, share_id: int) -> ShareRow:
    """End one share of the owner's accounts for them; `LookupError` when there is no such share."""
    account = db.session.scalar(
        select(Account)
        .join(Share, Share.account_id == Account.id)
        .where(Share.id == share_id, Account.user_id == owner.id, Account.deleted_at.is_(None))
    )
    if account is None:
        raise LookupError(share_id)
    found = next((item for item in rules.recipients(account) if item.share_id == share_id), None)
    if found is None or not rules.unshare_id(owner, account, share_id, by="admin"):
        raise LookupError(share_id)
    return ShareRow(account.uuid, _label(account), found)
