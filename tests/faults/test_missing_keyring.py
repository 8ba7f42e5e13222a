"""Issue 13.5: a start without the keyring its database needs refuses to serve, and says why.

With users in the database, a start without `keyring.json` (a lost file, or an instance folder
that is not the one the data belongs to, as when the data is on PostgreSQL) used to write a
new `k1`: sign-in worked, every vault failed, and /healthz said 200. Now a keyring is created
only for an empty database, and the app, /healthz and the commands name the missing key ids.
"""

from __future__ import annotations

import shutil

import requests
from sqlalchemy import select

from tests.conftest import make_keyring_json
from tests.faults.conftest import finished, flask_cli
from tests.support.server import start_server, stop_server
from webauth import create_app
from webauth.extensions import db
from webauth.keys import keyring
from webauth.models import User
from webauth.otpauth import parse_uri
from webauth.users import create_local_user
from webauth.vault import Vault


def _serve(instance, database_url: str):
    return start_server({"WEBAUTH_DATABASE_URL": database_url, "WEBAUTH_RATELIMIT_ENABLED": "0"}, instance)


def test_the_keyring_removed_between_two_starts(app_config, migrated_database, tmp_path):
    instance = tmp_path / "instance"
    app = create_app({**app_config, "WEBAUTH_KEYS": None, "INSTANCE_PATH": str(instance)})
    with app.app_context():  # an empty database: the first start makes the keyring
        user = create_local_user("alice", "correct horse battery", keyring())
        Vault(user, keyring()).add(parse_uri("otpauth://totp/Svc:alice?secret=JBSWY3DPEHPK3PXP"))
        db.session.commit()
        db.engine.dispose()
    backup = tmp_path / "keyring-backup.json"
    shutil.copy(instance / "keyring.json", backup)

    process, base = _serve(instance, migrated_database)
    try:
        assert requests.get(f"{base}/healthz", timeout=30).status_code == 200
    finally:
        stop_server(process)

    (instance / "keyring.json").unlink()
    process, base = _serve(instance, migrated_database)
    try:
        health = requests.get(f"{base}/healthz", timeout=30)
        assert health.status_code == 503
        assert "k1" in " ".join(health.json()["problems"])
        page = requests.get(f"{base}/login", timeout=30)
        assert page.status_code == 503
        assert "cannot open its vaults" in page.text and "k1" in page.text
    finally:
        stop_server(process)
    assert not (instance / "keyring.json").exists(), "a new keyring was written over the lost one"
    assert "missing while the database holds 1 user" in (instance / "server.log").read_text()

    elsewhere = tmp_path / "another-instance"  # WEBAUTH_INSTANCE_PATH pointing at an empty folder
    for folder in (instance, elsewhere):
        status, _out, err = finished(flask_cli("accounts", "list", "--user", "alice", instance=folder,
                                               database_url=migrated_database))
        assert status != 0 and "k1" in err and "Traceback" not in err
        assert not (folder / "keyring.json").exists()
    status, out, err = finished(flask_cli("keys", "list", instance=instance, database_url=migrated_database))
    assert status == 0, err
    assert "k1" in out and "MISSING" in out

    shutil.copy(backup, instance / "keyring.json")  # restored from the backup: served again
    process, base = _serve(instance, migrated_database)
    try:
        assert requests.get(f"{base}/healthz", timeout=30).status_code == 200
    finally:
        stop_server(process)


def test_a_keyring_with_another_k1_opens_nothing_and_says_so(app, make_user, app_config):
    make_user("alice")  # wrapped under the test keyring's k1
    other = create_app({**app_config, "WEBAUTH_KEYS": make_keyring_json()})  # a k1 made anew
    client = other.test_client()
    health = client.get("/healthz")
    assert health.status_code == 503 and "k1" in health.get_json()["problems"][0]
    assert client.get("/login").status_code == 503
    with other.app_context():
        assert db.session.scalar(select(User.kek_id)) == "k1"
