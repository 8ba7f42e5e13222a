"""The offline copy's server side: re-authentication, the vault JSON, device records, the
admin switch, through the Flask test client. The browser's half is in tests/e2e/test_offline.py."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from tests.conftest import TEST_PASSWORD, csrf_from, sign_in
from webauth.extensions import db
from webauth.keys import keyring
from webauth.models import AuditEvent, OfflineDevice, SessionRecord, User, utcnow
from webauth.otp import OtpParams, OtpType, code_at
from webauth.otpauth import decode_secret, parse_uri
from webauth.vault import Vault

TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
HOTP_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
STEAM_SECRET = "JRZCL47CMXVOQMNPZR2F7J4RGI"


def vault_of(username: str = "alice") -> Vault:
    user = db.session.scalar(select(User).where(User.username == username))
    return Vault(user, keyring())


def add(app, uri: str, username: str = "alice") -> str:
    with app.app_context():
        account = vault_of(username).add(parse_uri(uri))
        db.session.commit()
        return account.uuid


def age_reauth(app, seconds: int = 3600) -> None:
    """Make every session's last password entry older than WEBAUTH_REAUTH_SECONDS."""
    with app.app_context():
        db.session.execute(update(SessionRecord).values(reauth_at=utcnow() - timedelta(seconds=seconds)))
        db.session.commit()


def token_of(client) -> str:
    return csrf_from(client.get("/offline/settings").get_data(as_text=True))


def enable(client, **headers):
    return client.post("/offline/devices", headers={"X-CSRFToken": token_of(client), **headers})


def audit_events(app, event: str) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent).where(AuditEvent.event == event)))


def revision_in(html: str) -> str:
    match = re.search(r'data-vault-revision="([0-9a-f]+)"', html)
    assert match, "the code list carries no vault revision"
    return match.group(1)


@pytest.fixture
def accounts(app, user) -> dict[str, str]:
    """A TOTP, an HOTP at counter 5 and a Steam account, plus one in the trash."""
    uuids = {
        "totp": add(app, f"otpauth://totp/GitHub:alice?secret={TOTP_SECRET}&issuer=GitHub&algorithm=SHA256&digits=8"),
        "hotp": add(app, f"otpauth://hotp/VPN:bob?secret={HOTP_SECRET}&issuer=VPN&counter=5"),
        "steam": add(app, f"otpauth://totp/Steam:gabe?secret={STEAM_SECRET}&issuer=Steam&encoder=steam"),
        "trashed": add(app, f"otpauth://totp/Old:gone?secret={STEAM_SECRET}&issuer=Old"),
    }
    with app.app_context():
        vault_of().delete(uuids["trashed"])
        db.session.commit()
    return uuids


def test_the_vault_needs_a_signed_in_user(client, user):
    csrf = csrf_from(client.get("/login").get_data(as_text=True))
    for response in (
        client.post("/offline/devices", headers={"X-CSRFToken": csrf}),
        client.get("/offline/settings"),
        client.get("/offline/devices/0b6f0d7e-3c39-4d3e-9a57-0f1c2d3e4f50"),
    ):
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_vault_needs_a_recent_password_entry(app, signed_in, accounts):
    age_reauth(app)
    response = enable(signed_in)
    assert response.status_code == 403
    assert response.get_json()["error"] == "reauth"
    assert response.headers["Cache-Control"] == "no-store"
    assert TOTP_SECRET.encode() not in response.data
    settings_page = signed_in.get("/offline/settings").get_data(as_text=True)
    assert 'action="/offline/reauth"' in settings_page and 'id="offline-enable-form"' not in settings_page

    token = token_of(signed_in)
    wrong = signed_in.post("/offline/reauth", data={"csrf_token": token, "password": "not the password"})
    assert wrong.status_code == 401
    assert "Wrong password." in wrong.get_data(as_text=True)
    assert enable(signed_in).status_code == 403
    assert len(audit_events(app, "reauth.failure")) == 1

    right = signed_in.post("/offline/reauth", data={"csrf_token": token, "password": TEST_PASSWORD})
    assert right.status_code == 302 and right.headers["Location"].endswith("/offline/settings")
    assert 'id="offline-enable-form"' in signed_in.get("/offline/settings").get_data(as_text=True)
    assert enable(signed_in).status_code == 201


def test_a_fresh_sign_in_counts_as_a_recent_password_entry(signed_in, accounts):
    assert enable(signed_in).status_code == 201


def test_the_vault_json_is_the_documented_document(app, signed_in, accounts):
    response = enable(signed_in)
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    assert response.mimetype == "application/json"
    payload = response.get_json()
    assert set(payload) == {"device", "token", "owner", "vault", "revision", "max_pin_attempts"}
    assert payload["max_pin_attempts"] == 10
    with app.app_context():
        alice = db.session.scalar(select(User).where(User.username == "alice"))
        assert payload["owner"] == {"id": alice.id, "name": "alice"}
    vault = payload["vault"]
    assert set(vault) == {"version", "created_ms", "server_offset_ms", "accounts"}
    assert vault["version"] == 1 and vault["server_offset_ms"] == 0
    by_uuid = {account["uuid"]: account for account in vault["accounts"]}
    assert set(by_uuid) == {accounts["totp"], accounts["hotp"], accounts["steam"]}  # not the trashed one
    totp, hotp, steam = by_uuid[accounts["totp"]], by_uuid[accounts["hotp"]], by_uuid[accounts["steam"]]
    assert totp == {
        "uuid": accounts["totp"], "type": "totp", "issuer": "GitHub", "name": "alice", "secret": TOTP_SECRET,
        "algorithm": "SHA256", "digits": 8, "period": 30, "counter": 0, "pin": None, "next_code": None,
    }
    hotp_params = OtpParams(type=OtpType.HOTP, secret=decode_secret(HOTP_SECRET), counter=5)
    assert hotp["type"] == "hotp" and hotp["counter"] == 5 and hotp["next_code"] == code_at(hotp_params)
    assert steam["type"] == "steam" and steam["digits"] == 5 and steam["algorithm"] == "SHA1"
    assert payload["revision"] == revision_in(signed_in.get("/").get_data(as_text=True))


def test_enabling_is_audited_without_secrets(app, signed_in, accounts):
    payload = enable(signed_in).get_json()
    events = audit_events(app, "offline.enable")
    assert len(events) == 1
    assert events[0].details == {"device": payload["device"], "label": ""}
    with app.app_context():
        every_detail = json.dumps([event.details for event in db.session.scalars(select(AuditEvent))])
    assert TOTP_SECRET not in every_detail and payload["token"] not in every_detail


def test_the_device_record_keeps_a_hash_of_the_token_and_a_readable_label(app, signed_in, accounts):
    agent = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari"
    payload = enable(signed_in, **{"User-Agent": agent}).get_json()
    with app.app_context():
        device = db.session.scalar(select(OfflineDevice).where(OfflineDevice.uuid == payload["device"]))
        assert device.label == "Chrome · Android"
        assert payload["token"] not in device.token_hash and len(device.token_hash) == 64
    settings_page = signed_in.get("/offline/settings").get_data(as_text=True)
    assert "Chrome · Android" in settings_page and f'data-device="{payload["device"]}"' in settings_page


def test_the_list_revision_follows_every_change_a_copy_holds(app, signed_in, accounts):
    seen = [revision_in(signed_in.get("/").get_data(as_text=True))]
    csrf = token_of(signed_in)

    def changed() -> bool:
        revision = revision_in(signed_in.get("/", headers={"HX-Request": "true"}).get_data(as_text=True))
        fresh = revision not in seen
        seen.append(revision)
        return fresh

    assert not changed()
    signed_in.post(f"/accounts/{accounts['hotp']}/next", data={"csrf_token": csrf})
    assert changed()
    signed_in.post(f"/accounts/{accounts['steam']}/delete", data={"csrf_token": csrf})
    assert changed()
    signed_in.post(f"/accounts/{accounts['steam']}/restore", data={"csrf_token": csrf})
    assert changed()
    add(app, f"otpauth://totp/New:one?secret={TOTP_SECRET}&issuer=New")
    assert changed()


def test_a_device_refreshes_with_its_token_only(app, client, make_user, accounts):
    sign_in(client)
    payload = enable(client).get_json()
    device, token = payload["device"], payload["token"]
    csrf = token_of(client)
    age_reauth(app)  # refreshing needs the device's token, not a fresh password

    wrong = client.post(f"/offline/devices/{device}/vault", headers={"X-CSRFToken": csrf, "X-Offline-Token": "nope"})
    assert wrong.status_code == 404 and wrong.get_json()["error"] == "gone"
    assert TOTP_SECRET.encode() not in wrong.data
    right = client.post(f"/offline/devices/{device}/vault", headers={"X-CSRFToken": csrf, "X-Offline-Token": token})
    assert right.status_code == 200 and right.headers["Cache-Control"] == "no-store"
    assert {account["uuid"] for account in right.get_json()["vault"]["accounts"]} >= {accounts["totp"]}
    assert len(audit_events(app, "offline.refresh")) == 1

    status = client.get(f"/offline/devices/{device}", headers={"X-Offline-Token": token})
    assert status.status_code == 200 and status.get_json()["revision"] == payload["revision"]

    make_user("mallory")
    other = app.test_client()
    sign_in(other, "mallory")
    stolen = other.post(
        f"/offline/devices/{device}/vault", headers={"X-CSRFToken": token_of(other), "X-Offline-Token": token}
    )
    assert stolen.status_code == 404 and TOTP_SECRET.encode() not in stolen.data


def test_forgetting_ends_the_record_and_the_token(app, signed_in, accounts):
    payload = enable(signed_in).get_json()
    device, token = payload["device"], payload["token"]
    headers = {"X-CSRFToken": token_of(signed_in), "X-Offline-Token": token}
    url = f"/offline/devices/{device}"
    assert signed_in.delete(url, json={"reason": "gibberish"}, headers=headers).status_code == 400
    response = signed_in.delete(url, json={"reason": "signed-out"}, headers=headers)
    assert response.status_code == 200
    with app.app_context():
        record = db.session.scalar(select(OfflineDevice).where(OfflineDevice.uuid == device))
        assert record.ended_at is not None and record.end_reason == "signed-out"
    assert [event.details for event in audit_events(app, "offline.forget")] == [
        {"device": device, "reason": "signed-out"}
    ]
    assert signed_in.post(f"/offline/devices/{device}/vault", headers=headers).status_code == 404
    assert signed_in.get(f"/offline/devices/{device}", headers=headers).status_code == 404
    assert f'data-device="{device}"' not in signed_in.get("/offline/settings").get_data(as_text=True)


def test_removing_a_device_from_the_settings_page(app, client, make_user, accounts):
    sign_in(client)
    device = enable(client).get_json()["device"]
    make_user("mallory")
    other = app.test_client()
    sign_in(other, "mallory")
    assert other.post(f"/offline/devices/{device}/remove", data={"csrf_token": token_of(other)}).status_code == 404

    response = client.post(f"/offline/devices/{device}/remove", data={"csrf_token": token_of(client)})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(OfflineDevice.end_reason).where(OfflineDevice.uuid == device)) == "removed"


def app_with(base_config: dict, **config):
    """An app with other settings, and alice in it."""
    from webauth import create_app, users

    app = create_app({**base_config, **config})
    with app.app_context():
        users.create_local_user("alice", TEST_PASSWORD, keyring(), is_admin=True)
        db.session.commit()
    client = app.test_client()
    sign_in(client)
    return client


def test_an_administrator_can_forbid_offline_copies(migrated_database, base_config):
    """With offline copies off: no vault, devices told to delete theirs, the page says why."""
    client = app_with(base_config, WEBAUTH_OFFLINE_ALLOWED=False)
    response = enable(client)
    assert response.status_code == 403 and response.get_json()["error"] == "forbidden"
    status = client.get("/offline/devices/0b6f0d7e-3c39-4d3e-9a57-0f1c2d3e4f50", headers={"X-Offline-Token": "x"})
    assert status.status_code == 403 and status.get_json()["error"] == "forbidden"
    page = client.get("/offline/settings").get_data(as_text=True)
    assert "turned offline copies off" in page and 'id="offline-enable-form"' not in page
    assert 'data-allowed="0"' in client.get("/").get_data(as_text=True)


def test_the_wrong_pin_count_comes_from_the_config(migrated_database, base_config):
    client = app_with(base_config, WEBAUTH_OFFLINE_PIN_ATTEMPTS=3)
    assert enable(client).get_json()["max_pin_attempts"] == 3
    assert "After 3 wrong PINs in a row" in client.get("/offline/settings").get_data(as_text=True)
