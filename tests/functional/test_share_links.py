"""Time-limited share links: made by the owner, shown to anyone holding the link, ended by time,
revocation, the trash or a disabled owner; rate limited; never the secret, the token in no URL,
log or audit row."""

from __future__ import annotations

import json
import logging
import re

import pyotp
import pytest
from sqlalchemy import select, update

from tests.conftest import FROZEN_AT, TEST_PASSWORD, csrf_from, sign_in
from tests.support.accounts import add
from tests.support.accounts import link as otpauth_link
from webauth import create_app
from webauth.extensions import db, limiter
from webauth.models import Account, AuditEvent, ShareLink, User

CODE_URL = "/s/code"
# 160 bits: pyotp, which computes the expected codes, refuses shorter secrets.
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def link(issuer: str, name: str) -> str:
    return otpauth_link(issuer, name, SECRET)


def make_link(client, uuid: str, minutes: int = 10, show_name: bool = False, **headers) -> tuple[object, str | None]:
    """Post the account page's share form; returns the answer and the token it shows (if any)."""
    token = csrf_from(client.get(f"/accounts/{uuid}").get_data(as_text=True))
    data = {"csrf_token": token, "minutes": str(minutes)}
    if show_name:
        data["show_name"] = "y"
    response = client.post(f"/accounts/{uuid}/share-links", data=data, headers=headers)
    found = re.search(r'value="(https?://[^"]+/s#([A-Za-z0-9_-]{43}))"', response.get_data(as_text=True))
    return response, found.group(2) if found else None


def fetch(client, token: str, opened: bool = False):
    return client.post(CODE_URL, data=json.dumps({"token": token, "open": opened}), content_type="application/json")


def audit_rows(app, prefix: str = "sharelink.") -> list[AuditEvent]:
    with app.app_context():
        rows = list(db.session.scalars(select(AuditEvent).where(AuditEvent.event.like(f"{prefix}%"))
                                       .order_by(AuditEvent.id)))
        db.session.expunge_all()
        return rows


@pytest.fixture
def shared(app, signed_in, frozen_clock):
    """Alice's GitHub account and a 10-minute link to it, made at FROZEN_AT."""
    uuid = add(app, link("GitHub", "alice@example.com"))
    response, token = make_link(signed_in, uuid, 10)
    assert response.status_code == 200 and token
    return uuid, token


def expected_code(at: float) -> str:
    return pyotp.TOTP(SECRET).at(at)


@pytest.mark.parametrize("minutes", [2, 10, 60])
def test_a_link_shows_the_live_code_until_it_expires(app, signed_in, frozen_clock, minutes):
    uuid = add(app, link("GitHub", "alice@example.com"))
    _response, token = make_link(signed_in, uuid, minutes)
    anonymous = app.test_client()

    answer = fetch(anonymous, token, opened=True)
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["code"] == expected_code(FROZEN_AT) and body["issuer"] == "GitHub" and body["name"] == ""
    assert body["code_left_ms"] == 20_000 and body["link_left_ms"] == minutes * 60_000

    # One second before the end: still the code of that moment; at the end: gone.
    frozen_clock.advance(minutes * 60 - 1)
    assert fetch(anonymous, token).get_json()["code"] == expected_code(FROZEN_AT + minutes * 60 - 1)
    frozen_clock.advance(1)
    gone = fetch(anonymous, token)
    assert gone.status_code == 410 and gone.get_json()["message"] == "This link has expired or was revoked."


def test_the_name_shows_only_when_the_owner_chose_it(app, signed_in, frozen_clock):
    uuid = add(app, link("GitHub", "alice@example.com"))
    _response, token = make_link(signed_in, uuid, 2, show_name=True)
    assert fetch(app.test_client(), token).get_json()["name"] == "alice@example.com"


def test_revoking_ends_the_link_at_once(app, signed_in, shared):
    uuid, token = shared
    with app.app_context():
        link_id = db.session.scalar(select(ShareLink.id))
    page = signed_in.get(f"/accounts/{uuid}").get_data(as_text=True)
    assert "ends in 10 minutes" in page
    answer = signed_in.post(f"/accounts/{uuid}/share-links/{link_id}/revoke", data={"csrf_token": csrf_from(page)})
    assert answer.status_code == 302 and answer.headers["Location"] == f"/accounts/{uuid}#share-links"
    assert "No share link is running." in signed_in.get(f"/accounts/{uuid}").get_data(as_text=True)
    assert fetch(app.test_client(), token).status_code == 410
    assert [row.event for row in audit_rows(app)] == ["sharelink.create", "sharelink.revoke"]


def test_another_users_link_cannot_be_revoked(app, client, make_user, shared):
    _uuid, token = shared
    make_user("bob")
    bob = app.test_client()
    sign_in(bob, "bob")
    page = bob.get("/").get_data(as_text=True)
    with app.app_context():
        link_id = db.session.scalar(select(ShareLink.id))
    bobs_uuid = add(app, link("Bob", "bob"), username="bob")
    answer = bob.post(f"/accounts/{bobs_uuid}/share-links/{link_id}/revoke", data={"csrf_token": csrf_from(page)})
    assert answer.status_code == 404
    assert fetch(app.test_client(), token).status_code == 200


def test_the_trash_ends_the_link_for_good(app, signed_in, shared):
    uuid, token = shared
    page = signed_in.get(f"/accounts/{uuid}").get_data(as_text=True)
    signed_in.post(f"/accounts/{uuid}/delete", data={"csrf_token": csrf_from(page)})
    assert fetch(app.test_client(), token).status_code == 410
    trash = signed_in.get("/accounts/trash").get_data(as_text=True)
    assert signed_in.post(f"/accounts/{uuid}/restore", data={"csrf_token": csrf_from(trash)}).status_code == 302
    with app.app_context():
        assert db.session.scalar(select(Account.deleted_at)) is None  # restored, and still:
        row = db.session.scalar(select(ShareLink))
        assert row.ended == "trashed" and row.revoked_at is not None
    assert fetch(app.test_client(), token).status_code == 410


def test_a_disabled_owner_suspends_the_link(app, shared):
    _uuid, token = shared
    for disabled, status in ((True, 410), (False, 200)):
        with app.app_context():
            db.session.execute(update(User).values(disabled=disabled))
            db.session.commit()
        assert fetch(app.test_client(), token).status_code == status


def test_hotp_accounts_cannot_be_shared(app, signed_in, frozen_clock):
    uuid = add(app, "otpauth://hotp/Bank:me?secret=JBSWY3DPEHPK3PXP&issuer=Bank&counter=3")
    response, token = make_link(signed_in, uuid, 10)
    assert response.status_code == 422 and token is None
    assert "only time-based accounts can be shared by link" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(ShareLink)) is None


def test_an_account_turned_counter_based_shows_nothing(app, shared):
    _uuid, token = shared
    with app.app_context():
        db.session.execute(update(Account).values(type="hotp"))
        db.session.commit()
    assert fetch(app.test_client(), token).status_code == 410


def test_a_new_secret_key_ends_the_link(app, shared):
    from dataclasses import replace

    from tests.support.accounts import vault

    uuid, token = shared
    assert fetch(app.test_client(), token).status_code == 200
    with app.app_context():
        owner = vault(app)
        current = owner.spec(owner.get(uuid))
        owner.update(uuid, replace(current, params=replace(current.params, secret=b"another secret key 20")))
        db.session.commit()
    assert fetch(app.test_client(), token).status_code == 410


def test_making_a_link_needs_a_recent_password(app, signed_in, frozen_clock):
    from datetime import timedelta

    from webauth.models import SessionRecord, utcnow

    uuid = add(app, link("GitHub", "alice@example.com"))
    with app.app_context():
        db.session.execute(update(SessionRecord).values(reauth_at=utcnow() - timedelta(hours=1)))
        db.session.commit()
    response, token = make_link(signed_in, uuid, 10)
    assert response.status_code == 302 and "/reauth" in response.headers["Location"] and token is None
    page = signed_in.get("/reauth").get_data(as_text=True)
    signed_in.post("/reauth", data={"csrf_token": csrf_from(page), "password": TEST_PASSWORD})
    response, token = make_link(signed_in, uuid, 10)
    assert response.status_code == 200 and token


def test_each_user_has_a_cap_on_running_links(app_config, make_user, frozen_clock):
    app = create_app({**app_config, "WEBAUTH_SHARE_LINK_MAX_ACTIVE": 2})
    make_user("alice")
    client = app.test_client()
    sign_in(client)
    uuid = add(app, link("GitHub", "alice@example.com"))
    assert [make_link(client, uuid, 2)[0].status_code for _ in range(3)] == [200, 200, 409]
    response, _token = make_link(client, uuid, 2)
    assert "You have 2 share links running already" in response.get_data(as_text=True)
    frozen_clock.advance(120)  # both expired: places again
    assert make_link(client, uuid, 2)[0].status_code == 200


@pytest.mark.parametrize("body", [
    None, "not json", json.dumps([1]), json.dumps({}), json.dumps({"token": 12}), json.dumps({"token": "short"}),
    json.dumps({"token": "x" * 43 + "!"}), json.dumps({"token": "a/b" * 14 + "c"}),
])
def test_bad_requests_get_a_400(app, client, user, body):
    answer = client.post(CODE_URL, data=body, content_type="application/json")
    assert answer.status_code == 400 and answer.get_json()["error"] == "malformed"


def test_unknown_and_ended_links_answer_alike(app, client, shared, frozen_clock):
    _uuid, token = shared
    unknown = fetch(client, "A" * 43)
    frozen_clock.advance(600)
    expired = fetch(client, token)
    assert unknown.status_code == expired.status_code == 410
    assert unknown.get_data() == expired.get_data()


@pytest.mark.parametrize("minutes", ["5", "0", "-2", "ten", ""])
def test_other_lifetimes_are_refused(app, signed_in, minutes):
    uuid = add(app, link("GitHub", "alice@example.com"))
    page = signed_in.get(f"/accounts/{uuid}").get_data(as_text=True)
    answer = signed_in.post(f"/accounts/{uuid}/share-links", data={"csrf_token": csrf_from(page), "minutes": minutes})
    assert answer.status_code == 422
    with app.app_context():
        assert db.session.scalar(select(ShareLink)) is None


def test_a_link_to_no_account_is_a_404(app, signed_in):
    page = signed_in.get("/").get_data(as_text=True)
    answer = signed_in.post("/accounts/nope/share-links", data={"csrf_token": csrf_from(page), "minutes": "2"})
    assert answer.status_code == 404


def test_the_public_page_and_answers_keep_nothing(app, client, shared):
    _uuid, token = shared
    page = client.get("/s")
    assert page.status_code == 200 and "Shared code" in page.get_data(as_text=True)
    for answer in (page, fetch(client, token), fetch(client, "A" * 43)):
        assert answer.headers["Cache-Control"] == "no-store"
        assert answer.headers["Referrer-Policy"] == "no-referrer"
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]


def test_the_token_is_in_no_url_log_or_audit_row_and_the_secret_in_no_answer(app, signed_in, frozen_clock, caplog):
    caplog.set_level(logging.DEBUG)
    uuid = add(app, link("GitHub", "alice@example.com"))
    made, token = make_link(signed_in, uuid, 10)
    # The link carries the token in its fragment only, which browsers never send.
    url = re.search(r'value="(http[^"]+)"', made.get_data(as_text=True)).group(1)
    assert url == f"http://localhost/s#{token}"
    anonymous = app.test_client()
    answers = [anonymous.get("/s"), fetch(anonymous, token, opened=True), fetch(anonymous, token)]
    code = answers[1].get_json()["code"]
    secret_forms = {SECRET, SECRET.lower(), SECRET[:16], pyotp.TOTP(SECRET).byte_secret().hex()}
    for answer in answers:
        text = answer.get_data(as_text=True)
        assert not any(form in text for form in secret_forms)
        assert token not in json.dumps(dict(answer.headers))
    assert token not in caplog.text
    with app.app_context():
        stored = db.session.scalar(select(ShareLink))
        assert token not in (stored.token_hash, str(stored.__dict__))
    for row in audit_rows(app, ""):
        text = json.dumps(row.details) + row.user_agent + row.ip
        assert token not in text and code not in json.dumps(row.details)


def test_views_are_audited_once_per_opening(app, signed_in, frozen_clock):
    uuid = add(app, link("GitHub", "alice@example.com"))
    _response, token = make_link(signed_in, uuid, 60)
    first, second = app.test_client(), app.test_client()
    fetch(first, token, opened=True)
    for _period in range(5):  # the page refreshing its code at each boundary: still one view
        frozen_clock.advance(30)
        assert fetch(first, token).status_code == 200
    # A request from another address counts once, even one that does not say it opened the page.
    for _twice in range(2):
        second.post(CODE_URL, json={"token": token}, environ_base={"REMOTE_ADDR": "192.0.2.7"})
    fetch(second, token, opened=True)  # another opening (a reload, or someone else)
    fetch(first, token)  # a refresh right after: recorded already
    frozen_clock.advance(601)
    fetch(first, token)  # a page left open past VIEW_AUDIT_RESOLUTION counts again
    views = [row for row in audit_rows(app) if row.event == "sharelink.view"]
    assert [row.ip for row in views] == ["127.0.0.1", "192.0.2.7", "127.0.0.1", "127.0.0.1"]
    assert all(row.details == {"account": uuid, "link": views[0].details["link"]} for row in views)
    assert all(row.actor_id is None for row in views)
    created = audit_rows(app)[0]
    assert created.event == "sharelink.create" and created.details["minutes"] == 60
    assert created.details["account"] == uuid
    with app.app_context():
        assert db.session.scalar(select(ShareLink.views)) == 4


def test_a_signed_in_viewer_is_named_in_the_audit(app, signed_in, shared):
    _uuid, token = shared
    fetch(signed_in, token, opened=True)
    view = next(row for row in audit_rows(app) if row.event == "sharelink.view")
    assert view.actor_id == view.user_id


@pytest.fixture
def limited(app, app_config):
    """An app with small limits. After `app`: the limiter is one object, and the last app made
    decides whether it is on."""
    limited = create_app({
        **app_config, "RATELIMIT_ENABLED": True, "WEBAUTH_SHARE_LINK_RATE_LIMIT": "5 per minute",
        "WEBAUTH_SHARE_LINK_PER_LINK_RATE_LIMIT": "3 per minute",
        "WEBAUTH_SHARE_LINK_REFUSAL_RATE_LIMIT": "2 per minute",
        "WEBAUTH_SHARE_LINK_CREATE_RATE_LIMIT": "2 per hour",
    })
    yield limited
    with limited.app_context():
        limiter.reset()


def test_the_code_endpoint_is_rate_limited_per_link_and_per_address(limited, make_user, frozen_clock):
    make_user("alice")
    owner = limited.test_client()
    sign_in(owner)
    uuid = add(limited, link("GitHub", "alice@example.com"))
    _response, token = make_link(owner, uuid, 10)
    _response, other = make_link(owner, uuid, 10)
    viewer = limited.test_client()
    assert [fetch(viewer, token).status_code for _ in range(4)] == [200, 200, 200, 429]
    # Another address reading the same link meets the link's limit too.
    elsewhere = limited.test_client()
    assert fetch(elsewhere, token, opened=True).status_code == 429
    assert elsewhere.post(CODE_URL, json={"token": token}, environ_base={"REMOTE_ADDR": "10.0.0.9"}).status_code == 429
    # The first address: two more requests for another link, then its own limit (5) is reached.
    assert [fetch(viewer, other).status_code for _ in range(3)] == [200, 200, 429]


def test_guessing_is_slowed_down(limited, make_user):
    make_user("alice")
    guesser = limited.test_client()
    answers = [fetch(guesser, f"{index:043d}").status_code for index in range(3)]
    assert answers == [410, 410, 429]


def test_making_links_is_rate_limited_per_user(limited, make_user, frozen_clock):
    make_user("alice")
    owner = limited.test_client()
    sign_in(owner)
    uuid = add(limited, link("GitHub", "alice@example.com"))
    assert [make_link(owner, uuid, 2)[0].status_code for _ in range(3)] == [200, 200, 429]


def test_the_command_line_makes_lists_and_revokes_links(app_config, make_user, frozen_clock):
    app = create_app({**app_config, "WEBAUTH_PUBLIC_URL": "https://auth.example.com"})
    make_user("alice")
    uuid = add(app, link("GitHub", "alice@example.com"))
    runner = app.test_cli_runner()
    made = runner.invoke(args=["accounts", "share-link", "--user", "alice", uuid, "--minutes", "60"])
    assert made.exit_code == 0, made.output
    token = re.fullmatch(r"https://auth\.example\.com/s#([A-Za-z0-9_-]{43})", made.stdout.strip()).group(1)
    assert fetch(app.test_client(), token).get_json()["link_left_ms"] == 3_600_000
    with app.app_context():
        link_id = db.session.scalar(select(ShareLink.id))
    listed = runner.invoke(args=["accounts", "share-links", "--user", "alice"])
    assert listed.output.startswith(f"{link_id}  {uuid}  until ") and token not in listed.output
    assert runner.invoke(args=["accounts", "revoke-link", "--user", "alice", str(link_id)]).exit_code == 0
    assert fetch(app.test_client(), token).status_code == 410
    assert runner.invoke(args=["accounts", "share-links", "--user", "alice"]).output == ""
    refused = runner.invoke(args=["accounts", "share-link", "--user", "alice", uuid, "--minutes", "5"])
    assert refused.exit_code != 0
    revoke = next(row for row in audit_rows(app) if row.event == "sharelink.revoke")
    assert revoke.details["by"] == "cli"


def test_the_stored_digest_is_keyed_by_the_secret_key(app_config, shared):
    import hashlib

    _uuid, token = shared
    app = create_app(app_config)
    with app.app_context():
        stored = db.session.scalar(select(ShareLink.token_hash))
    assert stored != hashlib.sha256(token.encode()).hexdigest()
    assert fetch(app.test_client(), token).status_code == 200
    rekeyed = create_app({**app_config, "SECRET_KEY": "another-secret-key-for-another-install"})
    assert fetch(rekeyed.test_client(), token).status_code == 410
