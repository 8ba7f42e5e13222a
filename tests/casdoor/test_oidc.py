"""Sign-in with Casdoor through the app: the code flow with PKCE, state and nonce, id_token
verification, linking users by (issuer, sub), the admin role, sign-out with end-session,
re-authentication, and the settings that shape the sign-in page."""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.conftest import TEST_PASSWORD, post_form, sign_in
from tests.support.casdoor_server import CasdoorServer
from tests.support.fixtures import casdoor_authorize, casdoor_sign_in
from webauth.extensions import db
from webauth.models import AuditEvent, CasdoorLink, User


def users_in(app) -> list[User]:
    with app.app_context():
        return list(db.session.scalars(db.select(User)))


def test_sign_in_creates_a_user_named_owner_slash_name_and_syncs(casdoor_app, casdoor_client, casdoor) -> None:
    answer = casdoor_sign_in(casdoor_client)
    assert answer.status_code == 302 and answer.headers["Location"] == "/"

    [user] = users_in(casdoor_app)
    assert (user.username, user.display_name, user.password_hash) == ("acme/alice", "Alice", None)
    assert (user.oidc_issuer, user.oidc_subject) == (casdoor.issuer, casdoor.user("acme", "alice")["id"])
    page = casdoor_client.get("/").get_data(as_text=True)
    assert "GitHub" in page and "Synced with Casdoor" in page
    with casdoor_app.app_context():
        link = db.session.get(CasdoorLink, user.id)
        assert link.casdoor_id == "acme/alice" and link.refresh_token_sealed
        # Tokens are sealed: the database never holds one in the clear.
        row = db.session.execute(db.text("SELECT * FROM casdoor_links")).one()
        assert not any(isinstance(value, bytes) and b"eyJ" in value for value in row)
        assert db.session.scalar(db.select(AuditEvent.event).where(AuditEvent.event == "signin.success"))


def test_the_same_casdoor_user_signs_in_to_the_same_user(casdoor_app, casdoor) -> None:
    casdoor_sign_in(casdoor_app.test_client())
    casdoor_sign_in(casdoor_app.test_client())
    assert [u.username for u in users_in(casdoor_app)] == ["acme/alice"]


def test_authorize_request_uses_pkce_s256_state_and_nonce(casdoor_client) -> None:
    begun = casdoor_client.get("/auth/casdoor/login")
    query = parse_qs(urlsplit(begun.headers["Location"]).query)
    assert query["code_challenge_method"] == ["S256"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", query["code_challenge"][0])
    assert len(query["state"][0]) >= 20 and len(query["nonce"][0]) >= 20
    assert query["redirect_uri"] == ["http://localhost/auth/casdoor/callback"]
    assert "client_secret" not in query and "code_verifier" not in query


def test_a_callback_without_our_state_is_refused(casdoor_app, casdoor_client) -> None:
    begun = casdoor_client.get("/auth/casdoor/login")
    callback = casdoor_authorize(begun.headers["Location"], "alice", "alice-pw")
    other_browser = casdoor_app.test_client()
    answer = other_browser.get(callback)
    assert answer.status_code == 400
    assert "state does not match" in answer.get_data(as_text=True)
    forged = casdoor_client.get(re.sub(r"state=[^&]+", "state=forged", callback))
    assert forged.status_code == 400
    assert users_in(casdoor_app) == []


def test_a_code_is_bound_to_its_own_pkce_verifier(casdoor_app, casdoor_client) -> None:
    """Two sign-ins started in one browser: a code from the first, sent with the state of the
    second, is exchanged with the second's verifier, and Casdoor refuses it."""
    first = casdoor_client.get("/auth/casdoor/login").headers["Location"]
    second = casdoor_client.get("/auth/casdoor/login").headers["Location"]
    code = parse_qs(urlsplit(casdoor_authorize(first, "alice", "alice-pw")).query)["code"][0]
    state = parse_qs(urlsplit(second).query)["state"][0]
    answer = casdoor_client.get(f"/auth/casdoor/callback?code={code}&state={state}")
    assert answer.status_code == 400
    assert "verifier is invalid" in answer.get_data(as_text=True)
    assert users_in(casdoor_app) == []


def test_a_code_cannot_be_used_twice(casdoor_app, casdoor_client) -> None:
    begun = casdoor_client.get("/auth/casdoor/login")
    callback = casdoor_authorize(begun.headers["Location"], "alice", "alice-pw")
    assert casdoor_client.get(callback).status_code == 302
    assert casdoor_app.test_client().get(callback).status_code == 400


def _tamper(casdoor: CasdoorServer, monkeypatch, *, key: RSAKey | None = None, **claims) -> None:
    """Make the fake's token endpoint answer with an id_token whose claims or signature are off."""
    # The fake has no public way to sign a bad token: wrap its private issuer.
    issue = casdoor._issue

    def tampered(user_key, **kwargs):
        answer = issue(user_key, **kwargs)
        token = jwt.decode(answer["id_token"], casdoor._key)
        signed = jwt.encode(token.header, {**token.claims, **claims}, key or casdoor._key)
        return {**answer, "id_token": signed, "access_token": signed}

    monkeypatch.setattr(casdoor, "_issue", tampered)


ID_TOKEN_CASES = [
    pytest.param({"key": "other"}, "bad signature", id="bad-signature"),
    pytest.param({"aud": ["another-application"]}, "issued for another application", id="wrong-aud"),
    pytest.param({"iss": "https://evil.example"}, "issued by another server", id="wrong-iss"),
    pytest.param({"exp": int(time.time()) - 3600}, "has expired", id="expired"),
    pytest.param({"nonce": "a-replayed-nonce"}, "nonce does not match", id="wrong-nonce"),
]


@pytest.mark.parametrize(("change", "words"), ID_TOKEN_CASES)
def test_a_bad_id_token_is_refused(casdoor_app, casdoor_client, casdoor, monkeypatch, change, words) -> None:
    if change.get("key") == "other":
        change = {"key": RSAKey.generate_key(2048, parameters={"kid": casdoor.jwks["keys"][0]["kid"]})}
    _tamper(casdoor, monkeypatch, **change)
    answer = casdoor_sign_in(casdoor_client)
    assert answer.status_code == 401
    assert words in answer.get_data(as_text=True)
    assert users_in(casdoor_app) == []
    assert casdoor_client.get("/").status_code == 302  # not signed in
    with casdoor_app.app_context():
        failure = db.session.scalar(db.select(AuditEvent).where(AuditEvent.event == "signin.failure"))
        assert failure.details["method"] == "casdoor" and failure.details["reason"].startswith("id-token")


def test_casdoor_refusing_the_sign_in_is_shown(casdoor_client) -> None:
    casdoor_client.get("/auth/casdoor/login")
    answer = casdoor_client.get("/auth/casdoor/callback?error=access_denied&error_description=User+said+no&state=x")
    assert answer.status_code == 400 and "User said no" in answer.get_data(as_text=True)


def test_casdoor_down_at_sign_in_is_a_clear_error(casdoor_client, casdoor) -> None:
    casdoor.stop()
    try:
        answer = casdoor_client.get("/auth/casdoor/login")
    finally:
        casdoor.start()
    assert answer.status_code == 502
    assert "could not be reached" in answer.get_data(as_text=True)


def test_is_admin_follows_casdoor_at_each_sign_in(casdoor_app, casdoor) -> None:
    casdoor_sign_in(casdoor_app.test_client(), "admin", "admin-pw")
    casdoor_sign_in(casdoor_app.test_client(), "bob", "bob-pw")
    assert {u.username: u.is_admin for u in users_in(casdoor_app)} == {"acme/admin": True, "acme/bob": False}
    # Casdoor takes the role away: the next sign-in here does too.
    token = casdoor.issue_token("acme", "admin")["access_token"]
    admin = casdoor.user("acme", "admin")
    requests.post(
        f"{casdoor.url}/api/update-user",
        params={"id": "acme/admin"},
        json={**admin, "isAdmin": False},
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    casdoor_sign_in(casdoor_app.test_client(), "admin", "admin-pw")
    assert {u.username: u.is_admin for u in users_in(casdoor_app)}["acme/admin"] is False


def test_only_the_configured_organization_may_sign_in(casdoor_app, casdoor_client, casdoor) -> None:
    casdoor.add_user("other", "carol", "carol-pw")
    answer = casdoor_sign_in(casdoor_client, "other/carol", "carol-pw")
    assert answer.status_code == 403 and "organization acme" in answer.get_data(as_text=True)
    assert users_in(casdoor_app) == []


def test_a_disabled_user_is_refused(casdoor_app, casdoor) -> None:
    casdoor_sign_in(casdoor_app.test_client())
    with casdoor_app.app_context():
        db.session.execute(db.update(User).values(disabled=True))
        db.session.commit()
    answer = casdoor_sign_in(casdoor_app.test_client())
    assert answer.status_code == 403 and "disabled" in answer.get_data(as_text=True)


def test_sign_out_ends_the_casdoor_session_without_a_token_in_any_url(casdoor_app, casdoor_client, casdoor) -> None:
    casdoor_sign_in(casdoor_client)
    page = casdoor_client.get("/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

    answer = casdoor_client.post("/logout", data={"csrf_token": token})

    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert f'action="{casdoor.url}/api/logout"' in html
    assert f"form-action 'self' {casdoor.url}" in answer.headers["Content-Security-Policy"]
    assert answer.headers["Cache-Control"] == "no-store"
    fields = dict(re.findall(r'name="(id_token_hint|post_logout_redirect_uri|state)" value="([^"]+)"', html))
    assert fields["post_logout_redirect_uri"] == "http://localhost/auth/casdoor/callback"
    with casdoor_app.app_context():
        link = db.session.scalar(db.select(CasdoorLink))
        assert link.access_token_sealed is None and link.refresh_token_sealed is None
    # The browser posts the form; Casdoor forgets the token and comes back with the state.
    back = requests.post(f"{casdoor.url}/api/logout", data=fields, allow_redirects=False, timeout=5)
    assert back.status_code == 302
    assert "id_token_hint" not in back.headers["Location"]
    returned = urlsplit(back.headers["Location"])
    done = casdoor_client.get(f"{returned.path}?{returned.query}")
    assert done.status_code == 302 and done.headers["Location"] == "/login"
    assert "signed out of webauth and of Casdoor" in casdoor_client.get("/login").get_data(as_text=True)
    gone = requests.get(
        f"{casdoor.url}/api/get-account", headers={"Authorization": f"Bearer {fields['id_token_hint']}"}, timeout=5
    )
    assert gone.json()["status"] == "error"
    # A forged return is refused.
    assert casdoor_client.get("/auth/casdoor/callback?state=forged").status_code == 400


def test_reauthentication_asks_casdoor_for_a_fresh_login(casdoor_app, casdoor_client) -> None:
    casdoor_sign_in(casdoor_client)
    begun = casdoor_client.get("/auth/casdoor/login?reauth=1&next=/me/")
    query = parse_qs(urlsplit(begun.headers["Location"]).query)
    assert query["prompt"] == ["login"] and query["max_age"] == ["0"]
    answer = casdoor_client.get(casdoor_authorize(begun.headers["Location"], "alice", "alice-pw"))
    assert answer.status_code == 302 and answer.headers["Location"] == "/me/"
    with casdoor_app.app_context():
        assert db.session.scalar(db.select(AuditEvent).where(AuditEvent.event == "reauth.success"))


def test_reauthenticating_as_someone_else_is_refused(casdoor_client) -> None:
    casdoor_sign_in(casdoor_client)
    begun = casdoor_client.get("/auth/casdoor/login?reauth=1")
    answer = casdoor_client.get(casdoor_authorize(begun.headers["Location"], "bob", "bob-pw"))
    assert answer.status_code == 403 and "another Casdoor user" in answer.get_data(as_text=True)


def test_a_local_user_connects_to_casdoor_and_both_lists_merge(casdoor_app, make_user, casdoor) -> None:
    from tests.support.casdoor_connect import confirm, connect_through_casdoor
    from tests.support.casdoor_vault import add_local, remote_entries, vault_entries

    local = make_user("carol")
    add_local(casdoor_app, local.id, "Slack", "carol", "MFRGGZDFMZTWQ2LK")
    client = casdoor_app.test_client()
    sign_in(client, "carol", TEST_PASSWORD)

    answer = confirm(client, connect_through_casdoor(client))

    assert answer.status_code == 302
    [user] = users_in(casdoor_app)
    assert user.username == "carol" and user.oidc_subject == casdoor.user("acme", "alice")["id"]
    live, _trash = vault_entries(casdoor_app, user.id)
    assert {issuer for issuer, _n, _s in live} == {"Slack", "GitHub"} == {i for i, _n, _s in remote_entries(casdoor)}


def test_local_login_off_leaves_casdoor_as_the_only_way_in(casdoor_config, casdoor) -> None:
    from webauth import create_app

    app = create_app({**casdoor_config, "WEBAUTH_LOCAL_LOGIN": False})
    client = app.test_client()
    page = client.get("/login")  # no set-up page first: the first Casdoor user comes in here
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Sign in with Casdoor" in html and 'name="password"' not in html
    assert client.get("/setup").status_code == 404
    refused = post_form(client, "/login", "/login", {"username": "x", "password": "y"})
    assert refused.status_code == 403
    assert casdoor_sign_in(client, "admin", "admin-pw").status_code == 302
    assert users_in(app)[0].is_admin


def test_without_casdoor_settings_nothing_of_it_shows(client, user) -> None:
    html = client.get("/login").get_data(as_text=True)
    assert "Casdoor" not in html
    assert client.get("/auth/casdoor/login").status_code == 404
    assert client.get("/auth/casdoor/link").status_code == 404


def test_a_password_form_post_still_works_when_casdoor_is_on(casdoor_client, make_user) -> None:
    make_user("dave")
    html = casdoor_client.get("/login").get_data(as_text=True)
    assert "Sign in with Casdoor" in html and 'name="password"' in html
    answer = post_form(casdoor_client, "/login", "/login", {"username": "dave", "password": TEST_PASSWORD})
    assert answer.status_code == 302
