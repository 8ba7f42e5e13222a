"""Personal access tokens: stored as hashes, named per user, scoped, expiring, audited without the
token; made and revoked on the Access tokens page (after a password entry), by administrators, and
with `flask tokens create | list | revoke`."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.api.conftest import Api, make_token
from tests.conftest import TEST_PASSWORD, csrf_from, post_form, sign_in
from webauth import tokens
from webauth.extensions import db
from webauth.models import AccessToken, AuditEvent, SessionRecord, User, utcnow

TOKEN = re.compile(r"wa_pat_[A-Za-z0-9_-]{43}")


def _user(name: str = "alice") -> User:
    return db.session.scalar(sa.select(User).where(User.username == name))


def _audit(app) -> list[tuple[str, dict]]:
    with app.app_context():
        return [(e.event, e.details) for e in db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id))]


def _everything_stored(app) -> str:
    """Every row of every table, as text: where a token must never be."""
    with app.app_context():
        return repr([db.session.execute(sa.select(table)).all() for table in db.metadata.sorted_tables])


# The domain ------------------------------------------------------------------------------------


def test_a_token_is_random_recognisable_and_stored_only_as_its_hash(app, user) -> None:
    with app.app_context():
        token, raw = tokens.create(_user(), "laptop")
        second, other = tokens.create(_user(), "phone")
        db.session.commit()
        stored = (token.token_hash, second.token_hash)
    assert TOKEN.fullmatch(raw) and TOKEN.fullmatch(other) and raw != other
    assert stored == (hashlib.sha256(raw.encode()).hexdigest(), hashlib.sha256(other.encode()).hexdigest())
    assert raw not in _everything_stored(app) and raw[7:] not in _everything_stored(app)


def test_names_are_unique_per_user_only(app, user, make_user) -> None:
    make_user("bob")
    with app.app_context():
        tokens.create(_user(), "laptop")
        tokens.create(_user("bob"), "laptop")
        with pytest.raises(tokens.NameTaken):
            tokens.create(_user(), " laptop ")
        db.session.rollback()


@pytest.mark.parametrize(
    ("name", "options", "field"),
    [
        ("", {}, "name"),
        ("x" * 101, {}, "name"),
        ("tab\there", {}, "name"),
        ("ok", {"scope": "admin"}, "scope"),
        ("ok", {"days": 0}, "days"),
        ("ok", {"days": tokens.MAX_DAYS + 1}, "days"),
    ],
    ids=["empty", "long", "control", "scope", "zero-days", "too-many-days"],
)
def test_a_token_that_cannot_be_made_says_which_input(app, user, name, options, field) -> None:
    with app.app_context():
        with pytest.raises(tokens.TokenError) as refused:
            tokens.create(_user(), name, **options)
        assert refused.value.field == field
        assert db.session.scalar(sa.select(sa.func.count(AccessToken.id))) == 0


def test_making_and_revoking_are_audited_without_the_token(app, user) -> None:
    with app.app_context():
        _token, raw = tokens.create(_user(), "laptop", scope="read", days=7)
        db.session.commit()
        tokens.revoke(_user(), tokens.named(_user(), "laptop"))
        db.session.commit()
    events = [(event, details) for event, details in _audit(app) if event.startswith("token.")]
    assert [event for event, _details in events] == ["token.create", "token.revoke"]
    assert events[0][1]["token"] == "laptop" and events[0][1]["scope"] == "read"
    assert events[1][1] == {"token": "laptop", "by": "user"}
    assert raw not in repr(events)


def test_a_token_expires_at_the_end_of_its_days(app, user, frozen_clock) -> None:
    with app.app_context():
        _token, raw = tokens.create(_user(), "laptop", days=2)
        db.session.commit()
        header = f"Bearer {raw}"
        frozen_clock.advance(timedelta(days=2).total_seconds() - 1)
        assert tokens.check(header).user is not None
        frozen_clock.advance(1)
        assert tokens.check(header).refusal == "expired"


# The command line ------------------------------------------------------------------------------


def test_tokens_create_prints_the_token_on_its_last_line(app, client, user) -> None:
    result = app.test_cli_runner().invoke(args=["tokens", "create", "--user", "alice", "--name", "cron"])
    assert result.exit_code == 0, result.output
    raw = result.output.splitlines()[-1]
    assert TOKEN.fullmatch(raw)
    api = Api(client, raw)
    assert api.get("/token").get_json()["scope"] == "write"
    assert api.post("/accounts", json={"uri": "otpauth://totp/A:b?secret=JBSWY3DP"}).status_code == 201


def test_tokens_create_read_only_for_some_days(app, client, user, frozen_clock) -> None:
    runner = app.test_cli_runner()
    args = ["tokens", "create", "--user", "alice", "--name", "widget", "--read-only", "--days", "3"]
    raw = runner.invoke(args=args).output.splitlines()[-1]
    api = Api(client, raw)
    assert api.get("/token").get_json()["scope"] == "read"
    assert api.post("/accounts", json={"uri": "otpauth://totp/A:b?secret=JBSWY3DP"}).status_code == 403
    frozen_clock.advance(timedelta(days=3).total_seconds())
    assert api.get("/accounts").status_code == 401


def test_tokens_create_refuses_with_a_message(app, user) -> None:
    runner = app.test_cli_runner()
    runner.invoke(args=["tokens", "create", "--user", "alice", "--name", "cron"])
    for args, message in [
        (["--user", "alice", "--name", "cron"], "already have a token called cron"),
        (["--user", "nobody", "--name", "x"], "no user named 'nobody'"),
        (["--user", "alice", "--name", "x", "--days", "0"], "from 1 to"),
    ]:
        result = runner.invoke(args=["tokens", "create", *args])
        assert result.exit_code != 0 and message in result.output


def test_tokens_list_shows_scope_expiry_and_last_use_never_the_token(app, client, user, frozen_clock) -> None:
    raw = make_token(app, name="cron")
    make_token(app, name="widget", scope="read")
    runner = app.test_cli_runner()
    assert "never used" in runner.invoke(args=["tokens", "list", "--user", "alice"]).output
    Api(client, raw).get("/accounts")

    table = runner.invoke(args=["tokens", "list", "--user", "alice"]).output
    rows = json.loads(runner.invoke(args=["tokens", "list", "--user", "alice", "--json"]).output)

    assert "cron  write  expires 2026-04-01 00:00 UTC  last used 2026-01-01 00:00 UTC from 127.0.0.1" in table
    assert "widget  read   expires 2026-04-01 00:00 UTC  never used" in table
    assert {row["name"]: row["last_used_ip"] for row in rows} == {"cron": "127.0.0.1", "widget": None}
    assert raw not in table and raw not in json.dumps(rows)


def test_tokens_revoke_refuses_the_token_at_once(app, client, user) -> None:
    api = Api(client, make_token(app, name="cron"))
    assert api.get("/accounts").status_code == 200
    result = app.test_cli_runner().invoke(args=["tokens", "revoke", "--user", "alice", "--name", "cron"])
    assert result.exit_code == 0 and "revoked 'cron'" in result.output
    assert api.get("/accounts").status_code == 401
    assert _audit(app)[-1] == ("token.revoke", {"token": "cron", "by": "cli"})
    again = app.test_cli_runner().invoke(args=["tokens", "revoke", "--user", "alice", "--name", "cron"])
    assert again.exit_code != 0 and "has no token named 'cron'" in again.output


# The Access tokens page ------------------------------------------------------------------------


def _age_reauth(app, seconds: int) -> None:
    with app.app_context():
        db.session.execute(sa.update(SessionRecord).values(reauth_at=utcnow() - timedelta(seconds=seconds)))
        db.session.commit()


def test_the_page_asks_for_the_password_first(app, client, user) -> None:
    sign_in(client)
    _age_reauth(app, 600)
    answer = client.get("/me/tokens/")
    assert answer.status_code == 302 and "/reauth?next=/me/tokens/" in answer.headers["Location"]
    post_form(client, "/reauth", "/reauth?next=/me/tokens/", {"password": TEST_PASSWORD})
    assert client.get("/me/tokens/").status_code == 200


def test_a_token_made_on_the_page_is_shown_once(app, client, user) -> None:
    sign_in(client)
    answer = post_form(client, "/me/tokens/", "/me/tokens/", {"name": "laptop", "scope": "read", "days": "30"})
    html = answer.get_data(as_text=True)
    found = TOKEN.findall(html)
    assert answer.status_code == 200 and len(set(found)) == 1
    assert answer.headers["Cache-Control"] == "no-store"
    assert Api(client, found[0]).get("/token").get_json()["scope"] == "read"
    page = client.get("/me/tokens/").get_data(as_text=True)
    assert "laptop" in page and not TOKEN.search(page)  # listed, never shown again
    assert found[0] not in _everything_stored(app)


def test_the_page_refuses_a_name_in_use_and_keeps_the_first(app, client, user) -> None:
    sign_in(client)
    post_form(client, "/me/tokens/", "/me/tokens/", {"name": "laptop", "scope": "read", "days": "30"})
    answer = post_form(client, "/me/tokens/", "/me/tokens/", {"name": "laptop", "scope": "write", "days": "7"})
    assert answer.status_code == 409 and "already have a token called laptop" in answer.get_data(as_text=True)
    assert not TOKEN.search(answer.get_data(as_text=True))
    with app.app_context():
        assert db.session.scalars(sa.select(AccessToken.scope)).all() == ["read"]


def test_the_page_refuses_a_lifetime_it_does_not_offer(client, user) -> None:
    sign_in(client)
    answer = post_form(client, "/me/tokens/", "/me/tokens/", {"name": "x", "scope": "write", "days": "9999"})
    assert answer.status_code == 422 and not TOKEN.search(answer.get_data(as_text=True))


def test_the_page_shows_the_last_use_and_revokes(app, client, user, make_user) -> None:
    raw = make_token(app, name="cron")
    Api(app.test_client(), raw).get("/accounts")
    sign_in(client)
    page = client.get("/me/tokens/").get_data(as_text=True)
    assert "cron" in page and "127.0.0.1" in page
    with app.app_context():
        token_id = tokens.named(_user(), "cron").id
    answer = post_form(client, "/me/tokens/", f"/me/tokens/{token_id}/revoke", {})
    assert answer.status_code == 302
    assert Api(app.test_client(), raw).get("/accounts").status_code == 401


def test_nobody_revokes_another_users_token_from_their_own_page(app, client, user, make_user) -> None:
    make_user("bob")
    raw = make_token(app, "bob", name="bob's")
    with app.app_context():
        token_id = tokens.named(_user("bob"), "bob's").id
    sign_in(client)
    assert post_form(client, "/me/tokens/", f"/me/tokens/{token_id}/revoke", {}).status_code == 404
    assert Api(app.test_client(), raw).get("/accounts").status_code == 200


# Administrators --------------------------------------------------------------------------------


def test_an_administrator_sees_a_users_tokens_and_revokes_one(app, client, user, make_user) -> None:
    bob = make_user("bob")
    raw = make_token(app, "bob", name="bob's widget", scope="read")
    Api(app.test_client(), raw).get("/accounts")
    sign_in(client)  # alice, an administrator
    page = client.get(f"/admin/users/{bob.id}").get_data(as_text=True)
    assert "bob&#39;s widget" in page and "127.0.0.1" in page and "Read-only" in page
    with app.app_context():
        token_id = tokens.named(_user("bob"), "bob's widget").id

    answer = post_form(client, f"/admin/users/{bob.id}", f"/admin/users/{bob.id}/tokens/{token_id}/revoke", {})

    assert answer.status_code == 302
    assert Api(app.test_client(), raw).get("/accounts").status_code == 401
    event, details = _audit(app)[-1]
    assert (event, details) == ("token.revoke", {"token": "bob's widget", "by": "admin"})


def test_a_user_who_is_not_an_administrator_cannot_revoke_through_the_console(app, client, make_user) -> None:
    make_user("carol")
    bob = make_user("bob")
    raw = make_token(app, "bob", name="cron")
    with app.app_context():
        token_id = tokens.named(_user("bob"), "cron").id
    sign_in(client, "carol")
    token = csrf_from(client.get("/").get_data(as_text=True))
    answer = client.post(f"/admin/users/{bob.id}/tokens/{token_id}/revoke", data={"csrf_token": token})
    assert answer.status_code == 403
    assert Api(app.test_client(), raw).get("/accounts").status_code == 200
