"""What starts a sync, and what the user sees: a sync after each local change (after the
response), "Sync now" and the periodic sync (htmx), the status line, the account marks, the
admin console's hook, and the `flask sync` command, including two processes at once."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.conftest import csrf_from
from tests.support import transfer_flow
from tests.support.casdoor_vault import add_local, assert_converged, link_user, remote_entries, run_sync
from tests.support.fixtures import casdoor_sign_in
from webauth.extensions import db
from webauth.models import AuditEvent, CasdoorLink, User

ROOT = Path(__file__).resolve().parents[2]
NEW = "MFRGGZDFMZTWQ2LK"


def signed_in_alice(casdoor_app):
    client = casdoor_app.test_client()
    assert casdoor_sign_in(client).status_code == 302
    return client


def test_a_local_change_syncs_after_the_response(casdoor_app, casdoor) -> None:
    client = signed_in_alice(casdoor_app)
    token = csrf_from(client.get("/accounts/new").get_data(as_text=True))
    casdoor.reset_counts()

    answer = client.post(
        "/accounts/new/uri",
        data={"csrf_token": token, "uri-uri": f"otpauth://totp/Slack:alice?secret={NEW}&issuer=Slack"},
    )

    assert answer.status_code == 302
    assert casdoor.request_count("/api/update-user") == 0  # not while answering
    answer.close()  # the server sends the response, then runs what waits for it
    assert casdoor.request_count("/api/update-user") == 1
    assert ("Slack", "alice", NEW) in remote_entries(casdoor)


def test_an_import_syncs_after_the_response(casdoor_app, casdoor) -> None:
    client = signed_in_alice(casdoor_app)
    text = f"otpauth://totp/Okta:alice?secret={NEW}&issuer=Okta\n".encode()
    token = transfer_flow.token_of(transfer_flow.upload(client, data=text, filename="codes.txt"))
    page = client.get(f"/transfer/import/{token}").get_data(as_text=True)
    casdoor.reset_counts()

    answer = transfer_flow.confirm(client, token, transfer_flow.picks(page))

    assert answer.status_code == 200
    assert casdoor.request_count("/api/update-user") == 0
    answer.close()
    assert casdoor.request_count("/api/update-user") == 1
    assert ("Okta", "alice", NEW) in remote_entries(casdoor)


def test_a_sync_does_not_trigger_itself(casdoor_app, casdoor) -> None:
    client = signed_in_alice(casdoor_app)
    casdoor.set_mfa_accounts("acme", "alice", [*casdoor.mfa_accounts("acme", "alice"), _entry("Okta")])
    casdoor.reset_counts()
    answer = client.post("/casdoor/sync", headers={"HX-Request": "true", "X-CSRFToken": _csrf(client)})
    answer.close()
    assert casdoor.request_count("/api/get-user") == 1


def _entry(issuer: str, secret: str = "ONSWG4TFOQQGC3DM") -> dict[str, str]:
    return {"accountName": "alice", "issuer": issuer, "secretKey": secret, "origin": "phone-1"}


def _csrf(client) -> str:
    return csrf_from(client.get("/").get_data(as_text=True))


def test_sync_now_answers_the_status_line_and_refreshes_the_list(casdoor_app, casdoor) -> None:
    client = signed_in_alice(casdoor_app)
    casdoor.set_mfa_accounts("acme", "alice", [*casdoor.mfa_accounts("acme", "alice"), _entry("Okta")])

    answer = client.post("/casdoor/sync", headers={"HX-Request": "true", "X-CSRFToken": _csrf(client)})

    html = answer.get_data(as_text=True)
    assert answer.status_code == 200 and html.lstrip().startswith('<section id="casdoor-status"')
    assert "Synced with Casdoor" in html and "1 account added here" in html
    assert answer.headers["HX-Trigger"] == "webauth:vault-changed"
    assert answer.headers["Cache-Control"] == "no-store"
    again = client.post("/casdoor/sync", headers={"HX-Request": "true", "X-CSRFToken": _csrf(client)})
    assert "HX-Trigger" not in again.headers


def test_sync_now_without_javascript_flashes_and_goes_back(casdoor_app, casdoor) -> None:
    client = signed_in_alice(casdoor_app)
    casdoor.inject_fault("5xx", count=3)
    answer = client.post("/casdoor/sync", data={"csrf_token": _csrf(client)})
    assert answer.status_code == 302
    assert "Casdoor answered with an error" in client.get("/").get_data(as_text=True)


def test_the_periodic_sync_skips_right_after_a_sync(casdoor_app, casdoor) -> None:
    client = signed_in_alice(casdoor_app)
    casdoor.reset_counts()
    answer = client.post(
        "/casdoor/sync", data={"auto": "1"}, headers={"HX-Request": "true", "X-CSRFToken": _csrf(client)}
    )
    assert answer.status_code == 200 and casdoor.request_counts() == {}


def test_sync_needs_a_signed_in_user_and_csrf(casdoor_app, casdoor) -> None:
    signed = signed_in_alice(casdoor_app)
    client = casdoor_app.test_client()
    casdoor.reset_counts()
    assert client.post("/casdoor/sync").status_code == 400  # the CSRF check comes first, signed in or not
    token = csrf_from(client.get("/login").get_data(as_text=True))
    refused = client.post("/casdoor/sync", headers={"X-CSRFToken": token})
    assert refused.status_code == 302 and refused.headers["Location"].startswith("/login?next=")
    assert signed.post("/casdoor/sync", headers={"HX-Request": "true"}).status_code == 400
    assert casdoor.request_counts() == {}


def test_the_status_line_says_why_a_sync_failed(casdoor_app, casdoor) -> None:
    client = signed_in_alice(casdoor_app)
    casdoor.revoke_tokens("acme", "alice")
    client.post("/casdoor/sync", headers={"HX-Request": "true", "X-CSRFToken": _csrf(client)})
    html = client.get("/casdoor/status").get_data(as_text=True)
    assert "The last sync failed" in html and "sign in with Casdoor again" in html
    assert 'href="/auth/casdoor/login?next=/"' in html


def test_a_local_user_is_offered_to_connect(casdoor_app, make_user) -> None:
    from tests.conftest import sign_in

    make_user("carol")
    client = casdoor_app.test_client()
    sign_in(client, "carol")
    html = client.get("/").get_data(as_text=True)
    assert "Connect to Casdoor" in html and 'href="/auth/casdoor/connect"' in html


def test_marked_accounts_say_so_in_the_list(casdoor_app, casdoor) -> None:
    from webauth.otp import OtpType

    client = signed_in_alice(casdoor_app)
    with casdoor_app.app_context():
        user_id = db.session.scalar(db.select(User.id))
    add_local(casdoor_app, user_id, "Bank", "alice", NEW, type=OtpType.HOTP)
    add_local(casdoor_app, user_id, "VPN", "alice", "4MKSV7XGEWM4Q", type=OtpType.MOTP, pin="1234")
    client.post("/casdoor/sync", headers={"HX-Request": "true", "X-CSRFToken": _csrf(client)})
    html = client.get("/").get_data(as_text=True)
    assert "In Casdoor by its secret only" in html
    assert "Not synced: Casdoor has no mOTP or Yandex accounts" in html


def test_the_admin_console_can_sync_a_user(casdoor_app, casdoor) -> None:
    from webauth import admin

    signed_in_alice(casdoor_app)
    with casdoor_app.app_context():
        user = db.session.scalar(db.select(User))
        hooks = admin.sync_hooks()
        assert hooks.last_results([user.id])[user.id].ok
        result = hooks.force(user)
        assert result.ok and result.at is not None


def test_audit_and_metrics_events(casdoor_app, casdoor) -> None:
    signed_in_alice(casdoor_app)
    with casdoor_app.app_context():
        events = list(db.session.scalars(db.select(AuditEvent.event).order_by(AuditEvent.id)))
        assert "sync.ok" in events
        details = db.session.scalar(db.select(AuditEvent.details).where(AuditEvent.event == "sync.ok"))
        assert details["trigger"] == "sign-in" and details["added_here"] == 1
        assert "JBSWY3DPEHPK3PXP" not in str(details)


# The command line ---------------------------------------------------------------------------


def _cli_env(casdoor_config: dict, casdoor) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("WEBAUTH_")}
    env.update(
        {
            "WEBAUTH_DATABASE_URL": casdoor_config["SQLALCHEMY_DATABASE_URI"],
            "WEBAUTH_KEYS": casdoor_config["WEBAUTH_KEYS"],
            "WEBAUTH_SECRET_KEY": casdoor_config["SECRET_KEY"],
            "WEBAUTH_INSTANCE_PATH": casdoor_config["INSTANCE_PATH"],
            "WEBAUTH_CASDOOR_URL": casdoor.url,
            "WEBAUTH_CASDOOR_CLIENT_ID": casdoor.client_id,
            "WEBAUTH_CASDOOR_CLIENT_SECRET": casdoor.client_secret,
            "WEBAUTH_CASDOOR_TIMEOUT": "3",
        }
    )
    return env


def _flask(env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def test_cli_syncs_one_user_and_all(casdoor_app, casdoor) -> None:
    user_id = link_user(casdoor_app, casdoor)
    link_user(casdoor_app, casdoor, "acme", "bob")
    runner = casdoor_app.test_cli_runner()

    one = runner.invoke(args=["sync", "--user", "acme/alice"])
    assert one.exit_code == 0, one.output
    assert "acme/alice: Synced with Casdoor." in one.output
    assert_converged(casdoor_app, user_id, casdoor)

    casdoor.revoke_tokens("acme", "bob")
    everyone = runner.invoke(args=["sync", "--all"])
    assert everyone.exit_code == 1
    assert "acme/alice: Synced with Casdoor." in everyone.output
    assert "acme/bob: Your Casdoor session has expired" in everyone.output
    # bob now waits before the next automatic try; cron skips him unless forced.
    assert "acme/bob: skipped, waiting to retry" in runner.invoke(args=["sync", "--all"]).output
    assert "acme/bob: Your Casdoor session" in runner.invoke(args=["sync", "--all", "--force"]).output

    unknown = runner.invoke(args=["sync", "--user", "acme/nobody"])
    assert unknown.exit_code != 0 and "no user connected to Casdoor as 'acme/nobody'" in unknown.output
    assert runner.invoke(args=["sync"]).exit_code != 0


def test_cli_without_casdoor_settings(app) -> None:
    result = app.test_cli_runner().invoke(args=["sync", "--all"])
    assert result.exit_code != 0 and "Casdoor is not configured" in result.output


def test_two_processes_syncing_one_user_at_once(casdoor_app, casdoor_config, casdoor) -> None:
    """The second process waits for the first's lease, then has nothing left to push."""
    user_id = link_user(casdoor_app, casdoor)
    assert run_sync(casdoor_app, user_id).ok
    add_local(casdoor_app, user_id, "Slack", "alice", NEW)
    casdoor.set_mfa_accounts("acme", "alice", [*casdoor.mfa_accounts("acme", "alice"), _entry("Okta")])
    casdoor.reset_counts()
    casdoor.inject_fault("hang", seconds=1.5, endpoints=["/api/get-user"])  # the first sync's read is slow
    env = _cli_env(casdoor_config, casdoor)

    first = _flask(env, "sync", "--user", "acme/alice")
    deadline = time.monotonic() + 20
    while casdoor.request_count("/api/get-user") == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    second = _flask(env, "sync", "--user", "acme/alice")
    outputs = [process.communicate(timeout=60)[0] for process in (first, second)]

    assert [first.returncode, second.returncode] == [0, 0], outputs
    assert casdoor.request_count("/api/update-user") == 1
    assert_converged(casdoor_app, user_id, casdoor)
    with casdoor_app.app_context():
        link = db.session.get(CasdoorLink, user_id)
        assert link.lock_token is None
        runs = db.session.scalars(db.select(AuditEvent.details).where(AuditEvent.event == "sync.ok")).all()
        assert [run["trigger"] for run in runs].count("cli") == 2


def test_a_sync_in_a_thread_and_a_request_at_once(casdoor_app, casdoor) -> None:
    """A request's "Sync now" while a background sync runs: it waits, both end well."""
    client = signed_in_alice(casdoor_app)
    with casdoor_app.app_context():
        user_id = db.session.scalar(db.select(User.id))
    casdoor.inject_fault("hang", seconds=0.8, endpoints=["/api/get-user"])
    worker = threading.Thread(target=run_sync, args=(casdoor_app, user_id))
    worker.start()
    time.sleep(0.2)
    answer = client.post("/casdoor/sync", headers={"HX-Request": "true", "X-CSRFToken": _csrf(client)})
    worker.join()
    assert "Synced with Casdoor" in answer.get_data(as_text=True)
