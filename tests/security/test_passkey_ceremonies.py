"""Attacks on the passkey ceremonies: a replayed answer, a challenge from another browser or
session, a late answer, hostile bodies, and guessing at the sign-in endpoints."""

from __future__ import annotations

import threading

import pytest

from tests.conftest import post_form, sign_in
from tests.support.passkey_flow import (
    add_passkey,
    age_challenges,
    audited,
    post_json,
    signin_options,
    token,
)
from tests.support.soft_authenticator import SoftAuthenticator, b64url
from webauth import create_app
from webauth.extensions import db
from webauth.models import Passkey
from webauth.passkeys.challenges import LIFETIME


@pytest.fixture
def phone(app, signed_in) -> SoftAuthenticator:
    """Alice's phone, holding a passkey of hers; she is signed out."""
    phone = SoftAuthenticator()
    assert add_passkey(signed_in, phone).status_code == 201
    post_form(signed_in, "/me/", "/logout", {})
    return phone


def test_an_answer_counts_once(app, client, phone):
    options, csrf = signin_options(client)
    answer = phone.get(options)
    assert post_json(client, "/passkeys/signin", {"credential": answer}, csrf).status_code == 200
    post_form(client, "/me/", "/logout", {})
    csrf = token(client, "/login")
    replayed = post_json(client, "/passkeys/signin", {"credential": answer}, csrf)
    assert replayed.status_code == 401 and replayed.get_json()["error"] == "expired"
    assert client.get("/").status_code == 302


def test_a_challenge_is_bound_to_the_browser_that_asked(app, phone):
    victim, attacker = app.test_client(), app.test_client()
    options, _ = signin_options(victim)
    # The attacker holds an answer to the victim's challenge (say, relayed) and posts it first.
    csrf = token(attacker, "/login")
    stolen = post_json(attacker, "/passkeys/signin", {"credential": phone.get(options)}, csrf)
    assert stolen.status_code == 401 and stolen.get_json()["error"] == "expired"
    assert attacker.get("/").status_code == 302
    # The victim's own browser still can use it: the stranger spent nothing.
    csrf = token(victim, "/login")
    assert post_json(victim, "/passkeys/signin", {"credential": phone.get(options)}, csrf).status_code == 200


def test_registration_challenges_are_bound_to_the_session(app, signed_in, make_user):
    make_user("bob")
    bob = app.test_client()
    sign_in(bob, "bob")
    csrf = token(signed_in, "/me/")
    options = post_json(signed_in, "/passkeys/register/options", {}, csrf).get_json()
    answer = SoftAuthenticator().create(options)
    refused = post_json(bob, "/passkeys/register", {"credential": answer}, token(bob, "/me/"))
    assert refused.status_code == 400 and refused.get_json()["error"] == "expired"
    assert post_json(signed_in, "/passkeys/register", {"credential": answer}, csrf).status_code == 201
    again = post_json(signed_in, "/passkeys/register", {"credential": answer}, csrf)
    assert again.get_json()["error"] == "expired"


def test_a_challenge_expires(app, client, phone):
    options, csrf = signin_options(client)
    age_challenges(app, int(LIFETIME.total_seconds()) + 1)
    late = post_json(client, "/passkeys/signin", {"credential": phone.get(options)}, csrf)
    assert late.status_code == 401 and late.get_json()["error"] == "expired"
    # Just in time is in time.
    options, csrf = signin_options(client)
    age_challenges(app, int(LIFETIME.total_seconds()) - 5)
    assert post_json(client, "/passkeys/signin", {"credential": phone.get(options)}, csrf).status_code == 200


def test_the_same_passkey_twice_is_refused(app, signed_in):
    phone = SoftAuthenticator()
    add_passkey(signed_in, phone)
    csrf = token(signed_in, "/me/")
    options = post_json(signed_in, "/passkeys/register/options", {}, csrf).get_json()
    assert options["excludeCredentials"] == [{"id": b64url(phone.credentials[0].id), "type": "public-key",
                                              "transports": ["internal"]}]
    # An authenticator that ignores the exclusion list and makes a credential with an existing id.
    answer = SoftAuthenticator().create(options, credential_id=phone.credentials[0].id)
    refused = post_json(signed_in, "/passkeys/register", {"credential": answer}, csrf)
    assert refused.status_code == 409 and refused.get_json()["error"] == "duplicate"
    with app.app_context():
        assert db.session.query(Passkey).count() == 1


HOSTILE_BODIES = [
    b"not json",
    b"[]",
    b'{"credential": null}',
    b'{"credential": "a string"}',
    b'{"credential": {"id": "AA", "rawId": "AA", "type": "public-key", "response": {}}}',
    b'{"credential": {"id": "!!!", "rawId": "!!!", "type": "public-key", "response": '
    b'{"clientDataJSON": "!!!", "authenticatorData": "AA", "signature": "AA"}}}',
    b'{"credential": {"id": "AA", "rawId": "AA", "type": "public-key", "response": '
    b'{"clientDataJSON": "e30", "authenticatorData": "AA", "signature": "AA"}}}',
    b'{"credential": {"id": "AA", "rawId": "AA", "type": "other", "response": '
    b'{"clientDataJSON": "eyJjaGFsbGVuZ2UiOjF9", "authenticatorData": "", "signature": ""}}}',
    b'{"credential": {}, "padding": "' + b"A" * 70_000 + b'"}',
]


@pytest.mark.parametrize("body", HOSTILE_BODIES, ids=range(len(HOSTILE_BODIES)))
def test_hostile_bodies_get_a_clear_4xx(app, signed_in, body):
    for url, page, who in (("/passkeys/signin", "/login", app.test_client()), ("/passkeys/register", "/me/", signed_in),
                           ("/passkeys/reauth", "/reauth", signed_in)):
        answer = who.post(url, data=body, content_type="application/json", headers={"X-CSRFToken": token(who, page)})
        assert 400 <= answer.status_code < 500, (url, answer.status_code)
        assert answer.get_json()["message"]


def test_a_forged_attestation_with_a_garbage_cbor_is_refused(app, signed_in):
    csrf = token(signed_in, "/me/")
    options = post_json(signed_in, "/passkeys/register/options", {}, csrf).get_json()
    answer = SoftAuthenticator().create(options)
    answer["response"]["attestationObject"] = b64url(b"\xbf" * 64)  # an indefinite map that never ends
    refused = post_json(signed_in, "/passkeys/register", {"credential": answer}, csrf)
    assert refused.status_code == 400 and refused.get_json()["error"] == "invalid"


def test_passkey_sign_in_is_rate_limited_like_sign_in(app_config, make_user):
    app = create_app({**app_config, "RATELIMIT_ENABLED": True, "WEBAUTH_LOGIN_RATE_LIMIT": "3 per minute"})
    make_user("alice")
    client = app.test_client()
    csrf = token(client, "/login")
    statuses = [post_json(client, "/passkeys/signin/options", {}, csrf).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    statuses = [post_json(client, "/passkeys/signin", {"credential": {}}, csrf).status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    # Another address is not held back.
    other = app.test_client()
    csrf = token(other, "/login")
    answer = other.post("/passkeys/signin/options", json={}, headers={"X-CSRFToken": csrf},
                        environ_overrides={"REMOTE_ADDR": "192.0.2.7"})
    assert answer.status_code == 200


def test_sign_in_failures_are_audited_without_the_answer(app, client, phone):
    options, csrf = signin_options(client)
    answer = phone.get(options, origin="http://evil.example")
    post_json(client, "/passkeys/signin", {"credential": answer}, csrf)
    [failure] = audited(app, "signin.failure")
    assert failure.username == "alice" and failure.details == {"method": "passkey", "reason": "passkey-invalid"}
    assert answer["response"]["signature"] not in str(failure.details)


def _twin(app, client):
    """Another client holding the same session cookie: the same browser, a second tab."""
    twin = app.test_client()
    for cookie in ("webauth_session",):
        found = client.get_cookie(cookie)
        if found is not None:
            twin.set_cookie(cookie, found.value)
    return twin


def _at_once(*calls):
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index, call):
        barrier.wait()
        results[index] = call()

    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_one_answer_sent_twice_at_once_signs_in_once(app, phone):
    client = app.test_client()
    options, csrf = signin_options(client)
    answer = phone.get(options)
    twin = _twin(app, client)
    statuses = _at_once(
        lambda: post_json(client, "/passkeys/signin", {"credential": answer}, csrf).status_code,
        lambda: post_json(twin, "/passkeys/signin", {"credential": answer}, csrf).status_code,
    )
    assert sorted(statuses) == [200, 401]
    passkey_sign_ins = [event for event in audited(app, "signin.success") if event.details["method"] == "passkey"]
    assert len(passkey_sign_ins) == 1


def test_two_answers_with_the_same_count_at_once_move_it_once(app, phone):
    first, second = app.test_client(), app.test_client()
    (options_a, csrf_a), (options_b, csrf_b) = signin_options(first), signin_options(second)
    answer_a = phone.get(options_a)
    answer_b = phone.get(options_b, count=phone.credentials[0].sign_count)  # a clone, same count
    statuses = _at_once(
        lambda: post_json(first, "/passkeys/signin", {"credential": answer_a}, csrf_a).status_code,
        lambda: post_json(second, "/passkeys/signin", {"credential": answer_b}, csrf_b).status_code,
    )
    assert sorted(statuses) == [200, 401]
    with app.app_context():
        assert db.session.query(Passkey).one().sign_count == 1
    assert len(audited(app, "passkey.counter_regressed")) == 1
