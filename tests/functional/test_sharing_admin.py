"""Administrators and sharing: local teams on the admin pages, and a disabled owner's shares
suspended (not deleted) until the owner is enabled again, through the admin pages."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import post_form, sign_in
from tests.functional.test_sharing import share
from tests.support.accounts import add, events, link
from webauth.extensions import db
from webauth.models import User
from webauth.sharing import teams

pytestmark = pytest.mark.usefixtures("frozen_clock")


@pytest.fixture
def clients(app, make_user):
    make_user("root", admin=True)
    for name in ("alice", "bob", "carol"):
        make_user(name)
    made = {}
    for name in ("root", "alice", "bob", "carol"):
        made[name] = app.test_client()
        sign_in(made[name], name)
    return made


def user_id(app, name: str) -> int:
    with app.app_context():
        return db.session.scalar(select(User.id).where(User.username == name))


def test_an_administrator_makes_fills_and_deletes_a_team(app, clients):
    root = clients["root"]
    assert post_form(root, "/admin/teams", "/admin/teams", {"name": "  Ops  team "}).status_code == 302
    for name in ("bob", "carol"):
        answer = post_form(root, "/admin/teams", "/admin/teams/members", {"team": "Ops team", "username": name})
        assert answer.status_code == 302
    page = root.get("/admin/teams").get_data(as_text=True)
    assert "Ops team" in page and "bob" in page and "carol" in page

    uuid = add(app, link("GitHub", "alice@example.com"))
    assert share(clients["alice"], uuid, "Ops team", kind="group").status_code == 302
    assert "Shared by alice" in clients["carol"].get("/").get_data(as_text=True)

    form = {"team": "Ops team", "username": "carol", "action": "remove"}
    assert post_form(root, "/admin/teams", "/admin/teams/members", form).status_code == 302
    assert f'id="shared-{uuid}"' not in clients["carol"].get("/").get_data(as_text=True)
    assert f'id="shared-{uuid}"' in clients["bob"].get("/").get_data(as_text=True)

    assert post_form(root, "/admin/teams", "/admin/teams/delete", {"team": "Ops team"}).status_code == 302
    assert f'id="shared-{uuid}"' not in clients["bob"].get("/").get_data(as_text=True)
    assert [event["team"] for event in events(app, "team.delete")] == ["Ops team"]


@pytest.mark.parametrize(
    ("path", "form", "status"),
    [
        ("/admin/teams", {"name": ""}, 422),
        ("/admin/teams", {"name": "x" * 101}, 422),
        ("/admin/teams/members", {"team": "Ops", "username": "nobody"}, 422),
        ("/admin/teams/members", {"team": "Nope", "username": "bob"}, 404),
        ("/admin/teams/delete", {"team": "Nope"}, 404),
    ],
)
def test_team_mistakes_are_refused_with_a_reason(app, clients, path, form, status):
    with app.app_context():
        teams.create_team("Ops")
        db.session.commit()
    answer = post_form(clients["root"], "/admin/teams", path, form)
    assert answer.status_code == status
    assert 'id="team-error"' in answer.get_data(as_text=True)


def test_a_second_team_of_the_same_name_is_refused(app, clients):
    post_form(clients["root"], "/admin/teams", "/admin/teams", {"name": "Ops"})
    assert post_form(clients["root"], "/admin/teams", "/admin/teams", {"name": "Ops"}).status_code == 409
    assert [team.name for team in _teams(app)] == ["Ops"]


def _teams(app):
    with app.app_context():
        return teams.teams()


def test_teams_are_for_administrators_only(clients):
    assert clients["alice"].get("/admin/teams").status_code == 403
    assert post_form(clients["alice"], "/", "/admin/teams", {"name": "Mine"}).status_code == 403


def test_disabling_the_owner_suspends_their_shares_and_enabling_restores_them(app, clients):
    uuid = add(app, link("GitHub", "alice@example.com"))
    share(clients["alice"], uuid, "bob")
    page = f"/admin/users/{user_id(app, 'alice')}"
    assert post_form(clients["root"], page, f"{page}/disable", {}).status_code == 302
    assert f'id="shared-{uuid}"' not in clients["bob"].get("/").get_data(as_text=True)
    assert clients["bob"].get(f"/shared/{uuid}").status_code == 404
    assert post_form(clients["root"], page, f"{page}/enable", {}).status_code == 302
    assert f'id="shared-{uuid}"' in clients["bob"].get("/").get_data(as_text=True)
