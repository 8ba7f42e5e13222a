"""Issue 13.4 and 13.7: two operators' commands at once lose no key and break no migration.

- Two `keys rotate` used to both name their new key "k2"; the file written last won, and every
  data key the other had rewrapped opened no more. Now rotation holds the keyring file's lock
  and a database lock across reading, writing (durably) and rewrapping, and key ids cannot
  collide.
- Every command applies pending migrations first; two first runs at once used to end one of
  them in a traceback (both created the same tables). Now migrations run one at a time, in one
  transaction, and the keyring of a new instance is created once.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select

from tests.faults.conftest import finished, flask_cli
from webauth import create_app, keys
from webauth.crypto import Keyring
from webauth.extensions import db
from webauth.keys import keyring
from webauth.models import User
from webauth.otp import code_at
from webauth.otpauth import parse_uri
from webauth.users import create_local_user
from webauth.vault import Vault

ROUNDS = 2
MOMENT = 1_700_000_000
SECRETS = ["JBSWY3DPEHPK3PXP", "GEZDGNBVGY3TQOJQ", "KRSXG5CTMVRXEZLU"]


def _file_keyring_app(app_config: dict, instance: Path):
    return create_app({**app_config, "WEBAUTH_KEYS": None, "INSTANCE_PATH": str(instance)})


def _codes(app_config: dict, instance: Path) -> dict[str, list[str]]:
    """Every user's codes, as a freshly started app computes them from the keyring on disk."""
    app = _file_keyring_app(app_config, instance)
    with app.app_context():
        codes = {}
        for user in db.session.scalars(select(User).order_by(User.username)):
            vault = Vault(user, keyring())
            codes[user.username] = [code_at(vault.params(account), MOMENT) for account in vault.accounts()]
        return codes


def test_two_rotations_at_once_keep_every_key(app_config, migrated_database, tmp_path):
    instance = tmp_path / "instance"
    app = _file_keyring_app(app_config, instance)  # an empty database: a new keyring is made
    with app.app_context():
        for name, secret in zip(("alice", "bob", "carol"), SECRETS, strict=True):
            user = create_local_user(name, "correct horse battery", keyring())
            Vault(user, keyring()).add(parse_uri(f"otpauth://totp/Svc:{name}?secret={secret}"))
            db.session.commit()
    before = _codes(app_config, instance)
    assert all(before.values())

    for round_number in range(ROUNDS):
        rotations = [flask_cli("keys", "rotate", instance=instance, database_url=migrated_database) for _ in range(2)]
        results = [finished(process) for process in rotations]
        for status, out, err in results:
            assert status == 0, err
            assert "new primary key" in out
        new_ids = {out.split()[3].rstrip(";") for _status, out, _err in results}
        assert len(new_ids) == 2, f"round {round_number}: both rotations named their key alike: {new_ids}"
        ring = Keyring.load(instance / "keyring.json")
        assert new_ids <= set(ring.keys) and len(ring.keys) == 1 + 2 * (round_number + 1)
        assert _codes(app_config, instance) == before, f"round {round_number}: a vault no longer opens"


def test_two_rotations_that_reach_the_same_step_together_keep_every_key(
    app_config, migrated_database, tmp_path, monkeypatch
):
    """The processes above start a second or so apart at random, so they seldom meet inside a
    rotation. Here two rotations (two apps, each with its own copy of the keyring, as two
    processes hold) are brought to the moment they add their key at the same instant, unless
    the locks keep one out until the other committed: then the first waits a moment and goes on.
    """
    instance = tmp_path / "instance"
    first = _file_keyring_app(app_config, instance)  # an empty database: a new keyring is made
    with first.app_context():
        for name, secret in zip(("alice", "bob", "carol"), SECRETS, strict=True):
            user = create_local_user(name, "correct horse battery", keyring())
            Vault(user, keyring()).add(parse_uri(f"otpauth://totp/Svc:{name}?secret={secret}"))
            db.session.commit()
    before = _codes(app_config, instance)
    second = _file_keyring_app(app_config, instance)

    meeting = threading.Barrier(2)
    add_primary = Keyring.add_primary

    def together(ring: Keyring) -> str:
        with contextlib.suppress(threading.BrokenBarrierError):  # the other is held off by the locks: go on
            meeting.wait(timeout=2)
        return add_primary(ring)

    monkeypatch.setattr(Keyring, "add_primary", together)
    outcomes: list[BaseException | str] = []

    def rotate(app) -> None:
        with app.app_context():
            try:
                kek_id, _changed = keys.rotate(keyring())
                db.session.commit()
                outcomes.append(kek_id)
            except BaseException as error:  # reported below
                db.session.rollback()
                outcomes.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=rotate, args=(app,)) for app in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for app in (first, second):
        with app.app_context():
            db.engine.dispose()
    assert all(isinstance(outcome, str) for outcome in outcomes), outcomes
    assert set(outcomes) <= set(Keyring.load(instance / "keyring.json").keys), "a new key was lost"
    assert _codes(app_config, instance) == before


def test_two_first_commands_at_once_on_a_new_instance(app_config, fresh_database, tmp_path):
    for round_number in range(ROUNDS):
        instance, database = tmp_path / f"instance-{round_number}", fresh_database()
        commands = [flask_cli("keys", "list", instance=instance, database_url=database) for _ in range(2)]
        for status, _out, err in (finished(process) for process in commands):
            assert status == 0, f"round {round_number}: {err}"
        app = create_app({**app_config, "WEBAUTH_KEYS": None, "INSTANCE_PATH": str(instance),
                          "SQLALCHEMY_DATABASE_URI": database})
        with app.app_context():
            assert inspect(db.engine).has_table("alembic_version")
            heads = ScriptDirectory.from_config(app.extensions["migrate"].migrate.get_config()).get_heads()
            assert db.session.execute(db.text("SELECT version_num FROM alembic_version")).scalars().all() == heads
            db.engine.dispose()
        assert (instance / "keyring.json").exists()
