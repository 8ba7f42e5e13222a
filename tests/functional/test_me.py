"""A user's own sign-ins and sessions, and revocation reaching every process on the database."""

from __future__ import annotations

import re

from sqlalchemy import select

from tests.conftest import TEST_PASSWORD, csrf_from, post_form, sign_in
from webauth import create_app
from webauth.extensions import db
from webauth.models import AuditEvent, SessionRecord, User, utcnow

HTMX = {"HX-Request": "true"}


def live_sessions(app, username: str = "alice") -> list[int]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(SessionRecord.id)
                .join(User, User.id == SessionRecord.user_id)
                .where(User.username == username, SessionRecord.revoked_at.is_(None))
                .order_by(SessionRecord.id)
            )
        )


def audited(app, name: str) -> list[AuditEvent]:
    with app.app_context():
        found = list(db.session.scalars(select(AuditEvent).where(AuditEvent.event == name)))
        db.session.expunge_all()
        return found


def test_my_page_lists_my_sessions_and_sign_ins_only(app, signed_in, make_user):
    make_user("bob")
    sign_in(app.test_client(), "bob")
    post_form(app.test_client(), "/login", "/login", {"username": "alice", "password": "not the password"})
    html = signed_in.get("/me/").get_data(as_text=True)
    assert "This device" in html
    assert len(re.findall(r'action="/me/sessions/\d+/revoke"', html)) == 1  # bob's session is not mine
    assert "wrong username or password" in html and "Signed in" in html
    fragment = signed_in.get("/me/", headers=HTMX).get_data(as_text=True)
    assert fragment.lstrip().startswith('<section id="signins"') and fragment.strip() in html
    assert 'href="/me/"' in signed_in.get("/").get_data(as_text=True)  # the nav leads there


def test_i_can_end_another_of_my_sessions_but_not_someone_elses(app, signed_in, make_user):
    phone = app.test_client()
    sign_in(phone)
    make_user("bob")
    bob = app.test_client()
    sign_in(bob, "bob")
    _mine, other = live_sessions(app)
    [bobs] = live_sessions(app, "bob")
    assert post_form(signed_in, "/me/", f"/me/sessions/{bobs}/revoke", {}).status_code == 404
    assert bob.get("/").status_code == 200
    response = post_form(signed_in, "/me/", f"/me/sessions/{other}/revoke", {})
    assert response.status_code == 302 and phone.get("/").status_code == 302
    assert signed_in.get("/").status_code == 200
    assert [e.details["session"] for e in audited(app, "session.revoke")] == [other]


def test_sign_out_everywhere_else_keeps_this_session(app, signed_in):
    others = [app.test_client() for _ in range(2)]
    for client in others:
        sign_in(client)
    post_form(signed_in, "/me/", "/me/sessions/revoke-others", {})
    assert [client.get("/").status_code for client in others] == [302, 302]
    assert signed_in.get("/").status_code == 200
    assert audited(app, "session.revoke_others")[0].details == {"count": 2}


def test_ending_my_current_session_signs_me_out(app, signed_in):
    [mine] = live_sessions(app)
    response = post_form(signed_in, "/me/", f"/me/sessions/{mine}/revoke", {})
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    assert signed_in.get("/").status_code == 302


def test_the_lock_ends_the_session_and_comes_back_after_sign_in(app, signed_in):
    token = csrf_from(signed_in.get("/").get_data(as_text=True))
    response = signed_in.post("/me/lock", data={"csrf_token": token, "next": "/accounts/new"})
    assert response.status_code == 302 and response.headers["Location"] == "/login?next=/accounts/new"
    assert "Locked after a while without activity" in signed_in.get("/login").get_data(as_text=True)
    assert signed_in.get("/").status_code == 302
    assert len(audited(app, "session.lock")) == 1
    token = csrf_from(signed_in.get("/login").get_data(as_text=True))
    back = signed_in.post(
        "/login?next=/accounts/new", data={"csrf_token": token, "username": "alice", "password": TEST_PASSWORD}
    )
    assert back.headers["Location"] == "/accounts/new"
    # The server may have locked the idle session already: the page still lands on the sign-in.
    token = csrf_from(signed_in.get("/").get_data(as_text=True))
    with app.app_context():
        db.session.query(SessionRecord).update({"revoked_at": utcnow()})
        db.session.commit()
    response = signed_in.post("/me/lock", data={"csrf_token": token, "next": "/accounts/new"})
    assert response.headers["Location"] == "/login?next=/accounts/new"
    sign_in(signed_in)
    # Another site's address is not followed.
    token = csrf_from(signed_in.get("/").get_data(as_text=True))
    response = signed_in.post("/me/lock", data={"csrf_token": token, "next": "//evil.example/"})
    assert response.headers["Location"] == "/login?next=/"


def test_an_admin_revocation_reaches_another_process_on_the_same_database(app, app_config, signed_in, make_user):
    bob = make_user("bob")
    second_process = create_app(dict(app_config))
    bob_client = second_process.test_client()
    sign_in(bob_client, "bob")
    assert bob_client.get("/").status_code == 200
    [session_id] = live_sessions(app, "bob")
    post_form(signed_in, f"/admin/users/{bob.id}", f"/admin/users/{bob.id}/sessions/{session_id}/revoke", {})
    response = bob_client.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_disabling_reaches_another_process_on_the_same_database(app, app_config, signed_in, make_user):
    bob = make_user("bob")
    second_process = create_app(dict(app_config))
    bob_client = second_process.test_client()
    sign_in(bob_client, "bob")
    assert bob_client.get("/").status_code == 200
    post_form(signed_in, f"/admin/users/{bob.id}", f"/admin/users/{bob.id}/disable", {})
    assert bob_client.get("/").status_code == 302
    # Even a session the admin's revocation missed is refused while the user is disabled.
    with second_process.app_context():
        db.session.query(SessionRecord).filter_by(user_id=bob.id).update({"revoked_at": None})
        db.session.commit()
    assert bob_client.get("/").status_code == 302
