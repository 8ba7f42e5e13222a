"""The settings page: each switch takes effect at the next request, in every process."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from tests.conftest import TEST_PASSWORD, post_form, sign_in
from webauth import create_app, settings
from webauth.extensions import db
from webauth.models import AuditEvent, SessionRecord, User, utcnow

DEFAULTS = {
    "local_signin": "y",
    "open_registration": "",
    "offline_allowed": "y",
    "session_hours": "336",
    "idle_lock_minutes": "0",
}


def save(client, **changes):
    """Post the settings form as a browser would: unchecked boxes are simply absent."""
    data = {**DEFAULTS, **{name: str(value) for name, value in changes.items()}}
    data = {name: value for name, value in data.items() if value != ""}
    return post_form(client, "/admin/settings", "/admin/settings", data)


def in_force(app, name: str):
    with app.test_request_context():
        return settings.get_setting(name)


def test_defaults_come_from_the_config_and_the_page_shows_them(app_config, user):
    app = create_app({**app_config, "WEBAUTH_IDLE_LOCK_MINUTES": 15, "WEBAUTH_OFFLINE_ALLOWED": False})
    client = app.test_client()
    sign_in(client)
    html = client.get("/admin/settings").get_data(as_text=True)
    assert re.search(r'<input[^>]*name="idle_lock_minutes"[^>]*value="15"', html)
    assert "checked" not in re.search(r'<input[^>]*id="offline_allowed"[^>]*>', html).group(0)
    assert "checked" in re.search(r'<input[^>]*id="local_signin"[^>]*>', html).group(0)
    with app.test_request_context():
        assert settings.offline_allowed() is False and settings.idle_lock() == timedelta(minutes=15)
        assert settings.session_lifetime() == timedelta(hours=336)


def test_saving_stores_only_changes_and_audits_them(app, signed_in, user):
    response = save(signed_in, offline_allowed="", session_hours=12)
    assert response.status_code == 302
    assert "Settings saved." in signed_in.get("/admin/settings").get_data(as_text=True)
    with app.test_request_context():
        assert settings.offline_allowed() is False
        assert settings.session_lifetime() == timedelta(hours=12)
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.event == "settings.change"))
        assert event.actor_id == user.id
        assert event.details == {"offline_allowed": [True, False], "session_hours": [336, 12]}
    save(signed_in, offline_allowed="", session_hours=12)
    assert "Nothing changed." in signed_in.get("/admin/settings").get_data(as_text=True)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"session_hours": 0}, "Enter a number from 1 to 8784."),
        ({"session_hours": "many"}, "Not a valid integer value."),
        ({"idle_lock_minutes": -1}, "Enter a number from 0 to 1440."),
        ({"idle_lock_minutes": ""}, "This field is required."),
    ],
)
def test_bad_values_are_refused_with_a_message(app, signed_in, changes, message):
    response = save(signed_in, **changes)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    with app.test_request_context():
        assert settings.all_settings() == {
            "local_signin": True, "open_registration": False, "offline_allowed": True,
            "session_hours": 336, "idle_lock_minutes": 0,
        }


def test_the_domain_checks_values_too(app):
    with app.test_request_context():
        with pytest.raises(settings.SettingError):
            settings.update_settings({"session_hours": 10_000})
        with pytest.raises(settings.SettingError):
            settings.update_settings({"local_signin": "yes"})
        with pytest.raises(settings.SettingError):
            settings.update_settings({"no_such_setting": 1})


CASDOOR = {"WEBAUTH_CASDOOR_URL": "https://door.example", "WEBAUTH_CASDOOR_CLIENT_ID": "webauth"}


def test_password_sign_in_off_leaves_only_casdoor(app_config, user):
    app = create_app({**app_config, **CASDOOR})
    admin_client = app.test_client()
    sign_in(admin_client)
    assert save(admin_client, local_signin="").status_code == 302
    visitor = app.test_client()
    page = visitor.get("/login").get_data(as_text=True)
    assert "Signing in with a password is turned off on this server." in page
    assert 'name="password"' not in page
    response = post_form(visitor, "/login", "/login", {"username": "alice", "password": TEST_PASSWORD})
    assert response.status_code == 403
    assert "Signing in with a password is turned off on this server." in response.get_data(as_text=True)
    assert admin_client.get("/").status_code == 200  # sessions already open carry on
    # Registration makes local users: with the password form gone it is closed too.
    save(admin_client, local_signin="", open_registration="y")
    assert visitor.get("/register").status_code == 404
    # And back on.
    save(admin_client, local_signin="y")
    sign_in(app.test_client())


def test_without_casdoor_the_password_cannot_be_turned_off(app, signed_in):
    html = signed_in.get("/admin/settings").get_data(as_text=True)
    assert "disabled" in re.search(r'<input[^>]*id="local_signin"[^>]*>', html).group(0)
    assert "Casdoor is not set up" in html
    save(signed_in, local_signin="", idle_lock_minutes=3)
    assert in_force(app, "local_signin") is True and in_force(app, "idle_lock_minutes") == 3
    sign_in(app.test_client())


def test_the_cli_shows_and_sets_settings_as_a_way_back_in(app_config, user):
    app = create_app({**app_config, **CASDOOR})
    runner = app.test_cli_runner()
    assert runner.invoke(args=["settings", "set", "local_signin", "off"]).exit_code == 0
    assert post_form(app.test_client(), "/login", "/login", {"username": "alice", "password": TEST_PASSWORD}
                     ).status_code == 403
    result = runner.invoke(args=["settings", "set", "local_signin", "on"])
    assert result.exit_code == 0 and result.output == "local_signin = true\n"
    sign_in(app.test_client())
    assert "idle_lock_minutes    0" in runner.invoke(args=["settings", "show"]).output
    for args, message in (
        (["set", "local_signin", "maybe"], "local_signin is on or off"),
        (["set", "session_hours", "0"], "Enter a number from 1 to 8784."),
        (["set", "session_hours", "lots"], "session_hours is a whole number"),
    ):
        result = runner.invoke(args=["settings", *args])
        assert result.exit_code != 0 and message in result.output
    with app.app_context():
        changes = db.session.scalars(select(AuditEvent).where(AuditEvent.event == "settings.change")).all()
        assert [c.details for c in changes] == [{"local_signin": [True, False]}, {"local_signin": [False, True]}]


def test_open_registration_creates_a_local_user(app, signed_in):
    visitor = app.test_client()
    assert visitor.get("/register").status_code == 404
    assert "Create an account" not in visitor.get("/login").get_data(as_text=True)
    save(signed_in, open_registration="y")
    assert 'href="/register"' in visitor.get("/login").get_data(as_text=True)
    taken = {"username": "alice", "password": "long enough", "confirm": "long enough"}
    bad = post_form(visitor, "/register", "/register", taken)
    assert bad.status_code == 422 and "This username is taken." in bad.get_data(as_text=True)
    response = post_form(
        visitor, "/register", "/register", {"username": "newbie", "password": "long enough", "confirm": "long enough"}
    )
    assert response.status_code == 302
    assert visitor.get("/").status_code == 200
    with app.app_context():
        newbie = db.session.scalar(select(User).where(User.username == "newbie"))
        assert newbie is not None and newbie.is_admin is False
    assert visitor.get("/admin/users").status_code == 403


def test_an_idle_session_is_refused_and_an_active_one_is_not(app, signed_in, make_user):
    make_user("bob")
    save(signed_in, idle_lock_minutes=5)
    idle, active = app.test_client(), app.test_client()
    sign_in(idle, "bob")
    sign_in(active, "bob")
    idle_id, active_id = sorted(_ids(app, "bob"))
    with app.app_context():
        now = utcnow()
        # last_seen_at lags the last request by up to a minute: 5.5 minutes may be 4.5 of real idleness.
        db.session.execute(update(SessionRecord).where(SessionRecord.id == active_id).values(
            last_seen_at=now - timedelta(minutes=5, seconds=30)))
        db.session.execute(update(SessionRecord).where(SessionRecord.id == idle_id).values(
            last_seen_at=now - timedelta(minutes=6, seconds=5)))
        db.session.commit()
    assert active.get("/").status_code == 200
    response = idle.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    # The admin's list counts only live sessions.
    with app.app_context():
        bob_id = db.session.scalar(select(User.id).where(User.username == "bob"))
    html = signed_in.get(f"/admin/users/{bob_id}").get_data(as_text=True)
    assert len(re.findall(r'/sessions/\d+/revoke"', html)) == 1


def _ids(app, username):
    with app.app_context():
        return list(db.session.scalars(
            select(SessionRecord.id).join(User, User.id == SessionRecord.user_id).where(User.username == username)
        ))


def test_the_idle_lock_script_is_on_every_page_only_when_on(app, signed_in):
    assert 'id="idle-lock"' not in signed_in.get("/").get_data(as_text=True)
    save(signed_in, idle_lock_minutes=7)
    html = signed_in.get("/").get_data(as_text=True)
    assert 'data-idle-minutes="7"' in html
    assert re.search(r'<script type="module" src="/static/dist/js/idle-lock\.[0-9a-f]{12}\.js">', html)
    assert 'id="idle-lock"' not in app.test_client().get("/login").get_data(as_text=True)


def test_a_shorter_session_lifetime_ends_older_sessions_and_sets_new_ones(app, signed_in, make_user):
    make_user("bob")
    old = app.test_client()
    sign_in(old, "bob")
    with app.app_context():
        db.session.execute(update(SessionRecord).values(created_at=utcnow() - timedelta(hours=3)))
        db.session.commit()
    assert old.get("/").status_code == 200
    save(signed_in, session_hours=2)
    assert old.get("/").status_code == 302
    new = app.test_client()
    sign_in(new, "bob")
    with app.app_context():
        record = db.session.scalars(select(SessionRecord).order_by(SessionRecord.id.desc())).first()
        assert abs((record.expires_at - record.created_at) - timedelta(hours=2)) < timedelta(seconds=1)


def test_a_change_reaches_another_process_at_its_next_request(app, app_config, signed_in):
    other = create_app(dict(app_config))
    with other.test_request_context():
        assert settings.registration_open() is False
    save(signed_in, open_registration="y")
    assert other.test_client().get("/register").status_code == 200
