"""Every refusal of the API: RFC 9457 problem details with the right status and headers, and
nothing changed. Bearer tokens only: a session cookie opens nothing and none is ever set."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.api.conftest import TOTP_URI, Api, make_token
from tests.conftest import account_state, sign_in
from webauth import tokens
from webauth.extensions import db
from webauth.models import AccessToken, User

PROBLEM = "application/problem+json"


def _problem(answer, status: int) -> dict:
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert answer.headers["Content-Type"] == PROBLEM
    body = answer.get_json(force=True)
    assert body["status"] == status and body["type"] == "about:blank" and body["title"] and body["detail"]
    return body


def _added(api: Api) -> str:
    return api.post("/accounts", json={"uri": TOTP_URI}).get_json()["id"]


# 401 -------------------------------------------------------------------------------------------


def test_before_the_first_administrator_the_api_is_a_401_not_the_set_up_page(client) -> None:
    _problem(client.get("/api/v1/accounts"), 401)
    assert client.get("/api/v1/openapi.json").status_code == 200


def test_no_token_is_a_401_with_a_bare_bearer_challenge(client, user) -> None:
    answer = client.get("/api/v1/accounts")
    _problem(answer, 401)
    assert answer.headers["WWW-Authenticate"] == 'Bearer realm="webauth"'


@pytest.mark.parametrize(
    "header",
    ["Bearer nonsense", "Basic YWxpY2U6cGFzcw==", "Bearer wa_pat_" + "A" * 43, "Bearer"],
    ids=["not-a-token", "basic", "unknown", "empty"],
)
def test_a_bad_token_is_a_401_invalid_token(client, user, header) -> None:
    answer = client.get("/api/v1/accounts", headers={"Authorization": header})
    _problem(answer, 401)
    assert answer.headers["WWW-Authenticate"] == 'Bearer realm="webauth", error="invalid_token"'


def test_an_expired_token_is_a_401(app, client, user, frozen_clock) -> None:
    api = Api(client, make_token(app, days=1))
    assert api.get("/accounts").status_code == 200
    frozen_clock.advance(timedelta(days=1).total_seconds())
    assert "expired" in _problem(api.get("/accounts"), 401)["detail"]


def test_a_revoked_token_is_refused_at_once(app, api) -> None:
    assert api.get("/accounts").status_code == 200
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == "alice"))
        tokens.revoke(user, tokens.named(user, "script"))
        db.session.commit()
    _problem(api.get("/accounts"), 401)


def test_a_disabled_users_token_is_a_401(app, api) -> None:
    with app.app_context():
        db.session.execute(sa.update(User).values(disabled=True))
        db.session.commit()
    _problem(api.get("/accounts"), 401)


def test_a_session_cookie_opens_nothing(client, user) -> None:
    sign_in(client)
    assert client.get("/").status_code == 200  # signed in for the pages
    _problem(client.get("/api/v1/accounts"), 401)
    _problem(client.post("/api/v1/accounts", json={"uri": TOTP_URI}), 401)


def test_no_answer_sets_a_cookie_even_for_a_signed_in_browser(app, client, user) -> None:
    sign_in(client)
    api = Api(client, make_token(app))
    for answer in (api.get("/accounts"), api.post("/accounts", json={"uri": TOTP_URI}), api.get("/nothing")):
        assert "Set-Cookie" not in answer.headers
        assert answer.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in client.get("/api/v1/docs").headers


def test_answers_do_not_depend_on_cookies(app, api) -> None:
    """No `Vary: Cookie`: the session is not even opened under /api/, so no cache keys on it."""
    api.client.set_cookie("webauth_session", "anything")
    for answer in (api.get("/accounts"), api.client.get("/api/v1/accounts")):
        assert "cookie" not in answer.headers.get("Vary", "").lower()


def test_the_proxys_user_header_signs_nobody_in_under_the_api(app_config, app, user) -> None:
    """Single sign-on from the proxy is for pages: a script behind the proxy still needs a token."""
    from ipaddress import ip_network

    from webauth import create_app

    proxy = {"WEBAUTH_TRUSTED_PROXIES": (ip_network("127.0.0.1/32"),), "WEBAUTH_REMOTE_USER_HEADER": "Remote-User"}
    sso = create_app({**app_config, **proxy})
    client = sso.test_client()
    headers = {"Remote-User": "alice", "Sec-Fetch-Mode": "navigate"}
    assert client.get("/", headers=headers, environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 200
    answer = client.get("/api/v1/accounts", headers=headers, environ_base={"REMOTE_ADDR": "127.0.0.1"})
    _problem(answer, 401)
    assert "Set-Cookie" not in answer.headers
    with sso.app_context():
        db.engine.dispose()


# 403, 404 --------------------------------------------------------------------------------------


def test_a_read_only_token_reads_but_does_not_write(app, api, read_only) -> None:
    uuid = _added(api)
    before = account_state(app, uuid)
    assert read_only.get("/accounts").status_code == 200
    assert read_only.get(f"/accounts/{uuid}/code").status_code == 200
    for answer in (
        read_only.post("/accounts", json={"uri": TOTP_URI.replace("ACME", "Other")}),
        read_only.patch(f"/accounts/{uuid}", json={"name": "x"}),
        read_only.delete(f"/accounts/{uuid}"),
        read_only.post(f"/accounts/{uuid}/next"),
    ):
        _problem(answer, 403)
        assert answer.headers["WWW-Authenticate"] == 'Bearer realm="webauth", error="insufficient_scope", scope="write"'
    after = account_state(app, uuid)
    assert {**after, "last_used_at": None} == {**before, "last_used_at": None}
    assert len(api.get("/accounts").get_json()) == 1


def test_another_users_account_does_not_exist(app, api, make_user) -> None:
    make_user("bob")
    bob = Api(api.client, make_token(app, "bob"))
    uuid = _added(api)
    before = account_state(app, uuid)
    for answer in (
        bob.get(f"/accounts/{uuid}"),
        bob.get(f"/accounts/{uuid}/code"),
        bob.patch(f"/accounts/{uuid}", json={"name": "x"}),
        bob.delete(f"/accounts/{uuid}"),
        bob.post(f"/accounts/{uuid}/next"),
    ):
        _problem(answer, 404)
    assert account_state(app, uuid) == before
    assert bob.get("/accounts").get_json() == []


def test_an_unknown_path_is_a_problem_too(api) -> None:
    _problem(api.get("/nothing/here"), 404)
    _problem(api.client.get("/api/v2/accounts"), 404)


def test_a_wrong_method_is_a_405_with_allow(api) -> None:
    answer = api.client.put("/api/v1/accounts", headers=api.headers())
    _problem(answer, 405)
    assert set(answer.headers["Allow"].split(", ")) >= {"GET", "POST"}


# Bodies ----------------------------------------------------------------------------------------


def test_a_body_over_the_limit_is_a_413(api) -> None:
    huge = '{"uri": "' + "a" * 70_000 + '"}'
    _problem(api.post("/accounts", data=huge, headers={"Content-Type": "application/json"}), 413)
    assert api.get("/accounts").get_json() == []


def test_a_body_that_is_not_json_is_a_415(api) -> None:
    _problem(api.post("/accounts", data={"uri": TOTP_URI}), 415)  # a form post


def test_broken_json_is_a_400(api) -> None:
    _problem(api.post("/accounts", data="{", headers={"Content-Type": "application/json"}), 400)
    deep = "[" * 100_000 + "]" * 100_000
    _problem(api.post("/accounts", data=deep[:60_000], headers={"Content-Type": "application/json"}), 400)


@pytest.mark.parametrize(
    ("body", "pointers"),
    [
        ([1, 2], []),
        ({}, ["#/secret"]),
        ({"uri": "https://example.com"}, ["#/uri"]),
        ({"uri": TOTP_URI, "name": "x"}, ["#/name"]),
        ({"secret": "JBSWY3DP", "digits": 11, "period": True, "colour": "red"}, ["#/digits", "#/period", "#/colour"]),
        ({"secret": "not base32!", "name": "x"}, ["#/secret"]),
        ({"secret": "JBSWY3DP"}, ["#/name"]),
        ({"secret": "JBSWY3DP", "name": "x", "groups": "Work"}, ["#/groups"]),
        ({"secret": "JBSWY3DP", "name": "x", "type": "TOTP"}, ["#/type"]),
    ],
    ids=["array", "empty", "not-otpauth", "uri-and-fields", "types", "secret", "no-name", "groups", "type-case"],
)
def test_a_body_the_vault_cannot_take_is_a_422_naming_each_field(api, body, pointers) -> None:
    problem = _problem(api.post("/accounts", json=body), 422)
    assert sorted(error["pointer"] for error in problem.get("errors", [])) == sorted(pointers)
    assert api.get("/accounts").get_json() == []


def test_a_bad_change_is_a_422_and_changes_nothing(app, api) -> None:
    uuid = _added(api)
    before = account_state(app, uuid)
    problem = _problem(api.patch(f"/accounts/{uuid}", json={"name": "", "issuer": ""}), 422)
    assert problem["errors"][0]["pointer"] == "#/name"
    assert account_state(app, uuid) == before


def test_a_search_too_long_is_a_422(api) -> None:
    _problem(api.get("/accounts?q=" + "a" * 201), 422)


# 429, 500 --------------------------------------------------------------------------------------


@pytest.fixture
def limited_app(app, app_config):
    """An app with the limiter on (after `app`: the limiter is one object, the last app sets it up)."""
    from webauth import create_app

    app = create_app(
        {**app_config, "RATELIMIT_ENABLED": True, "WEBAUTH_API_RATE_LIMIT": "3 per minute",
         "WEBAUTH_API_REFUSAL_RATE_LIMIT": "2 per minute"}
    )
    yield app
    with app.app_context():
        db.engine.dispose()


def test_too_many_calls_with_a_token_are_a_429_with_retry_after(limited_app, make_user) -> None:
    make_user("alice")
    make_user("bob")
    alice = Api(limited_app.test_client(), make_token(limited_app))
    bob = Api(limited_app.test_client(), make_token(limited_app, "bob"))
    for _ in range(3):
        assert alice.get("/accounts").status_code == 200
    answer = alice.get("/accounts")
    _problem(answer, 429)
    assert 1 <= int(answer.headers["Retry-After"]) <= 61  # the rest of the minute, rounded up
    assert bob.get("/accounts").status_code == 200  # per token, not for everyone


def test_refused_tokens_from_one_address_are_slowed(limited_app, make_user) -> None:
    make_user("alice")
    client = limited_app.test_client()
    for _ in range(2):
        _problem(client.get("/api/v1/accounts", headers={"Authorization": "Bearer wa_pat_" + "B" * 43}), 401)
    answer = client.get("/api/v1/accounts", headers={"Authorization": "Bearer wa_pat_" + "C" * 43})
    _problem(answer, 429)
    assert int(answer.headers["Retry-After"]) >= 1


def test_a_server_error_is_a_problem_and_says_nothing_more(app, app_config, make_user, monkeypatch) -> None:
    from webauth import create_app
    from webauth.vault import Vault

    app = create_app({**app_config, "TESTING": False, "PROPAGATE_EXCEPTIONS": False})
    make_user("alice")
    api = Api(app.test_client(), make_token(app))

    def broken(self, query=None):
        raise RuntimeError("a secret detail of the failure")

    monkeypatch.setattr(Vault, "accounts", broken)
    answer = api.get("/accounts")
    problem = _problem(answer, 500)
    assert "secret detail" not in answer.get_data(as_text=True) and "Nothing was changed" in problem["detail"]
    with app.app_context():
        db.engine.dispose()


def test_the_last_use_is_written_at_most_once_a_minute(app, api, frozen_clock) -> None:
    def last_used():
        with app.app_context():
            return db.session.scalar(sa.select(AccessToken.last_used_at))

    api.get("/accounts")
    first = last_used()
    frozen_clock.advance(30)
    api.get("/accounts")
    assert last_used() == first
    frozen_clock.advance(31)
    api.get("/accounts")
    assert last_used() == first + timedelta(seconds=61)


def test_problems_speak_the_token_users_language(app, api) -> None:
    with app.app_context():
        db.session.execute(sa.update(User).values(locale="zh_Hans"))
        db.session.commit()
    problem = _problem(api.post("/accounts", json={"secret": "JBSWY3DP", "colour": "red"}), 422)
    assert problem["errors"] == [{"pointer": "#/colour", "detail": "此处没有这个字段。"}]
    assert "请" in _problem(api.client.get("/api/v1/accounts", headers={"Accept-Language": "zh-CN"}), 401)["detail"]
