"""The tables of sharing: shares of an account, local teams and their members, and the Casdoor
groups each user was last seen in.

They live beside the feature rather than in webauth/models.py, whose tables they refer to;
like those, they are read and written only by the domain modules (here: rules.py, teams.py,
received.py). A share never holds a secret: it names an account, which stays sealed under its
owner's data key.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from webauth.extensions import db
from webauth.models import UTCDateTime, utcnow

# A recipient is exactly one of: a user, a local team, a Casdoor group.
_ONE_RECIPIENT = (
    "(CASE WHEN recipient_id IS NULL THEN 0 ELSE 1 END)"
    " + (CASE WHEN team_id IS NULL THEN 0 ELSE 1 END)"
    " + (CASE WHEN casdoor_group IS NULL THEN 0 ELSE 1 END) = 1"
)


class Team(db.Model):
    """A local team an administrator defines, to share with several people at once."""

    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TeamMember(db.Model):
    __tablename__ = "team_members"

    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)


class CasdoorGroup(db.Model):
    """A Casdoor group a user is in, as the `groups` claim said at their last sign-in or sync."""

    __tablename__ = "user_casdoor_groups"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True, index=True)


class Share(db.Model):
    """One account shared with one recipient: a user, a team or a Casdoor group.

    The unique constraints keep one share when two identical ones are made at once (NULLs
    never collide, so each constraint binds only its own kind of recipient).
    """

    __tablename__ = "shares"
    __table_args__ = (
        CheckConstraint(_ONE_RECIPIENT, name="ck_shares_one_recipient"),
        UniqueConstraint("account_id", "recipient_id", name="uq_shares_account_user"),
        UniqueConstraint("account_id", "team_id", name="uq_shares_account_team"),
        UniqueConstraint("account_id", "casdoor_group", name="uq_shares_account_group"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    casdoor_group: Mapped[str | None] = mapped_column(String(255), index=True)
    # Whether recipients may move an HOTP account to its next code (which uses up the owner's).
    allow_hotp_next: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ShareLeave(db.Model):
    """A recipient who took a team's or Casdoor group's share off their own list.

    The share stays for the rest of the group; this row hides it from this one person, until
    the owner shares the account with them again (by name, or with the group once more, which
    deletes these rows: rules.share). It goes with the share, and with the user.
    """

    __tablename__ = "share_leaves"

    share_id: Mapped[int] = mapped_column(ForeignKey("shares.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
