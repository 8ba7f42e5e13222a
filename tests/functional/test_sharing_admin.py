"""Administrators and sharing: local teams on the admin pages, and a disabled owner's shares
suspended (not deleted) until the owner is enabled again, through the admin pages."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import post_form, sign_in
from tests.functional.test_sharing import share
from tests.support.accounts import add, events, link
from webauth.extensions import db
from webauth.models import AuditEvent, ShareLink, User
from webauth.sharing import teams
from webauth.sharing.models import Share

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


# An administrator sees and ends a user's share links and shares --------------------------


def _alices_link_and_share(app, clients) -> tuple[str, str, int]:
    """Alice's GitHub account shared with bob and by a 10-minute link (the token, and the link's id)."""
    from tests.functional.test_share_links import fetch, make_link

    uuid = add(app, link("GitHub", "alice@example.com"))
    assert share(clients["alice"], uuid, "bob").status_code == 302
    _answer, token = make_link(clients["alice"], uuid, 10)
    assert token and fetch(app.test_client(), token, opened=True).status_code == 200
    with app.app_context():
        link_id = db.session.scalar(select(ShareLink.id))
    return uuid, token, link_id


def test_an_administrator_sees_a_users_share_links_and_shares_but_never_a_token(app, clients):
    _uuid, token, link_id = _alices_link_and_share(app, clients)
    page = clients["root"].get(f"/admin/users/{user_id(app, 'alice')}").get_data(as_text=True)
    section = page.split('id="sharing"')[1].split("</section>")[0]
    assert "GitHub (alice@example.com)" in section and "bob" in section
    assert f"/admin/users/{user_id(app, 'alice')}/share-links/{link_id}/revoke" in section
    assert "opened 1 time" in section  # last viewed, and how often
    assert token not in page
    # Nothing shared, nothing listed.
    page = clients["root"].get(f"/admin/users/{user_id(app, 'carol')}").get_data(as_text=True)
    assert "No share link is running." in page and "None of their accounts is shared." in page


def test_an_administrator_revokes_a_users_share_link_audited_as_the_actor(app, clients):
    from tests.functional.test_share_links import fetch

    uuid, token, link_id = _alices_link_and_share(app, clients)
    alice = user_id(app, "alice")
    page = f"/admin/users/{alice}"
    answer = post_form(clients["root"], page, f"/admin/users/{alice}/share-links/{link_id}/revoke", {})
    assert answer.status_code == 302 and answer.headers["Location"] == f"/admin/users/{alice}#sharing"
    assert fetch(app.test_client(), token).status_code == 410
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.event == "sharelink.revoke"))
        assert (event.user_id, event.actor_id) == (alice, user_id(app, "root"))
        assert event.details == {"account": uuid, "link": link_id, "by": "admin"}
    # Revoked already: nothing to revoke.
    assert post_form(clients["root"], page, f"/admin/users/{alice}/share-links/{link_id}/revoke", {}).status_code == 404


def test_an_administrator_ends_a_share_of_a_users_account(app, clients):
    uuid, _token, _link_id = _alices_link_and_share(app, clients)
    alice = user_id(app, "alice")
    with app.app_context():
        share_id = db.session.scalar(select(Share.id))
    page = f"/admin/users/{alice}"
    answer = post_form(clients["root"], page, f"/admin/users/{alice}/shares/{share_id}/remove", {})
    assert answer.status_code == 302
    assert f'id="shared-{uuid}"' not in clients["bob"].get("/").get_data(as_text=True)
    assert events(app, "share.remove") == [{"account": uuid, "kind": "user", "with": "bob", "by": "admin"}]
    assert "bob no longer has access to GitHub (alice@example.com)." in clients["root"].get(page).get_data(as_text=True)


@pytest.mark.parametrize("who", ["alice", "bob"])
def test_only_an_administrator_may_end_a_users_links_and_shares(app, clients, who):
    from tests.functional.test_share_links import fetch

    uuid, token, link_id = _alices_link_and_share(app, clients)
    alice = user_id(app, "alice")
    with app.app_context():
        share_id = db.session.scalar(select(Share.id))
    client = clients[who]
    assert client.get(f"/admin/users/{alice}").status_code == 403
    revoke = f"/admin/users/{alice}/share-links/{link_id}/revoke"
    for action in (revoke, f"/admin/users/{alice}/shares/{share_id}/remove"):
        assert post_form(client, "/", action, {}).status_code == 403
    assert fetch(app.test_client(), token).status_code == 200
    assert f'id="shared-{uuid}"' in clients["bob"].get("/").get_data(as_text=True)


def test_an_administrator_cannot_end_another_users_link_or_share_through_this_user(app, clients):
    _uuid, _token, link_id = _alices_link_and_share(app, clients)
    carol = user_id(app, "carol")
    with app.app_context():
        share_id = db.session.scalar(select(Share.id))
    root = clients["root"]
    assert post_form(root, "/", f"/admin/users/{carol}/share-links/{link_id}/revoke", {}).status_code == 404
    assert post_form(root, "/", f"/admin/users/{carol}/shares/{share_id}/remove", {}).status_code == 404
    # A form without its CSRF token is refused too.
    assert root.post(f"/admin/users/{user_id(app, 'alice')}/shares/{share_id}/remove").status_code == 400
    assert events(app, "share.remove") == [] and events(app, "sharelink.revoke") == []


def test_the_command_line_lists_every_share_of_a_users_accounts(app, clients):
    uuid, _token, _link_id = _alices_link_and_share(app, clients)
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["accounts", "shares", "--user", "alice"])
    assert listed.exit_code == 0 and listed.output == f"{uuid}  user   bob  GitHub (alice@example.com)\n"
    links = runner.invoke(args=["accounts", "share-links", "--user", "alice"])
    assert "last 2026-01-01 00:00:10 UTC" in links.output  # the last view's time
