"""The admin console: who gets in, users and sessions, the audit trail of every action, no secrets."""

from __future__ import annotations

import base64
import hashlib
import re
import tempfile
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from flask import Flask
from sqlalchemy import func, select, update

from tests.conftest import TEST_PASSWORD, csrf_from, make_keyring_json, post_form, sign_in
from webauth import admin, create_app
from webauth.extensions import db
from webauth.keys import keyring
from webauth.models import Account, AuditEvent, SessionRecord, User, utcnow
from webauth.otp import OtpParams, OtpType, code_at
from webauth.otpauth import parse_uri
from webauth.vault import Vault

HTMX = {"HX-Request": "true"}
# Random-looking secrets that no page could contain by chance.
TOTP_SECRET = base64.b32encode(hashlib.sha256(b"admin test totp").digest()[:20]).decode()
HOTP_SECRET = base64.b32encode(hashlib.sha256(b"admin test hotp").digest()[:20]).decode()
STEAM_SECRET = base64.b32encode(hashlib.sha256(b"admin test steam").digest()[:20]).decode()


def events(app: Flask, name: str | None = None) -> list[AuditEvent]:
    with app.app_context():
        query = select(AuditEvent).order_by(AuditEvent.id)
        if name:
            query = query.where(AuditEvent.event == name)
        found = list(db.session.scalars(query))
        db.session.expunge_all()
        return found


def user_id(app: Flask, username: str) -> int:
    with app.app_context():
        return db.session.scalar(select(User.id).where(User.username == username))


def session_ids(app: Flask, username: str) -> list[int]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(SessionRecord.id)
                .join(User, User.id == SessionRecord.user_id)
                .where(User.username == username, SessionRecord.revoked_at.is_(None))
                .order_by(SessionRecord.id)
            )
        )


def add_accounts(app: Flask, username: str) -> None:
    """A TOTP (8 digits), an HOTP and a Steam account, so codes are long enough to look for."""
    with app.app_context():
        owner = db.session.scalar(select(User).where(User.username == username))
        vault = Vault(owner, keyring())
        vault.add(parse_uri(f"otpauth://totp/Bank:{username}?secret={TOTP_SECRET}&issuer=Bank&digits=8"))
        vault.add(parse_uri(f"otpauth://hotp/Door:{username}?secret={HOTP_SECRET}&issuer=Door&counter=3&digits=8"))
        vault.add(parse_uri(f"otpauth://totp/Steam:{username}?secret={STEAM_SECRET}&issuer=Steam&encoder=steam"))
        db.session.commit()


@pytest.fixture
def bob(make_user):
    return make_user("bob")


@pytest.fixture
def bob_client(app, bob):
    client = app.test_client()
    sign_in(client, "bob")
    return client


# Who gets in ---------------------------------------------------------------------------------


def _admin_rules() -> list[tuple[str, str]]:
    """(endpoint, method) of every rule of the admin blueprint, read from a throwaway app."""
    with tempfile.TemporaryDirectory() as folder:
        probe = create_app(
            {"INSTANCE_PATH": folder, "SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "probe",
             "WEBAUTH_KEYS": make_keyring_json()}
        )
    return sorted(
        (rule.endpoint, method)
        for rule in probe.url_map.iter_rules()
        if rule.endpoint.split(".")[0] == "admin"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    )


ADMIN_RULES = _admin_rules()


def test_the_admin_rules_are_all_there():
    assert {endpoint for endpoint, _method in ADMIN_RULES} == {
        "admin.index", "admin.users", "admin.user", "admin.revoke_session", "admin.revoke_sessions",
        "admin.disable", "admin.enable", "admin.delete", "admin.sync", "admin.audit", "admin.audit_csv",
        "admin.settings_page", "admin.end_device", "admin.remove_passkey", "admin.revoke_token", "admin.reset_password",
        "admin.teams_page", "admin.create_team", "admin.change_member", "admin.delete_team",
        "admin.revoke_share_link", "admin.remove_share",
    }


@pytest.mark.parametrize(("endpoint", "method"), ADMIN_RULES, ids=[f"{m} {e}" for e, m in ADMIN_RULES])
def test_every_admin_route_and_fragment_is_forbidden_to_a_non_admin(app, user, bob, bob_client, endpoint, method):
    [bob_session] = session_ids(app, "bob")
    values = {
        "user_id": bob.id, "session_id": bob_session, "device_uuid": "0" * 36, "passkey_uuid": "0" * 36, "token_id": 1,
        "link_id": 1, "share_id": 1,
    }
    [rule] = [rule for rule in app.url_map.iter_rules() if rule.endpoint == endpoint]
    url = rule.build({name: values[name] for name in rule.arguments})[1]
    token = csrf_from(bob_client.get("/").get_data(as_text=True))
    for headers in ({}, HTMX):
        response = bob_client.open(url, method=method, data={"csrf_token": token}, headers=headers)
        assert response.status_code == 403, (url, headers)
    # Nothing happened: bob is still there, enabled, with his session, and nothing was audited.
    with app.app_context():
        assert db.session.get(User, bob.id).disabled is False
    assert session_ids(app, "bob") == [bob_session]
    assert not [e for e in events(app) if e.event.startswith(("admin.", "settings.", "audit.", "team."))]


def test_a_signed_out_visitor_is_sent_to_sign_in(app, client, user):
    for url in ("/admin/users", "/admin/audit", "/admin/settings", "/admin/audit.csv"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_webauth_admins_names_administrators(app_config, make_user):
    app = create_app({**app_config, "WEBAUTH_ADMINS": frozenset({"carol"})})
    from webauth import users

    with app.app_context():
        users.create_local_user("carol", TEST_PASSWORD, keyring())
        users.create_local_user("dave", TEST_PASSWORD, keyring())
        db.session.commit()
    carol, dave = app.test_client(), app.test_client()
    sign_in(carol, "carol")
    sign_in(dave, "dave")
    assert carol.get("/admin/users").status_code == 200
    assert 'href="/admin/users"' in carol.get("/").get_data(as_text=True)
    assert dave.get("/admin/users").status_code == 403
    assert 'href="/admin/users"' not in dave.get("/").get_data(as_text=True)


def test_a_disabled_administrator_is_no_administrator(app):
    with app.app_context():
        assert admin.is_admin(User(username="root", is_admin=True, disabled=False))
        assert not admin.is_admin(User(username="root", is_admin=True, disabled=True))
        assert not admin.is_admin(User(username="someone", is_admin=False, disabled=False))


# Users -------------------------------------------------------------------------------------


def test_the_users_list_shows_counts_and_states(app, signed_in, bob, make_user):
    add_accounts(app, "bob")
    make_user("carol")
    with app.app_context():
        db.session.execute(update(User).where(User.username == "carol").values(disabled=True))
        db.session.commit()
    html = signed_in.get("/admin/users").get_data(as_text=True)
    rows = re.findall(r"<tr>(.*?)</tr>", html, re.S)
    by_name = {re.search(r">([a-z]+)</a>", row).group(1): row for row in rows if "</a>" in row}
    assert set(by_name) == {"alice", "bob", "carol"}
    assert "Admin" in by_name["alice"] and "Admin" not in by_name["bob"]
    assert re.search(r'class="number">3<', by_name["bob"])
    assert "Disabled" in by_name["carol"] and "Active" in by_name["bob"]
    assert "3 users" in html
    assert "Last sync" not in html  # no sync feature, no column


def test_search_and_paging_use_one_partial_for_page_and_htmx(app, signed_in, make_user):
    for number in range(30):
        make_user(f"user{number:02d}")
    page = signed_in.get("/admin/users?q=USER1")
    fragment = signed_in.get("/admin/users?q=USER1", headers=HTMX)
    page_html, fragment_html = page.get_data(as_text=True), fragment.get_data(as_text=True)
    assert page_html.startswith("<!doctype html>") and fragment_html.lstrip().startswith('<section id="users"')
    assert fragment_html.strip() in page_html
    assert "HX-Request" in fragment.headers["Vary"]
    assert sorted(re.findall(r">(user1\d)</a>", fragment_html)) == [f"user1{n}" for n in range(10)]
    # 31 users, 25 a page: the second page holds the rest, and asks for itself through htmx.
    first = signed_in.get("/admin/users", headers=HTMX).get_data(as_text=True)
    assert "Page 1 of 2" in first and 'hx-get="/admin/users?page=2"' in first
    second = signed_in.get("/admin/users?page=2", headers=HTMX).get_data(as_text=True)
    assert len(re.findall(r'href="/admin/users/\d+"', second)) == 6
    # Past the end is the last page; LIKE wildcards are only characters.
    assert "Page 2 of 2" in signed_in.get("/admin/users?page=99").get_data(as_text=True)
    assert "No user matches." in signed_in.get("/admin/users?q=%25").get_data(as_text=True)


def test_a_users_page_shows_sign_ins_and_sessions(app, signed_in, bob, bob_client):
    post_form(app.test_client(), "/login", "/login", {"username": "bob", "password": "wrong password!"})
    html = signed_in.get(f"/admin/users/{bob.id}").get_data(as_text=True)
    assert "Sign-in history" in html and "Active sessions" in html
    assert html.count("badge-ok") >= 1 and "wrong username or password" in html
    assert html.count("Werkzeug/") >= 2  # the browser of the session and of the sign-ins
    history = signed_in.get(f"/admin/users/{bob.id}", headers=HTMX).get_data(as_text=True)
    assert history.lstrip().startswith('<section id="signins"')
    assert signed_in.get("/admin/users/9999").status_code == 404


def test_revoking_one_session_ends_it_on_the_next_request_and_is_audited(app, signed_in, bob, bob_client):
    other = app.test_client()
    sign_in(other, "bob")
    first, second = session_ids(app, "bob")
    response = post_form(signed_in, f"/admin/users/{bob.id}", f"/admin/users/{bob.id}/sessions/{first}/revoke", {})
    assert response.status_code == 302
    assert bob_client.get("/").status_code == 302
    assert other.get("/").status_code == 200
    [event] = events(app, "admin.session.revoke")
    assert (event.user_id, event.actor_id, event.details) == (bob.id, user_id(app, "alice"), {
        "session": first, "method": "password"})
    # Another user's session id is not found under bob.
    alice_session = session_ids(app, "alice")[0]
    response = post_form(
        signed_in, f"/admin/users/{bob.id}", f"/admin/users/{bob.id}/sessions/{alice_session}/revoke", {}
    )
    assert response.status_code == 404
    assert session_ids(app, "alice") == [alice_session] and session_ids(app, "bob") == [second]


def test_revoking_all_sessions_signs_the_user_out_everywhere(app, signed_in, bob, bob_client):
    other = app.test_client()
    sign_in(other, "bob")
    post_form(signed_in, f"/admin/users/{bob.id}", f"/admin/users/{bob.id}/sessions/revoke", {})
    assert bob_client.get("/").status_code == 302 and other.get("/").status_code == 302
    [event] = events(app, "admin.session.revoke_all")
    assert event.user_id == bob.id and event.details == {"count": 2}


def test_an_admin_ending_all_own_sessions_keeps_the_current_one(app, signed_in, user):
    elsewhere = app.test_client()
    sign_in(elsewhere)
    post_form(signed_in, f"/admin/users/{user.id}", f"/admin/users/{user.id}/sessions/revoke", {})
    assert signed_in.get("/admin/users").status_code == 200
    assert elsewhere.get("/").status_code == 302


def test_disabling_ends_the_sessions_at_once_and_enabling_lets_them_back(app, signed_in, bob, bob_client):
    response = post_form(signed_in, f"/admin/users/{bob.id}", f"/admin/users/{bob.id}/disable", {})
    assert response.status_code == 302
    assert "Disabled bob and ended 1 session." in signed_in.get(response.headers["Location"]).get_data(as_text=True)
    assert bob_client.get("/").status_code == 302
    assert post_form(bob_client, "/login", "/login", {"username": "bob", "password": TEST_PASSWORD}).status_code == 401
    post_form(signed_in, f"/admin/users/{bob.id}", f"/admin/users/{bob.id}/enable", {})
    sign_in(bob_client, "bob")
    assert [e.event for e in events(app) if e.event.startswith("admin.")] == [
        "admin.user.disable", "admin.user.enable"]
    assert events(app, "admin.user.disable")[0].details == {"sessions_ended": 1}


def test_an_admin_cannot_disable_or_delete_themselves(app, signed_in, user):
    page = f"/admin/users/{user.id}"
    html = signed_in.get(page).get_data(as_text=True)
    assert "/disable" not in html and "/delete" not in html
    assert post_form(signed_in, page, f"{page}/disable", {}).status_code == 409
    assert signed_in.get(f"{page}/delete").status_code == 409
    assert post_form(signed_in, "/admin/users", f"{page}/delete", {"confirmation": "alice"}).status_code == 409
    assert signed_in.get("/admin/users").status_code == 200


def test_deleting_a_user_needs_the_typed_name_and_removes_the_vault(app, signed_in, bob, bob_client):
    add_accounts(app, "bob")
    page = f"/admin/users/{bob.id}/delete"
    assert "Type bob to confirm." in signed_in.get(page).get_data(as_text=True)
    refused = post_form(signed_in, page, page, {"confirmation": "Bob"})
    assert refused.status_code == 422 and "Type the username, bob, to confirm." in refused.get_data(as_text=True)
    assert post_form(signed_in, page, page, {"confirmation": ""}).status_code == 422
    with app.app_context():
        assert db.session.get(User, bob.id) is not None
    response = post_form(signed_in, page, page, {"confirmation": "bob"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/users")
    assert "Deleted bob and 3 accounts." in signed_in.get("/admin/users").get_data(as_text=True)
    with app.app_context():
        assert db.session.get(User, bob.id) is None
        assert db.session.scalar(select(Account).where(Account.user_id == bob.id)) is None
        assert db.session.scalar(select(SessionRecord).where(SessionRecord.user_id == bob.id)) is None
    assert bob_client.get("/").status_code == 302
    [event] = events(app, "admin.user.delete")
    assert (event.username, event.user_id, event.details) == ("bob", None, {"user_id": bob.id, "accounts": 3})
    # Bob's earlier events stay, under his name.
    assert [e.username for e in events(app, "signin.success")].count("bob") == 1


def test_the_sync_hook_adds_a_column_and_a_button(app, signed_in, make_user):
    calls = []

    def last_results(ids):
        return {i: admin.SyncResult(ok=False, at=utcnow(), message="Casdoor said no") for i in ids}

    def force(user):
        calls.append(user.username)
        return admin.SyncResult(ok=True, at=utcnow())

    admin.provide_sync_hooks(app, admin.SyncHooks(last_results=last_results, force=force))
    casdoor_user = make_user("carol")
    with app.app_context():
        db.session.execute(
            update(User).where(User.id == casdoor_user.id).values(oidc_issuer="https://door", oidc_subject="c-1")
        )
        db.session.commit()
    users_html = signed_in.get("/admin/users").get_data(as_text=True)
    assert "Last sync" in users_html and "Casdoor said no" in users_html
    page = f"/admin/users/{casdoor_user.id}"
    assert "Sync with Casdoor now" in signed_in.get(page).get_data(as_text=True)
    response = post_form(signed_in, page, f"{page}/sync", {})
    assert response.status_code == 302 and calls == ["carol"]
    assert events(app, "admin.user.sync")[0].details == {"ok": True}
    # A local user has nothing to sync.
    alice = user_id(app, "alice")
    assert "Sync with Casdoor now" not in signed_in.get(f"/admin/users/{alice}").get_data(as_text=True)
    assert post_form(signed_in, page, f"/admin/users/{alice}/sync", {}).status_code == 404


def test_without_the_sync_feature_there_is_no_sync(app, signed_in, bob):
    assert post_form(signed_in, "/admin/users", f"/admin/users/{bob.id}/sync", {}).status_code == 404


def test_offline_devices_are_listed_and_can_be_ended(app, signed_in, bob):
    from webauth import offline

    with app.test_request_context(headers={"User-Agent": "Mozilla/5.0 (Linux; Android 14) Chrome/130.0 Mobile"}):
        device, _token = offline.enable_device(db.session.get(User, bob.id))
        db.session.commit()
        device_uuid = device.uuid
    assert "1 device" in signed_in.get("/admin/users").get_data(as_text=True)
    page = f"/admin/users/{bob.id}"
    assert "Chrome · Android" in signed_in.get(page).get_data(as_text=True)
    assert post_form(signed_in, page, f"{page}/devices/{device_uuid}/end", {}).status_code == 302
    assert "Chrome · Android" not in signed_in.get(page).get_data(as_text=True)
    [event] = [e for e in events(app, "offline.forget")]
    assert event.details["reason"] == "revoked" and event.actor_id == user_id(app, "alice")
    assert post_form(signed_in, page, f"{page}/devices/{device_uuid}/end", {}).status_code == 404


# No secrets ------------------------------------------------------------------------------------


def _secret_forms(secret_b32: str) -> list[str]:
    raw = base64.b32decode(secret_b32)
    return [
        secret_b32, secret_b32.lower(), secret_b32.rstrip("="), raw.hex(), raw.hex().upper(),
        base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode().rstrip("="),
        raw.decode("latin-1"),
    ]


def _codes_around(now: float) -> list[str]:
    """Every code the three accounts show around `now` (8-digit TOTP and HOTP, 5-letter Steam)."""
    totp = pyotp.TOTP(TOTP_SECRET, digits=8)
    hotp = pyotp.HOTP(HOTP_SECRET, digits=8)
    steam = OtpParams(type=OtpType.STEAM, secret=base64.b32decode(STEAM_SECRET))
    codes = [totp.at(now + step * 30) for step in (-1, 0, 1)]
    codes += [hotp.at(counter) for counter in range(3, 6)]
    codes += [code_at(steam, now + step * 30) for step in (-1, 0, 1)]
    return codes


def test_no_admin_page_ever_shows_a_secret_or_a_code(app, signed_in, bob, bob_client, frozen_clock):
    add_accounts(app, "bob")
    bob_client.get("/")  # bob looks at his codes: the page is full of them, the admin's are not
    with app.app_context():
        account = db.session.scalar(select(Account).where(Account.issuer == "Bank"))
        account_uuid = account.uuid
    pages = [
        "/admin/users", "/admin/users?q=bob", f"/admin/users/{bob.id}", f"/admin/users/{bob.id}/delete",
        "/admin/audit", "/admin/audit?user=bob", "/admin/audit.csv", "/admin/audit.csv?user=bob", "/admin/settings",
    ]
    bodies = {}
    for url in pages:
        for headers in ({}, HTMX):
            response = signed_in.get(url, headers=headers)
            assert response.status_code == 200, url
            bodies[(url, bool(headers))] = response.get_data(as_text=True)
    assert any("bob" in body for body in bodies.values())
    assert any(account_uuid in body for body in bodies.values())  # the audit log names the account
    secrets = [form for secret in (TOTP_SECRET, HOTP_SECRET, STEAM_SECRET) for form in _secret_forms(secret)]
    codes = _codes_around(frozen_clock.now())
    for key, body in bodies.items():
        for secret in secrets:
            assert secret not in body, (key, "a secret")
        for code in codes:
            grouped = f"{code[:4]} {code[4:]}" if code.isdigit() else code
            assert not re.search(rf"(?<![0-9A-Za-z]){re.escape(code)}(?![0-9A-Za-z])", body), (key, "a code")
            assert grouped not in body, (key, "a grouped code")


# The audit log ---------------------------------------------------------------------------------


def _audit_rows(html: str) -> list[str]:
    return re.findall(r"<code>([a-z_.]+)</code>", html)


def test_the_audit_log_filters_by_user_type_and_time(app, signed_in, bob, bob_client):
    post_form(app.test_client(), "/login", "/login", {"username": "mallory", "password": "guessing1"})
    html = signed_in.get("/admin/audit").get_data(as_text=True)
    assert _audit_rows(html) == ["signin.failure", "signin.success", "user.create", "signin.success", "user.create"]
    assert set(_audit_rows(signed_in.get("/admin/audit?event=signin.*").get_data(as_text=True))) == {
        "signin.success", "signin.failure"}
    assert _audit_rows(signed_in.get("/admin/audit?event=signin.failure").get_data(as_text=True)) == [
        "signin.failure"]
    by_bob = signed_in.get("/admin/audit?user=BO").get_data(as_text=True)
    assert sorted(_audit_rows(by_bob)) == ["signin.success", "user.create"]
    # Dates from the events' own times, placed at a day's first and last second: not the wall clock's today.
    with app.app_context():
        first = db.session.scalar(select(func.min(AuditEvent.id)))
        db.session.execute(update(AuditEvent).values(at=datetime(2026, 3, 10, 23, 59, 59, tzinfo=UTC)))
        db.session.execute(update(AuditEvent).where(AuditEvent.id == first).values(
            at=datetime(2026, 3, 10, 0, 0, 0, tzinfo=UTC)))
        db.session.commit()
    assert _audit_rows(signed_in.get("/admin/audit?until=2026-03-09").get_data(as_text=True)) == []
    assert _audit_rows(signed_in.get("/admin/audit?since=2026-03-11").get_data(as_text=True)) == []
    assert len(_audit_rows(signed_in.get("/admin/audit?since=2026-03-10&until=2026-03-10").get_data(as_text=True))) == 5
    # The type filter offers what the log holds.
    assert '<option value="signin.*">' in html and '<option value="user.create">' in html


def test_bad_audit_filters_get_a_message_and_a_400(app, signed_in):
    for query, message in (
        ("since=yesterday", "Not a valid date value."),
        ("event=DROP TABLE", "There is no event type DROP TABLE."),
        ("since=2026-02-02&until=2026-01-01", "The start date is after the end date."),
    ):
        for url in (f"/admin/audit?{query}", f"/admin/audit.csv?{query}"):
            response = signed_in.get(url)
            assert response.status_code == 400, url
            assert message in response.get_data(as_text=True), url


def test_the_audit_log_pages_by_id_and_the_fragment_is_the_partial(app, signed_in, user):
    with app.app_context():
        for number in range(120):
            db.session.add(AuditEvent(event="test.filler", username=f"u{number}", details={"n": number}))
        db.session.commit()
    first = signed_in.get("/admin/audit?event=test.filler", headers=HTMX).get_data(as_text=True)
    assert first.lstrip().startswith('<section id="audit"')
    assert first.strip() in signed_in.get("/admin/audit?event=test.filler").get_data(as_text=True)
    numbers = re.findall(r'<span class="muted">n</span> (\d+)<', first)
    assert numbers == [str(n) for n in range(119, 69, -1)]
    older = re.search(r'href="(/admin/audit\?before=\d+&amp;event=test.filler)"', first).group(1).replace("&amp;", "&")
    second = signed_in.get(older, headers=HTMX).get_data(as_text=True)
    assert re.findall(r'<span class="muted">n</span> (\d+)<', second)[0] == "69"
    newer = re.search(r'href="(/admin/audit\?after=\d+&amp;event=test.filler)"', second).group(1).replace("&amp;", "&")
    assert signed_in.get(newer, headers=HTMX).get_data(as_text=True) == first


def test_csv_export_has_every_matching_event_and_defuses_formulas(app, signed_in, user):
    post_form(app.test_client(), "/login", "/login", {"username": "=HYPERLINK(\"http://x\")", "password": "guess123"})
    response = signed_in.get("/admin/audit.csv?event=signin.*")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [row["event"] for row in rows] == ["signin.success", "signin.failure"]  # oldest first
    assert rows[1]["user"] == "'=HYPERLINK(\"http://x\")"
    assert (rows[0]["user"], rows[0]["ip"]) == ("alice", "127.0.0.1")
    assert rows[0]["details"] == '{"method": "password"}'
    [export] = events(app, "audit.export")
    assert export.actor_id == user.id and export.details == {"to": "csv download", "event": "signin.*"}


def test_prune_deletes_old_events_and_ended_sessions(app, user, signed_in):
    long_ago = utcnow() - timedelta(days=400)
    with app.app_context():
        db.session.add(AuditEvent(event="test.old", at=long_ago))
        db.session.add(
            SessionRecord(token_hash="x" * 64, user_id=user.id, method="password", created_at=long_ago,
                          last_seen_at=long_ago, expires_at=long_ago + timedelta(days=14))
        )
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["audit", "prune"])
    assert result.exit_code == 0, result.output
    assert "deleted 1 audit events and 1 ended sessions" in result.output
    assert events(app, "test.old") == []
    assert len(session_ids(app, "alice")) == 1 and signed_in.get("/").status_code == 200
    [prune] = events(app, "audit.prune")
    assert prune.details == {"days": 365, "events": 1, "sessions": 1}
    result = app.test_cli_runner().invoke(args=["audit", "prune", "--days", "0"])
    assert result.exit_code != 0


def test_retention_zero_keeps_everything(app_config, user):
    app = create_app({**app_config, "WEBAUTH_AUDIT_RETENTION_DAYS": 0})
    with app.app_context():
        db.session.add(AuditEvent(event="test.old", at=utcnow() - timedelta(days=4000)))
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["audit", "prune"])
    assert result.exit_code == 0 and "nothing pruned" in result.output
    assert len(events(app, "test.old")) == 1


def test_the_cli_exports_csv_to_a_private_file(app, user, tmp_path):
    out = tmp_path / "audit.csv"
    result = app.test_cli_runner().invoke(args=["audit", "export", "--out", str(out), "--event", "user.*"])
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()
    assert lines[0].startswith("time,event,user") and len(lines) == 2 and ",user.create,alice," in lines[1]
    assert out.stat().st_mode & 0o777 == 0o600
    assert events(app, "audit.export")[0].details == {"to": "cli", "event": "user.*"}
    bad = app.test_cli_runner().invoke(args=["audit", "export", "--out", str(out), "--event", "no such"])
    assert bad.exit_code != 0 and "There is no event type" in bad.output
