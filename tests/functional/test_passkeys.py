"""Passkeys through the app, answered by a software authenticator with real ECDSA keys:
adding, listing, naming, removing, signing in with a passkey alone, confirming it is you,
"passkey only", and what an administrator sees and may do."""

from __future__ import annotations

import json
import threading
import time

import pytest
from sqlalchemy import select

from tests.conftest import TEST_PASSWORD, post_form, sign_in
from tests.support.passkey_flow import (
    add_passkey,
    age_reauth,
    audited,
    passkey_reauth,
    passkey_sign_in,
    post_json,
    token,
)
from tests.support.soft_authenticator import SoftAuthenticator, b64url
from webauth import create_app, users
from webauth.auth_session import reauth_required
from webauth.extensions import db
from webauth.keys import keyring
from webauth.models import Passkey, SessionRecord, User
from webauth.passkeys import credentials, relying_party
from webauth.passkeys.relying_party import RelyingParty


@pytest.fixture
def app(app_config):
    """The app with one guarded page, standing for reveal and export."""
    app = create_app(dict(app_config))
    app.add_url_rule("/guarded", "guarded", reauth_required(lambda: "the secret page"))
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def phone() -> SoftAuthenticator:
    return SoftAuthenticator()


def stored_passkeys(app, username: str = "alice") -> list[Passkey]:
    with app.app_context():
        found = list(
            db.session.scalars(
                select(Passkey).join(User, User.id == Passkey.user_id).where(User.username == username)
            )
        )
        db.session.expunge_all()
        return found


def the_user(app, username: str = "alice") -> User:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        db.session.expunge(user)
        return user


def sessions(app) -> list[SessionRecord]:
    with app.app_context():
        found = list(db.session.scalars(select(SessionRecord).order_by(SessionRecord.id)))
        db.session.expunge_all()
        return found


def test_a_passkey_is_added_listed_and_signs_in_alone(app, signed_in, phone):
    added = add_passkey(signed_in, phone, name="Pixel 9")
    assert added.status_code == 201, added.get_json()
    [passkey] = stored_passkeys(app)
    assert passkey.name == "Pixel 9" and passkey.transports == ["internal"] and passkey.sign_count == 0
    page = signed_in.get("/me/").get_data(as_text=True)
    assert "Pixel 9" in page and "Passkey “Pixel 9” added." in page
    assert the_user(app).passkey_handle == phone.credentials[0].user_handle

    post_form(signed_in, "/me/", "/logout", {})
    assert signed_in.get("/").status_code == 302
    answer = passkey_sign_in(signed_in, phone, next_url="/accounts/new")
    assert answer.status_code == 200 and answer.get_json() == {"redirect": "/accounts/new"}
    assert signed_in.get("/").status_code == 200
    assert sessions(app)[-1].method == "passkey"
    # The authenticator verified the user: this sign-in counts as a re-authentication.
    assert signed_in.get("/guarded").get_data(as_text=True) == "the secret page"
    [passkey] = stored_passkeys(app)
    assert passkey.sign_count == 1 and passkey.last_used_at is not None
    success = audited(app, "signin.success")[-1]
    assert success.details == {"method": "passkey", "passkey": passkey.uuid, "verified": True}


def test_nothing_of_the_key_reaches_the_audit_log_or_the_logs(app, signed_in, phone, caplog):
    caplog.set_level("DEBUG")
    add_passkey(signed_in, phone)
    post_form(signed_in, "/me/", "/logout", {})
    passkey_sign_in(signed_in, phone)
    [passkey] = stored_passkeys(app)
    secrets = [passkey.public_key.hex(), b64url(passkey.public_key), b64url(passkey.credential_id),
               passkey.credential_id.hex()]
    events = json.dumps([event.details for event in audited(app, "")])
    assert "passkey.add" in {event.event for event in audited(app, "passkey.")}
    for secret in secrets:
        assert secret not in events and secret not in caplog.text


def test_a_touch_without_user_verification_signs_in_but_is_no_reauthentication(app, signed_in, phone):
    add_passkey(signed_in, phone)
    post_form(signed_in, "/me/", "/logout", {})
    assert passkey_sign_in(signed_in, phone, uv=False).status_code == 200
    assert signed_in.get("/").status_code == 200
    assert sessions(app)[-1].reauth_at is None
    assert signed_in.get("/guarded").status_code == 302  # off to "Confirm it is you"
    assert audited(app, "signin.success")[-1].details["verified"] is False


def test_a_counter_that_goes_backwards_is_refused_and_audited(app, signed_in, phone):
    add_passkey(signed_in, phone)
    post_form(signed_in, "/me/", "/logout", {})
    assert passkey_sign_in(signed_in, phone).status_code == 200  # count 1
    post_form(signed_in, "/me/", "/logout", {})
    assert passkey_sign_in(signed_in, phone).status_code == 200  # count 2

    post_form(signed_in, "/me/", "/logout", {})
    for clone_count in (2, 1, 0):
        refused = passkey_sign_in(signed_in, phone, count=clone_count)
        assert refused.status_code == 401 and refused.get_json()["error"] == "counter"
        assert signed_in.get("/").status_code == 302
    [passkey] = stored_passkeys(app)
    assert passkey.sign_count == 2
    alarms = audited(app, "passkey.counter_regressed")
    assert [(alarm.details["stored"], alarm.details["received"]) for alarm in alarms] == [(2, 2), (2, 1), (2, 0)]
    assert {alarm.username for alarm in alarms} == {"alice"}
    assert [event.details["reason"] for event in audited(app, "signin.failure")] == ["passkey-counter"] * 3

    # The real authenticator counts on and still signs in.
    assert passkey_sign_in(signed_in, phone).status_code == 200


def test_an_authenticator_that_never_counts_is_not_taken_for_a_clone(app, signed_in):
    synced = SoftAuthenticator(counts=False)
    add_passkey(signed_in, synced)
    for _ in range(3):
        post_form(signed_in, "/me/", "/logout", {})
        assert passkey_sign_in(signed_in, synced).status_code == 200
    assert audited(app, "passkey.counter_regressed") == []


@pytest.mark.parametrize(
    "lie",
    [{"origin": "http://evil.example"}, {"origin": "https://localhost"}, {"rp_id": "evil.example"}],
    ids=["another-site", "another-scheme", "another-relying-party"],
)
def test_an_answer_made_for_another_origin_is_refused(app, signed_in, phone, lie):
    add_passkey(signed_in, phone)
    post_form(signed_in, "/me/", "/logout", {})
    refused = passkey_sign_in(signed_in, phone, **lie)
    assert refused.status_code == 401 and refused.get_json()["error"] == "invalid"
    assert signed_in.get("/").status_code == 302
    assert audited(app, "signin.failure")[-1].details == {"method": "passkey", "reason": "passkey-invalid"}


@pytest.mark.parametrize("lie", [{"origin": "http://evil.example"}, {"rp_id": "evil.example"}])
def test_a_passkey_made_for_another_origin_is_not_added(app, signed_in, phone, lie):
    refused = add_passkey(signed_in, phone, **lie)
    assert refused.status_code == 400 and refused.get_json()["error"] == "invalid"
    assert stored_passkeys(app) == []


def test_a_signature_by_another_key_or_for_another_user_is_refused(app, signed_in, phone, make_user):
    add_passkey(signed_in, phone)
    post_form(signed_in, "/me/", "/logout", {})
    thief = SoftAuthenticator()
    thief.create({"rp": {"id": "localhost"}, "user": {"id": b64url(b"x")}, "challenge": b64url(b"y")})
    thief.credentials[0].id = phone.credentials[0].id  # the right credential id, the wrong key
    assert passkey_sign_in(signed_in, thief).get_json()["error"] == "invalid"
    assert passkey_sign_in(signed_in, phone, user_handle=b"someone else").get_json()["error"] == "invalid"
    stranger = SoftAuthenticator()
    stranger.create({"rp": {"id": "localhost"}, "user": {"id": b64url(b"z")}, "challenge": b64url(b"y")})
    assert passkey_sign_in(signed_in, stranger).get_json()["error"] == "unknown"
    assert signed_in.get("/").status_code == 302
    assert passkey_sign_in(signed_in, phone).status_code == 200


def test_adding_a_passkey_needs_a_recent_reauthentication(app, signed_in, phone):
    age_reauth(app)
    csrf = token(signed_in, "/me/")
    refused = post_json(signed_in, "/passkeys/register/options", {}, csrf)
    assert refused.status_code == 403
    assert refused.get_json()["error"] == "reauth" and refused.get_json()["location"] == "/reauth?next=/me/%23passkeys"
    assert 'href="/reauth?next=/me/%23passkeys&amp;back=/me/"' in signed_in.get("/me/").get_data(as_text=True)
    assert stored_passkeys(app) == []


def test_passkeys_are_for_users_with_a_password_here(app):
    with app.test_request_context():
        carol = users.create_proxy_user("carol", keyring())
        with pytest.raises(credentials.PasskeyError) as refused:
            credentials.registration_options(carol, SessionRecord(id=0))
    assert refused.value.reason == "not-local"


def test_names_removal_and_passkey_only(app, signed_in, phone):
    laptop = SoftAuthenticator()
    add_passkey(signed_in, phone, name="Phone")
    add_passkey(signed_in, laptop, name="Laptop")
    first, second = stored_passkeys(app)

    # "Passkey only": the password no longer signs in, and says so only to whoever knows it.
    assert post_form(signed_in, "/me/", "/passkeys/only", {"on": "1"}).status_code == 302
    assert the_user(app).passkey_only is True
    other = app.test_client()
    refused = post_form(other, "/login", "/login", {"username": "alice", "password": TEST_PASSWORD})
    assert refused.status_code == 401 and "signs in with a passkey only" in refused.get_data(as_text=True)
    wrong = post_form(other, "/login", "/login", {"username": "alice", "password": "not the password"})
    assert "Wrong username or password." in wrong.get_data(as_text=True)
    assert [event.details["reason"] for event in audited(app, "signin.failure")] == ["passkey-only", "bad-credentials"]
    assert passkey_sign_in(other, laptop).status_code == 200

    renamed = post_form(signed_in, "/me/", f"/passkeys/{first.uuid}/rename", {"name": "  Old\nphone  "})
    assert renamed.status_code == 302 and stored_passkeys(app)[0].name == "Old phone"

    post_form(signed_in, "/me/", f"/passkeys/{first.uuid}/remove", {})
    assert [passkey.name for passkey in stored_passkeys(app)] == ["Laptop"]
    assert the_user(app).passkey_only is True
    # The last one goes: "passkey only" goes with it, so nobody is locked out.
    page = post_form(signed_in, "/me/", f"/passkeys/{second.uuid}/remove", {}, follow_redirects=True)
    assert "your password signs you in again" in page.get_data(as_text=True)
    assert stored_passkeys(app) == [] and the_user(app).passkey_only is False
    assert sign_in(app.test_client()).status_code == 302
    # A removed passkey no longer signs in.
    assert passkey_sign_in(app.test_client(), phone).get_json()["error"] == "unknown"

    refused = post_form(signed_in, "/me/", "/passkeys/only", {"on": "1"}, follow_redirects=True)
    assert "Add a passkey first." in refused.get_data(as_text=True) and the_user(app).passkey_only is False
    events = [(event.event, event.details.get("reason")) for event in audited(app, "passkey.")]
    assert events == [
        ("passkey.add", None), ("passkey.add", None), ("passkey.only_on", "user"), ("passkey.rename", None),
        ("passkey.remove", None), ("passkey.remove", None), ("passkey.only_off", "last-passkey-removed"),
    ]


def test_two_removals_at_once_of_the_last_two_passkeys_turn_passkey_only_off(app, signed_in, monkeypatch):
    """Two browsers remove her two passkeys at the same moment, with "passkey only" on: the
    removal that takes the last one must see that it is the last, or she is left with neither
    a passkey nor a password that signs her in. The first to count holds its transaction open
    for a second; the other runs meanwhile, and must wait for it (the user's row is locked)."""
    add_passkey(signed_in, phone := SoftAuthenticator(), name="Phone")
    add_passkey(signed_in, SoftAuthenticator(), name="Laptop")
    post_form(signed_in, "/me/", "/passkeys/only", {"on": "1"})
    alice = the_user(app)
    first, second = (passkey.uuid for passkey in stored_passkeys(app))
    counted = threading.Event()
    count = credentials.passkey_count

    def slow_count(user: User) -> int:
        found = count(user)
        if not counted.is_set():
            counted.set()
            time.sleep(1)
        return found

    monkeypatch.setattr(credentials, "passkey_count", slow_count)

    def remove(passkey_uuid: str) -> None:
        with app.test_request_context():
            credentials.remove(db.session.get(User, alice.id), passkey_uuid)
            db.session.commit()

    removing = threading.Thread(target=remove, args=(first,))
    removing.start()
    assert counted.wait(timeout=10)
    remove(second)
    removing.join(timeout=30)

    assert stored_passkeys(app) == [] and the_user(app).passkey_only is False
    assert [event.details["reason"] for event in audited(app, "passkey.only_off")] == ["last-passkey-removed"]
    assert sign_in(app.test_client()).status_code == 302
    assert passkey_sign_in(app.test_client(), phone).get_json()["error"] == "unknown"


def test_the_command_line_lets_a_user_who_lost_every_passkey_back_in(app, signed_in, phone):
    """A "passkey only" administrator lost her phone and her key: no page can help her, the
    command line can (listing shows no key; removing the last turns "passkey only" off)."""
    add_passkey(signed_in, phone, name="Lost phone")
    add_passkey(signed_in, SoftAuthenticator(), name="Lost key")
    post_form(signed_in, "/me/", "/passkeys/only", {"on": "1"})
    first, _ = stored_passkeys(app)
    cli = app.test_cli_runner()
    listed = cli.invoke(args=["users", "passkeys", "alice"])
    assert listed.exit_code == 0 and "passkey only on" in listed.output
    assert f"{first.uuid}  added" in listed.output and "used never  Lost key" in listed.output
    assert b64url(first.credential_id) not in listed.output and b64url(first.public_key) not in listed.output

    assert cli.invoke(args=["users", "remove-passkey", "alice"]).exit_code == 2  # neither an id nor --all
    unknown = cli.invoke(args=["users", "remove-passkey", "alice", "not-a-passkey"])
    assert unknown.exit_code == 1 and "has no passkey" in unknown.output
    one = cli.invoke(args=["users", "remove-passkey", "alice", first.uuid])
    assert one.exit_code == 0 and "removed 1 passkey of alice" in one.output and "signs in again" not in one.output
    assert the_user(app).passkey_only is True
    rest = cli.invoke(args=["users", "remove-passkey", "alice", "--all"])
    assert rest.exit_code == 0 and "passkey only is off" in rest.output
    assert stored_passkeys(app) == [] and the_user(app).passkey_only is False
    assert sign_in(app.test_client()).status_code == 302
    assert [event.details["name"] for event in audited(app, "admin.passkey.remove")] == ["Lost phone", "Lost key"]


def test_removing_and_passkey_only_need_a_recent_reauthentication(app, signed_in, phone):
    add_passkey(signed_in, phone)
    [passkey] = stored_passkeys(app)
    age_reauth(app)
    for action in (f"/passkeys/{passkey.uuid}/remove", "/passkeys/only"):
        answer = post_form(signed_in, "/me/", action, {"on": "1"}, headers={"Referer": "http://localhost/me/"})
        assert answer.status_code == 302 and answer.headers["Location"].startswith("/reauth?next=")
    assert len(stored_passkeys(app)) == 1 and the_user(app).passkey_only is False


def test_a_passkey_that_verifies_the_user_confirms_it_is_you(app, signed_in, phone, make_user):
    add_passkey(signed_in, phone)
    age_reauth(app)
    assert signed_in.get("/guarded").status_code == 302
    page = signed_in.get("/reauth?next=/guarded").get_data(as_text=True)
    assert "Use a passkey" in page

    touch_only = passkey_reauth(signed_in, phone, uv=False)
    assert touch_only.status_code == 401 and touch_only.get_json()["error"] == "not-verified"
    assert signed_in.get("/guarded").status_code == 302

    make_user("bob")
    bob = app.test_client()
    sign_in(bob, "bob")
    bobs_key = SoftAuthenticator()
    add_passkey(bob, bobs_key)
    someone_elses = passkey_reauth(signed_in, bobs_key)
    assert someone_elses.status_code == 401 and someone_elses.get_json()["error"] == "unknown"

    confirmed = passkey_reauth(signed_in, phone)
    assert confirmed.status_code == 200 and confirmed.get_json() == {"redirect": "/me/"}
    assert signed_in.get("/guarded").get_data(as_text=True) == "the secret page"
    outcomes = [(event.event, event.details) for event in audited(app, "reauth.")]
    assert [outcome[0] for outcome in outcomes] == ["reauth.failure", "reauth.failure", "reauth.success"]
    assert outcomes[0][1]["reason"] == "not-verified" and outcomes[2][1]["method"] == "passkey"


def test_an_administrator_sees_and_removes_a_users_passkeys(app, signed_in, make_user, phone):
    make_user("bob")
    bob = app.test_client()
    sign_in(bob, "bob")
    add_passkey(bob, phone, name="Bob's phone")
    post_form(bob, "/me/", "/passkeys/only", {"on": "1"})
    bob_id = the_user(app, "bob").id
    page = signed_in.get(f"/admin/users/{bob_id}").get_data(as_text=True)
    assert "Bob&#39;s phone" in page and "passkey only" in page
    [passkey] = stored_passkeys(app, "bob")
    post_form(signed_in, f"/admin/users/{bob_id}", f"/admin/users/{bob_id}/passkeys/{passkey.uuid}/remove", {})
    assert stored_passkeys(app, "bob") == [] and the_user(app, "bob").passkey_only is False
    [removal] = audited(app, "admin.passkey.remove")
    assert removal.details == {"passkey": passkey.uuid, "name": "Bob's phone"}
    assert removal.user_id == bob_id and removal.actor_id == the_user(app).id
    # Bob cannot remove Alice's passkey, nor reach the console.
    assert bob.get(f"/admin/users/{bob_id}").status_code == 403
    add_passkey(signed_in, SoftAuthenticator())
    [alices] = stored_passkeys(app)
    assert post_form(bob, "/me/", f"/passkeys/{alices.uuid}/remove", {}).status_code == 404
    assert len(stored_passkeys(app)) == 1

    # A deleted user's passkeys go with them: the phone still holds one, and it signs nobody in.
    add_passkey(bob, phone, name="Bob's new phone")
    page = f"/admin/users/{bob_id}"
    assert post_form(signed_in, f"{page}/delete", f"{page}/delete", {"confirmation": "bob"}).status_code == 302
    assert stored_passkeys(app, "bob") == []
    refused = passkey_sign_in(app.test_client(), phone)
    assert refused.status_code == 401 and refused.get_json()["error"] == "unknown"


def test_the_relying_party_comes_from_the_public_url(app_config, make_user):
    app = create_app({**app_config, "WEBAUTH_PUBLIC_URL": "https://auth.example.com"})
    make_user("alice")
    client = app.test_client()
    sign_in(client)
    phone = SoftAuthenticator(origin="https://auth.example.com")
    csrf = token(client, "/me/")
    options = post_json(client, "/passkeys/register/options", {}, csrf).get_json()
    assert options["rp"] == {"id": "auth.example.com", "name": "webauth"}
    # The browser is on the proxy's address; an answer naming gunicorn's own is refused.
    refused = post_json(
        client, "/passkeys/register", {"credential": phone.create(options, origin="http://localhost")}, csrf
    )
    assert refused.status_code == 400
    added = add_passkey(client, phone)
    assert added.status_code == 201
    post_form(client, "/me/", "/logout", {})
    assert passkey_sign_in(client, phone, credential=phone.credentials[-1]).status_code == 200


@pytest.mark.parametrize(
    ("https", "base_url", "expected"),
    [
        (False, "http://localhost", RelyingParty("localhost", "http://localhost")),
        (False, "http://localhost:8000", RelyingParty("localhost", "http://localhost:8000")),
        # TLS ended at a proxy that does not say so (no WEBAUTH_PROXY_HOPS): the page is https.
        (True, "http://auth.example.com", RelyingParty("auth.example.com", "https://auth.example.com")),
        (True, "https://auth.example.com:8443", RelyingParty("auth.example.com", "https://auth.example.com:8443")),
    ],
)
def test_without_a_public_url_the_relying_party_is_the_requests_host(app_config, https, base_url, expected):
    app = create_app({**app_config, "WEBAUTH_HTTPS": https})
    with app.test_request_context("/", base_url=base_url):
        assert relying_party.current() == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", ""),
        ("https://Auth.Example.com/", "https://auth.example.com"),
        ("https://auth.example.com:443", "https://auth.example.com"),
        ("http://localhost:8000", "http://localhost:8000"),
    ],
)
def test_the_public_url_setting_is_an_origin(monkeypatch, tmp_path, raw, expected):
    from webauth.config import load_config

    monkeypatch.setenv("WEBAUTH_PUBLIC_URL", raw)
    assert load_config(tmp_path)["WEBAUTH_PUBLIC_URL"] == expected


@pytest.mark.parametrize("raw", ["auth.example.com", "https://auth.example.com/webauth", "ftp://x.example",
                                 "https://user@auth.example.com", "https://auth.example.com/?a=1", "https://:99999"])
def test_a_public_url_that_is_not_an_origin_stops_the_start(monkeypatch, tmp_path, raw):
    from webauth.config import load_config

    monkeypatch.setenv("WEBAUTH_PUBLIC_URL", raw)
    with pytest.raises(SystemExit, match="WEBAUTH_PUBLIC_URL"):
        load_config(tmp_path)
