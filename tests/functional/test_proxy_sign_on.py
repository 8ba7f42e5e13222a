"""Single sign-on from the reverse proxy (webauth/proxy_auth.py), through the Flask test client.

The immediate peer is the WSGI `REMOTE_ADDR` the test client sets (`environ_base`), standing for
the address gunicorn saw: 127.0.0.1 is the trusted proxy, 127.0.0.9 anyone else.
"""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select

from tests.conftest import TEST_PASSWORD, csrf_from, post_form, sign_in
from webauth import create_app
from webauth.auth_session import reauth_required
from webauth.extensions import db
from webauth.models import Account, AuditEvent, SessionRecord, User

PROXY = {"REMOTE_ADDR": "127.0.0.1"}
STRANGER = {"REMOTE_ADDR": "127.0.0.9"}
PAGE = {"Sec-Fetch-Mode": "navigate"}


def as_user(name: str) -> dict[str, str]:
    return {**PAGE, "Remote-User": name}


@pytest.fixture
def sso_config(app_config) -> dict:
    return {
        **app_config,
        "WEBAUTH_TRUSTED_PROXIES": ("127.0.0.1/32", "::1"),
        "WEBAUTH_REMOTE_USER_HEADER": "Remote-User",
    }


def make_app(config: dict, **overrides):
    from ipaddress import ip_network

    config = {**config, **overrides}
    config["WEBAUTH_TRUSTED_PROXIES"] = tuple(ip_network(item) for item in config.get("WEBAUTH_TRUSTED_PROXIES", ()))
    app = create_app(config)
    app.add_url_rule("/guarded", "guarded", reauth_required(lambda: "the secret page"))
    return app


@pytest.fixture
def app(sso_config):
    app = make_app(sso_config)
    yield app
    with app.app_context():
        db.engine.dispose()


def events(app, name: str) -> list[AuditEvent]:
    with app.app_context():
        found = list(db.session.scalars(select(AuditEvent).where(AuditEvent.event == name).order_by(AuditEvent.id)))
        db.session.expunge_all()
        return found


def sessions_of(app, username: str) -> list[SessionRecord]:
    with app.app_context():
        found = list(
            db.session.scalars(
                select(SessionRecord)
                .join(User, User.id == SessionRecord.user_id)
                .where(User.username == username)
                .order_by(SessionRecord.id)  # oldest first: PostgreSQL returns updated rows last
            )
        )
        db.session.expunge_all()
        return found


def test_off_by_default_the_header_is_ignored(app_config, user):
    app = make_app(app_config)
    response = app.test_client().get("/", environ_base=PROXY, headers=as_user("alice"))
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_trusted_proxy_signs_a_user_in_without_counting_as_a_password(app, client, user):
    response = client.get("/", environ_base=PROXY, headers=as_user("alice"))
    assert response.status_code == 200
    [record] = sessions_of(app, "alice")
    assert record.method == "proxy" and record.reauth_at is None and record.ip == "127.0.0.1"
    [event] = events(app, "signin.success")
    assert event.details == {"method": "proxy"}
    # Revealing a secret still asks for the password, and the password works.
    guarded = client.get("/guarded", environ_base=PROXY, headers=as_user("alice"))
    assert guarded.status_code == 302 and "/reauth" in guarded.headers["Location"]
    page = client.get("/reauth", environ_base=PROXY, headers=as_user("alice")).get_data(as_text=True)
    assert "no password here" not in page
    right = client.post(
        "/reauth", data={"csrf_token": csrf_from(page), "password": TEST_PASSWORD},
        environ_base=PROXY, headers={"Remote-User": "alice"},
    )
    assert right.status_code == 303
    assert client.get("/guarded", environ_base=PROXY, headers=as_user("alice")).get_data(as_text=True) == (
        "the secret page"
    )


def test_the_header_from_anyone_else_is_ignored_and_logged(app, client, user, caplog):
    with caplog.at_level(logging.WARNING):
        response = client.get("/", environ_base=STRANGER, headers=as_user("alice"))
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert sessions_of(app, "alice") == []
    [warning] = [r for r in caplog.records if "Remote-User" in r.getMessage()]
    assert "127.0.0.9" in warning.getMessage() and "not in WEBAUTH_TRUSTED_PROXIES" in warning.getMessage()


def test_a_forged_forwarded_address_does_not_make_a_client_the_proxy(sso_config, user):
    """Behind ProxyFix, request.remote_addr comes from X-Forwarded-For: the trust must not."""
    app = make_app(sso_config, WEBAUTH_PROXY_HOPS=1)
    client = app.test_client()
    forged = {**as_user("alice"), "X-Forwarded-For": "127.0.0.1"}
    response = client.get("/", environ_base=STRANGER, headers=forged)
    assert response.status_code == 302 and sessions_of(app, "alice") == []
    # The real proxy, appending the client's address, is believed; the audit shows the client.
    real = {**as_user("alice"), "X-Forwarded-For": "127.0.0.9"}
    assert client.get("/", environ_base=PROXY, headers=real).status_code == 200
    [record] = sessions_of(app, "alice")
    assert record.ip == "127.0.0.9"


def test_an_unknown_user_is_created_only_when_allowed(sso_config, user):
    closed = make_app(sso_config)
    client = closed.test_client()
    for _ in range(3):
        response = client.get("/", environ_base=PROXY, headers=as_user("carol"))
        assert response.status_code == 302
    page = client.get("/login", environ_base=PROXY, headers=as_user("carol")).get_data(as_text=True)
    assert "Single sign-on names you carol, who cannot sign in here" in page
    [refusal] = events(closed, "signin.failure")  # audited once for this browser, not at every page
    assert refusal.username == "carol" and refusal.details == {"method": "proxy", "reason": "unknown-user"}

    opened = make_app(sso_config, WEBAUTH_REMOTE_USER_CREATE=True)
    client = opened.test_client()
    assert client.get("/", environ_base=PROXY, headers=as_user("carol")).status_code == 200
    with opened.app_context():
        carol = db.session.scalar(select(User).where(User.username == "carol"))
        assert carol.password_hash is None and not carol.is_admin
    # With no password here, re-authentication cannot succeed: the page says why.
    page = client.get("/reauth", environ_base=PROXY, headers=as_user("carol")).get_data(as_text=True)
    assert "Your account has no password here" in page
    # A name that is no valid username is refused, not created.
    other = opened.test_client()
    assert other.get("/", environ_base=PROXY, headers=as_user("../evil name")).status_code == 302
    assert events(opened, "signin.failure")[-1].details["reason"] == "invalid-name"


def test_a_disabled_user_is_not_signed_in(app, client, make_user):
    make_user("alice")
    with app.app_context():
        db.session.execute(User.__table__.update().values(disabled=True))
        db.session.commit()
    assert client.get("/", environ_base=PROXY, headers=as_user("alice")).status_code == 302
    assert events(app, "signin.failure")[0].details["reason"] == "disabled"


def test_the_proxy_session_ends_when_the_header_changes_or_disappears(app, client, user, make_user):
    make_user("bob")
    assert client.get("/", environ_base=PROXY, headers=as_user("alice")).status_code == 200
    # Another user at the proxy: alice's session ends, and a page load signs bob in.
    assert client.get("/", environ_base=PROXY, headers=as_user("bob")).status_code == 200
    [alices] = sessions_of(app, "alice")
    assert alices.revoked_at is not None and [s.revoked_at for s in sessions_of(app, "bob")] == [None]
    # The header gone (say, the proxy's sign-in expired, or the request went around it): signed out.
    assert client.get("/", environ_base=PROXY, headers=PAGE).status_code == 302
    assert [s.revoked_at is not None for s in sessions_of(app, "bob")] == [True]
    reasons = [event.details["reason"] for event in events(app, "session.proxy_end")]
    assert reasons == ["header-changed", "header-missing"]
    # A form post never acts for the newly named user: it ends the old session and stops there.
    assert client.get("/", environ_base=PROXY, headers=as_user("alice")).status_code == 200
    token = csrf_from(client.get("/accounts/new", environ_base=PROXY, headers=as_user("alice")).get_data(as_text=True))
    response = client.post(
        "/accounts/new/uri", data={"csrf_token": token, "uri-uri": "otpauth://totp/X:y?secret=JBSWY3DPEHPK3PXP"},
        environ_base=PROXY, headers={"Remote-User": "bob"},
    )
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert [s.revoked_at is not None for s in sessions_of(app, "alice")] == [True, True]
    assert len(sessions_of(app, "bob")) == 1
    with app.app_context():
        assert db.session.scalar(select(func.count(Account.id))) == 0


def test_a_password_session_ignores_the_header(app, client, user):
    sign_in(client)
    assert client.get("/", environ_base=PROXY, headers=PAGE).status_code == 200
    assert client.get("/", environ_base=PROXY, headers=as_user("bob")).status_code == 200
    assert [s.method for s in sessions_of(app, "alice")] == ["password"]


def test_passive_requests_neither_start_nor_end_a_proxy_session(app, client, user):
    assert client.get("/manifest.json", environ_base=PROXY, headers=as_user("alice")).status_code == 200
    assert sessions_of(app, "alice") == []
    assert client.get("/", environ_base=PROXY, headers=as_user("alice")).status_code == 200
    assert client.get("/service-worker.js", environ_base=PROXY).status_code == 200  # the proxy let it through
    assert client.get("/", environ_base=PROXY, headers=as_user("alice")).status_code == 200
    assert len(sessions_of(app, "alice")) == 1
    # Fragments and scripts' fetches do not sign in either: only a page load does.
    other = app.test_client()
    response = other.get("/", environ_base=PROXY, headers={"Remote-User": "alice", "HX-Request": "true"})
    assert response.status_code in (302, 401)


def test_signing_out_pauses_the_automatic_sign_in_until_asked(sso_config, user):
    app = make_app(sso_config, WEBAUTH_REMOTE_USER_LOGOUT_URL="https://sso.example.test/logout")
    client = app.test_client()
    home = client.get("/", environ_base=PROXY, headers=as_user("alice")).get_data(as_text=True)
    out = client.post(
        "/logout", data={"csrf_token": csrf_from(home)}, environ_base=PROXY, headers={"Remote-User": "alice"}
    )
    assert out.status_code == 302 and out.headers["Location"] == "https://sso.example.test/logout"
    # Back here with the proxy still naming alice: the sign-in page offers, but does not sign in.
    response = client.get("/", environ_base=PROXY, headers=as_user("alice"))
    assert response.status_code == 302
    page = client.get("/login", environ_base=PROXY, headers=as_user("alice")).get_data(as_text=True)
    assert "Continue as alice" in page
    go = client.post(
        "/auth/proxy", data={"csrf_token": csrf_from(page), "next": "/me/"},
        environ_base=PROXY, headers={"Remote-User": "alice"},
    )
    assert go.status_code == 302 and go.headers["Location"] == "/me/"
    assert [s.revoked_at is None for s in sessions_of(app, "alice")] == [False, True]
    # The button is no way in for a stranger forging the header.
    stranger = app.test_client()
    page = stranger.get("/login", environ_base=STRANGER, headers=as_user("alice")).get_data(as_text=True)
    assert "Continue as" not in page
    response = post_form(stranger, "/login", "/auth/proxy", {}, environ_base=STRANGER, headers={"Remote-User": "alice"})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert len(sessions_of(app, "alice")) == 2


def test_trust_is_by_address_or_network_only():
    from ipaddress import ip_network

    from webauth.proxy_auth import ProxySignOn

    sign_on = ProxySignOn(
        trusted=(ip_network("127.0.0.1/32"), ip_network("10.1.0.0/16"), ip_network("::1")),
        header="Remote-User", create_users=False, logout_url="",
    )
    assert sign_on.trusts("127.0.0.1") and sign_on.trusts("10.1.200.3") and sign_on.trusts("::1")
    assert sign_on.trusts("::ffff:127.0.0.1")  # an IPv4 peer as a dual-stack server reports it
    assert not any(sign_on.trusts(peer) for peer in ("127.0.0.2", "10.2.0.1", "", "unix:/run/x", "::2"))
