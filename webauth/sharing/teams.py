"""The groups an account can be shared with: local teams an administrator defines, and the
Casdoor groups of each user, as the `groups` claim said at their last sign-in or sync.

A share with a group follows its membership: whoever is in the team, or was in the Casdoor
group at their last sign-in, sees the account; whoever leaves stops seeing it. The caller
commits; every change of a team is audited (who, which team, which user).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from webauth import audit
from webauth.extensions import db
from webauth.models import User
from webauth.sharing.models import CasdoorGroup, Team, TeamMember

MAX_TEAM_NAME = 100
# How many Casdoor groups of one user are kept (a token could carry any number).
MAX_CASDOOR_GROUPS = 100
MAX_GROUP_NAME = 255


class TeamError(ValueError):
    """A team change refused, with the reason in words for the person who asked."""


@dataclass(frozen=True)
class TeamInfo:
    name: str
    members: list[str]


def clean_team_name(name: str) -> str:
    cleaned = " ".join((name or "").split())
    if not cleaned:
        raise TeamError(_("A team needs a name."))
    if len(cleaned) > MAX_TEAM_NAME:
        raise TeamError(_("A team's name may have at most %(num)d characters.", num=MAX_TEAM_NAME))
    return cleaned


def find_team(name: str) -> Team | None:
    return db.session.scalar(select(Team).where(Team.name == " ".join((name or "").split())))


def get_team(name: str) -> Team:
    team = find_team(name)
    if team is None:
        raise TeamError(_("There is no team named %(name)s.", name=name))
    return team


def teams() -> list[TeamInfo]:
    """Every team by name, with its members' user names."""
    rows = db.session.execute(
        select(Team.name, User.username)
        .outerjoin(TeamMember, TeamMember.team_id == Team.id)
        .outerjoin(User, User.id == TeamMember.user_id)
        .order_by(func.lower(Team.name), Team.name, User.username)
    )
    found: dict[str, list[str]] = {}
    for team, username in rows:
        members = found.setdefault(team, [])
        if username is not None:
            members.append(username)
    return [TeamInfo(name, members) for name, members in found.items()]


def create_team(name: str) -> Team:
    """A new team; a name taken already (even by a team made at the same moment) is refused."""
    name = clean_team_name(name)
    if find_team(name) is not None:
        raise TeamError(_("A team named %(name)s exists already.", name=name))
    team = Team(name=name)
    try:
        with db.session.begin_nested():
            db.session.add(team)
            db.session.flush()
    except IntegrityError:
        raise TeamError(_("A team named %(name)s exists already.", name=name)) from None
    audit.record("team.create", details={"team": name})
    return team


def delete_team(name: str) -> None:
    """Remove a team: its shares end with it (the database deletes them with the team)."""
    team = get_team(name)
    db.session.delete(team)
    db.session.flush()
    audit.record("team.delete", details={"team": team.name})


def add_member(name: str, user: User) -> bool:
    """Put `user` in the team; False when they are in it already."""
    team = get_team(name)
    if db.session.get(TeamMember, (team.id, user.id)) is not None:
        return False
    try:
        with db.session.begin_nested():
            db.session.add(TeamMember(team_id=team.id, user_id=user.id))
            db.session.flush()
    except IntegrityError:  # added at the same moment by another administrator
        return False
    audit.record("team.member.add", user=user, details={"team": team.name})
    return True


def remove_member(name: str, user: User) -> bool:
    """Take `user` out of the team; False when they were not in it."""
    team = get_team(name)
    removed = db.session.execute(
        delete(TeamMember).where(TeamMember.team_id == team.id, TeamMember.user_id == user.id)
    ).rowcount
    if removed:
        audit.record("team.member.remove", user=user, details={"team": team.name})
    return bool(removed)


def store_casdoor_groups(user: User, groups: object) -> bool:
    """Keep the Casdoor groups a token or user object names (`groups`: a list of names), in
    place of those known so far; True when they changed. Anything that is not a list of names
    keeps the known groups: a token without the claim says nothing about membership."""
    if not isinstance(groups, list):
        return False
    stripped = (name.strip() for name in groups if isinstance(name, str))
    names = sorted({name for name in stripped if 0 < len(name) <= MAX_GROUP_NAME})[:MAX_CASDOOR_GROUPS]
    known = set(casdoor_groups_of(user))
    if known == set(names):
        return False
    try:
        with db.session.begin_nested():
            db.session.execute(delete(CasdoorGroup).where(CasdoorGroup.user_id == user.id))
            db.session.add_all(CasdoorGroup(user_id=user.id, name=name) for name in names)
            db.session.flush()
    except IntegrityError:  # a sign-in and a sync of the same user at the same moment: one wins
        return False
    return True


def casdoor_groups_of(user: User) -> list[str]:
    return list(db.session.scalars(select(CasdoorGroup.name).where(CasdoorGroup.user_id == user.id)))


def casdoor_group_known(name: str) -> bool:
    """Whether someone here was in this Casdoor group at their last sign-in."""
    return db.session.scalar(select(CasdoorGroup.user_id).where(CasdoorGroup.name == name).limit(1)) is not None
