"""First run, sign-in and sign-out, sessions, rate limits, CSRF and the security headers."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from tests.conftest import TEST_PASSWORD, csrf_from, post_form, sign_in
from webauth import create_app
from webauth.extensions import db
from webauth.models import AuditEvent, SessionRecord, User, utcnow


def test_a_fresh_install_leads_to_the_set_up_page(client):
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/setup")
    assert client.get("/login").headers["Location"].endswith("/setup")


def test_set_up_creates_the_first_administrator_and_signs_in(app, client):
    response = post_form(
        client, "/setup", "/setup", {"username": "root", "password": "long password", "confirm": "long password"}
    )
    assert response.status_code == 302
    with app.app_context():
        user = db.session.scalar(select(User))
    assert (user.username, user.is_admin) == ("root", True)
    assert user.password_hash.startswith("$argon2id$")
    assert client.get("/").status_code == 200
    # Once someone exists, the set-up page is gone.
    assert client.get("/setup").status_code == 404


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"username": "root", "password": "short", "confirm": "short"}, "Use at least 8 characters."),
        ({"username": "root", "password": "long password", "confirm": "other password"}, "The passwords differ."),
        ({"username": "bad name!", "password": "long password", "confirm": "long password"}, "letters, digits"),
    ],
)
def test_set_up_refuses_bad_input_with_a_message(app, client, data, message):
    response = post_form(client, "/setup", "/setup", data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(User)) is None


def test_sign_in_records_a_session_and_rotates_the_cookie(app, client, user):
    client.get("/login")
    before = client.get_cookie("webauth_session").value
    sign_in(client)
    cookie = client.get_cookie("webauth_session")
    assert before != cookie.value
    assert cookie.http_only and cookie.same_site == "Lax"
    with app.app_context():
        record = db.session.scalar(select(SessionRecord))
        assert record.user_id == user.id and record.method == "password" and record.revoked_at is None
        events = [e.event for e in db.session.scalars(select(AuditEvent))]
    assert "signin.success" in events


def test_a_wrong_password_is_refused_and_audited(app, client, user):
    response = post_form(client, "/login", "/login", {"username": "alice", "password": "nope nope nope"})
    assert response.status_code == 401
    assert "Wrong username or password." in response.get_data(as_text=True)
    with app.app_context():
        failure = db.session.scalar(select(AuditEvent).where(AuditEvent.event == "signin.failure"))
    assert failure.username == "alice" and failure.details == {"reason": "bad-credentials"}
    assert "nope" not in str(failure.details)


def test_an_unknown_user_gets_the_same_answer(client, user):
    response = post_form(client, "/login", "/login", {"username": "mallory", "password": "whatever1"})
    assert response.status_code == 401
    assert "Wrong username or password." in response.get_data(as_text=True)


def test_sign_out_ends_the_session_server_side(app, client, user):
    sign_in(client)
    cookie = client.get_cookie("webauth_session").value
    token = csrf_from(client.get("/").get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    with app.app_context():
        assert db.session.scalar(select(SessionRecord)).revoked_at is not None
    # Replaying the old cookie does not bring the session back.
    client.set_cookie("webauth_session", cookie)
    assert client.get("/").status_code == 302


def test_a_revoked_session_is_refused_on_its_next_request(client, user, app_config):
    sign_in(client)
    assert client.get("/").status_code == 200
    other_process = create_app(dict(app_config))
    with other_process.app_context():
        db.session.execute(update(SessionRecord).values(revoked_at=utcnow()))
        db.session.commit()
    response = client.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_disabled_user_is_signed_out_and_cannot_sign_in(app, client, user):
    sign_in(client)
    with app.app_context():
        db.session.execute(update(User).values(disabled=True))
        db.session.commit()
    assert client.get("/").status_code == 302
    response = post_form(client, "/login", "/login", {"username": "alice", "password": TEST_PASSWORD})
    assert response.status_code == 401


def test_posts_without_a_csrf_token_are_refused(client, user):
    response = client.post("/login", data={"username": "alice", "password": TEST_PASSWORD})
    assert response.status_code == 400
    assert "form expired" in response.get_data(as_text=True)


def test_next_only_goes_to_this_site(client, user):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    data = {"csrf_token": token, "username": "alice", "password": TEST_PASSWORD}
    response = client.post("/login?next=//evil.example/", data=data)
    assert response.headers["Location"] == "/"


@pytest.fixture
def limited_app_config(app_config):
    return {**app_config, "RATELIMIT_ENABLED": True, "WEBAUTH_LOGIN_RATE_LIMIT": "3 per minute"}


def test_sign_in_is_rate_limited_per_address(limited_app_config, user):
    limited = create_app(limited_app_config)
    client = limited.test_client()
    statuses = [
        post_form(client, "/login", "/login", {"username": f"u{i}", "password": "wrong pass"}).status_code
        for i in range(4)
    ]
    assert statuses == [401, 401, 401, 429]


def test_security_headers_on_every_page(client, user):
    for path in ("/login", "/static/css/app.css", "/manifest.json"):
        headers = client.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "style-src 'self'" in csp and "'unsafe-inline'" not in csp
        assert "frame-ancestors 'none'" in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
        assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert client.get("/login").headers["Cache-Control"] == "no-store"


def test_https_mode_uses_host_prefixed_secure_cookies_and_hsts(app_config, user):
    secure = create_app({**app_config, "WEBAUTH_HTTPS": True, "SESSION_COOKIE_NAME": "__Host-webauth",
                         "SESSION_COOKIE_SECURE": True})
    response = secure.test_client().get("/login", base_url="https://localhost")
    assert "Strict-Transport-Security" in response.headers
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-webauth=") and "Secure" in cookie and "HttpOnly" in cookie
