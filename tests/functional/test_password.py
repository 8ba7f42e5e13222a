"""Changing one's password, and an administrator's reset that forces a change at the next sign-in."""

from __future__ import annotations

from sqlalchemy import select

from tests.conftest import TEST_PASSWORD, post_form, sign_in
from webauth import users
from webauth.extensions import db
from webauth.models import AuditEvent, SessionRecord, User

NEW_PASSWORD = "a brand new passphrase"
HTMX = {"HX-Request": "true"}


def _events(app, name: str) -> list[AuditEvent]:
    with app.app_context():
        found = list(db.session.scalars(select(AuditEvent).where(AuditEvent.event == name)))
        db.session.expunge_all()
        return found


def _live_sessions(app, username: str) -> int:
    with app.app_context():
        return len(
            db.session.scalars(
                select(SessionRecord.id)
                .join(User, User.id == SessionRecord.user_id)
                .where(User.username == username, SessionRecord.revoked_at.is_(None))
            ).all()
        )


def _change(client, current: str, new: str = NEW_PASSWORD, *, confirm: str | None = None, end_others: bool = True):
    data = {"current_password": current, "password": new, "confirm": new if confirm is None else confirm}
    if end_others:
        data["end_others"] = "y"
    return post_form(client, "/me/password", "/me/password", data)


def test_the_sessions_page_links_to_the_change_password_page(signed_in):
    html = signed_in.get("/me/").get_data(as_text=True)
    assert '<a href="/me/password">change your password</a>' in html
    page = signed_in.get("/me/password").get_data(as_text=True)
    assert 'name="current_password"' in page and 'name="end_others"' in page


def test_i_change_my_password_and_my_other_sessions_end_when_i_ask(app, signed_in):
    phone = app.test_client()
    sign_in(phone)
    response = _change(signed_in, TEST_PASSWORD)
    assert response.status_code == 302 and response.headers["Location"] == "/me/"
    assert "1 other session is signed out" in signed_in.get("/me/").get_data(as_text=True)
    assert phone.get("/").status_code == 302  # the other device is signed out
    assert signed_in.get("/").status_code == 200  # this one stays
    [event] = _events(app, "user.password.change")
    assert event.details == {"sessions_ended": 1, "after_reset": False}
    sign_in(app.test_client(), password=NEW_PASSWORD)
    refused = post_form(app.test_client(), "/login", "/login", {"username": "alice", "password": TEST_PASSWORD})
    assert refused.status_code == 401


def test_other_sessions_stay_unless_asked(app, signed_in):
    phone = app.test_client()
    sign_in(phone)
    assert _change(signed_in, TEST_PASSWORD, end_others=False).status_code == 302
    assert phone.get("/").status_code == 200 and _live_sessions(app, "alice") == 2


def test_a_wrong_current_password_is_refused_clearly_and_audited(app, signed_in):
    response = _change(signed_in, "not my password")
    assert response.status_code == 401
    assert "This is not your current password." in response.get_data(as_text=True)
    assert _events(app, "user.password.failure") == [] and len(_events(app, "user.password.change_failure")) == 1
    assert _events(app, "user.password.change") == []
    sign_in(app.test_client())  # the old password still works


def test_a_bad_new_password_is_refused_with_the_reason(app, signed_in):
    short = _change(signed_in, TEST_PASSWORD, "short")
    assert short.status_code == 422 and "Use at least 8 characters." in short.get_data(as_text=True)
    differ = _change(signed_in, TEST_PASSWORD, confirm="something else entirely")
    assert differ.status_code == 422 and "The passwords differ." in differ.get_data(as_text=True)
    same = _change(signed_in, TEST_PASSWORD, TEST_PASSWORD)
    assert same.status_code == 422 and "Choose a password different" in same.get_data(as_text=True)
    sign_in(app.test_client())


def test_a_user_without_a_password_here_is_told_why(app, client, make_user):
    make_user("carol")
    sign_in(client, "carol")
    with app.app_context():
        carol = users.find_user("carol")
        carol.password_hash, carol.oidc_issuer, carol.oidc_subject = None, "https://casdoor.test", "sub-carol"
        db.session.commit()
    page = client.get("/me/password")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "You sign in with Casdoor" in html and 'name="current_password"' not in html
    assert _change(client, "anything").status_code == 409


def test_the_page_is_in_chinese(app, client, user):
    sign_in(client)
    post_form(client, "/me/password", "/language", {"locale": "zh_Hans", "next": "/me/password"})
    response = _change(client, "not my password")
    assert "这不是您当前的密码" in response.get_data(as_text=True)


def _reset(admin_client, user_id: int, password: str = "handed over 1234"):
    page = f"/admin/users/{user_id}/password"
    return post_form(admin_client, page, page, {"password": password, "confirm": password})


def test_an_administrator_resets_a_password_which_must_then_be_changed(app, signed_in, make_user):
    bob = make_user("bob")
    bobs_phone = app.test_client()
    sign_in(bobs_phone, "bob")
    assert f'href="/admin/users/{bob.id}/password"' in signed_in.get(f"/admin/users/{bob.id}").get_data(as_text=True)
    response = _reset(signed_in, bob.id)
    assert response.status_code == 302
    assert bobs_phone.get("/").status_code == 302  # the reset ended bob's sessions
    [event] = _events(app, "user.password.reset")
    assert event.details == {"by": "admin", "sessions_ended": 1} and event.username == "bob"
    assert "handed over" not in str(event.details)

    bob_client = app.test_client()
    landing = post_form(bob_client, "/login", "/login", {"username": "bob", "password": "handed over 1234"})
    assert landing.status_code == 302
    for path in ("/", "/accounts/new", "/me/", "/transfer/export", "/admin/"):
        answer = bob_client.get(path)
        assert answer.status_code == 302 and answer.headers["Location"] == "/me/password", path
    fragment = bob_client.get("/codes", headers=HTMX)
    assert fragment.status_code == 401 and fragment.headers["HX-Redirect"] == "/me/password"
    page = bob_client.get("/me/password").get_data(as_text=True)
    assert "An administrator reset your password" in page
    assert _change(bob_client, "handed over 1234", "bob's own secret words").status_code == 302
    assert bob_client.get("/").status_code == 200
    [change] = _events(app, "user.password.change")
    assert change.details["after_reset"] is True


def test_an_administrator_cannot_reset_their_own_or_a_casdoor_users_password(app, signed_in, make_user, user):
    own = signed_in.get(f"/admin/users/{user.id}/password")
    assert own.status_code == 302 and own.headers["Location"] == "/me/password"
    casdoor = make_user("dave")
    with app.app_context():
        dave = db.session.get(User, casdoor.id)
        dave.password_hash, dave.oidc_issuer, dave.oidc_subject = None, "https://casdoor.test", "sub-dave"
        db.session.commit()
    refused = signed_in.get(f"/admin/users/{casdoor.id}/password")
    assert refused.status_code == 409 and "reset it in Casdoor" in refused.get_data(as_text=True)


def test_only_administrators_reset_passwords(app, client, make_user, user):
    make_user("bob")
    sign_in(client, "bob")
    assert client.get(f"/admin/users/{user.id}/password").status_code == 403


def test_the_command_line_sets_or_resets_a_password(app, make_user):
    make_user("bob")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "set-password", "bob", "--password-stdin"], input="operator set pw\n")
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert users.authenticate("bob", "operator set pw").must_change_password is False
    session = app.test_client()
    sign_in(session, "bob", "operator set pw")
    result = runner.invoke(
        args=["users", "set-password", "bob", "--password-stdin", "--force-change"], input="reset by operator\n"
    )
    assert result.exit_code == 0, result.output
    assert session.get("/").status_code == 302
    client = app.test_client()
    sign_in(client, "bob", "reset by operator")
    assert client.get("/").headers["Location"] == "/me/password"
    [event] = _events(app, "user.password.reset")
    assert event.details == {"by": "cli", "sessions_ended": 1}
    short = runner.invoke(args=["users", "set-password", "bob", "--password-stdin", "--force-change"], input="x\n")
    assert short.exit_code != 0 and "at least 8 characters" in short.output
