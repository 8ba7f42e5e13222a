"""The admin console's teams page: local teams that accounts can be shared with.

These routes belong to the `admin` blueprint (views/admin.py), whose `require_admin` guards
them; register_blueprints imports this module before the blueprint is registered. Plain forms
that post and come back to the page; a refusal shows the page again with the reason (4xx).
The domain is sharing/teams.py.
"""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_babel import gettext as _

from webauth import users
from webauth.extensions import db
from webauth.sharing import teams
from webauth.views.admin import bp
from webauth.views.common import page_or_fragment


def _page(error: str = "", status: int = 200):
    return page_or_fragment("admin/teams.html", "admin/teams.html", status, teams=teams.teams(), error=error)


def _refused(error: teams.TeamError | str, status: int = 422):
    db.session.rollback()
    return _page(str(error), status)


@bp.get("/teams")
def teams_page():
    return _page()


@bp.post("/teams")
def create_team():
    try:
        team = teams.create_team(request.form.get("name", "")[:200])
    except teams.TeamError as error:
        return _refused(error, 409 if teams.find_team(request.form.get("name", "")) else 422)
    db.session.commit()
    flash(_("Made the team %(name)s.", name=team.name), "success")
    return redirect(url_for("admin.teams_page"))


@bp.post("/teams/delete")
def delete_team():
    name = request.form.get("team", "")
    try:
        teams.delete_team(name)
    except teams.TeamError as error:
        return _refused(error, 404)
    db.session.commit()
    message = _("Deleted the team %(name)s: what was shared with it is no longer shared with its members.", name=name)
    flash(message, "success")
    return redirect(url_for("admin.teams_page"))


@bp.post("/teams/members")
def change_member():
    """Add a user to a team (`action` "add") or take one out ("remove")."""
    name = request.form.get("team", "")
    username = request.form.get("username", "").strip()[:255]
    member = users.find_user(username) if username else None
    if member is None:
        return _refused(_("There is no user named %(name)s.", name=username))
    try:
        if request.form.get("action") == "remove":
            teams.remove_member(name, member)
            message = _("Took %(user)s out of %(team)s.", user=member.username, team=name)
        else:
            teams.add_member(name, member)
            message = _("Added %(user)s to %(team)s.", user=member.username, team=name)
    except teams.TeamError as error:
        return _refused(error, 404)
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("admin.teams_page"))
