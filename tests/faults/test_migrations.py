"""Issue 13.7 and 13.2: migrations that lose nothing.

- Migration 0009 puts the duplicate rule into the database (a unique index over the live
  accounts); copies that two adds at once could store before are moved to the trash, the
  earliest kept, each audited.
- A downgrade that would drop people's data refuses without --force, and says what.

`flask db downgrade 0002` drops the groups (migration 0003), the Casdoor links, the offline
devices...: it used to do so silently. Now the whole downgrade runs in one transaction, counts
the rows of each table it drops, and is rolled back with a message naming them unless
`--force` is given.
"""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import column, func, inspect, select, table, text

from webauth import create_app, users
from webauth.extensions import db
from webauth.keys import keyring
from webauth.models import Passkey
from webauth.otpauth import AccountSpec, parse_uri
from webauth.users import create_local_user
from webauth.vault import Vault


def _version(app) -> str:
    with app.app_context():
        version = db.session.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        db.session.remove()
        return version


def test_a_downgrade_that_drops_groups_needs_force(app_config, fresh_database):
    app = create_app({**app_config, "SQLALCHEMY_DATABASE_URI": fresh_database()})
    cli = app.test_cli_runner()
    assert cli.invoke(args=["db", "upgrade", "heads"]).exit_code == 0
    with app.app_context():
        user = create_local_user("alice", "correct horse battery", keyring())
        spec = parse_uri("otpauth://totp/Svc:alice?secret=JBSWY3DPEHPK3PXP")
        Vault(user, keyring()).add(AccountSpec(issuer=spec.issuer, name=spec.name, params=spec.params,
                                               groups=("Work",)))
        db.session.commit()
        db.session.remove()

    # Down to 0008 drops an index and the heartbeat row only: no --force needed.
    stepped = cli.invoke(args=["db", "downgrade", "0008"])
    assert stepped.exit_code == 0, stepped.output
    assert _version(app) == "0008"

    refused = cli.invoke(args=["db", "downgrade", "0002"])
    assert refused.exit_code != 0
    assert "would drop account_groups (1 row), groups (1 row)" in refused.output
    assert "--force" in refused.output and "nothing was changed" in refused.output
    assert _version(app) == "0008"
    with app.app_context():
        assert db.session.execute(text("SELECT name FROM groups")).scalars().all() == ["Work"]
        db.session.remove()

    forced = cli.invoke(args=["db", "downgrade", "0002", "--force"])
    assert forced.exit_code == 0, forced.output
    assert _version(app) == "0002"
    with app.app_context():
        assert not inspect(db.engine).has_table("groups")
        db.engine.dispose()


def test_0009_moves_duplicates_already_stored_to_the_trash(app_config, fresh_database):
    app = create_app({**app_config, "SQLALCHEMY_DATABASE_URI": fresh_database()})
    cli = app.test_cli_runner()
    assert cli.invoke(args=["db", "upgrade", "heads"]).exit_code == 0
    with app.app_context():
        user = create_local_user("alice", "correct horse battery", keyring())
        account_id = Vault(user, keyring()).add(parse_uri("otpauth://totp/Svc:alice?secret=JBSWY3DPEHPK3PXP")).id
        db.session.commit()
        db.session.remove()
    # Back to the schema before 0009 (the models know later columns), where the copies were left.
    assert cli.invoke(args=["db", "downgrade", "0008"]).exit_code == 0
    with app.app_context():
        row = db.session.execute(text("SELECT * FROM accounts WHERE id = :id"), {"id": account_id}).mappings().one()
        for number in (2, 3):  # what two (three) identical adds at once left behind
            copy = {**row, "id": account_id + number, "uuid": f"00000000-0000-0000-0000-00000000000{number}",
                    "position": row["position"] + number}
            db.session.execute(table("accounts", *(column(name) for name in copy)).insert().values(copy))
        db.session.commit()
        db.session.remove()

    upgraded = cli.invoke(args=["db", "upgrade", "heads"])
    assert upgraded.exit_code == 0, upgraded.output
    with app.app_context():
        rows = db.session.execute(text("SELECT id, deleted_at, revision FROM accounts ORDER BY id")).all()
        assert [(row.deleted_at is None, row.revision) for row in rows] == [(True, 1), (False, 2), (False, 2)]
        details = [json.loads(value) if isinstance(value, str) else value for value in db.session.execute(
            text("SELECT details FROM audit_events WHERE event = 'account.delete'")).scalars()]
        assert details == [
            {"account": "00000000-0000-0000-0000-000000000002", "source": "migration"},
            {"account": "00000000-0000-0000-0000-000000000003", "source": "migration"},
        ]
        db.engine.dispose()


def test_going_below_0011_with_motp_or_yandex_accounts_needs_force(app_config, fresh_database):
    """The older schema has no PIN and the older code no mOTP or Yandex type: refused, then
    with --force those accounts go (with their groups), the others stay."""
    app = create_app({**app_config, "SQLALCHEMY_DATABASE_URI": fresh_database()})
    cli = app.test_cli_runner()
    assert cli.invoke(args=["db", "upgrade", "heads"]).exit_code == 0
    with app.app_context():
        user = create_local_user("alice", "correct horse battery", keyring())
        vault = Vault(user, keyring())
        vault.add(parse_uri("otpauth://totp/Svc:alice?secret=JBSWY3DPEHPK3PXP"))
        motp = parse_uri("motp://VPN:alice?secret=e3152afee62599c8&pin=1234")
        vault.add(AccountSpec(issuer=motp.issuer, name=motp.name, params=motp.params, groups=("Work",)))
        db.session.commit()
        db.session.remove()

    head = _version(app)  # the last migration, whichever it is: the refusal leaves it there
    refused = cli.invoke(args=["db", "downgrade", "0010"])
    assert refused.exit_code != 0
    assert "would drop mOTP and Yandex accounts (1 row)" in refused.output and "nothing was changed" in refused.output
    assert _version(app) == head  # nothing was changed

    forced = cli.invoke(args=["db", "downgrade", "0010", "--force"])
    assert forced.exit_code == 0, forced.output
    assert _version(app) == "0010"
    with app.app_context():
        assert db.session.execute(text("SELECT type FROM accounts")).scalars().all() == ["totp"]
        assert db.session.execute(text("SELECT count(*) FROM account_groups")).scalar_one() == 0
        assert "pin_sealed" not in {col["name"] for col in inspect(db.engine).get_columns("accounts")}
        db.session.remove()
        db.engine.dispose()


def _counts(app) -> dict[str, int]:
    with app.app_context():
        counts = {name: db.session.scalar(select(func.count()).select_from(table(name)))
                  for name in ("users", "accounts", "sessions")}
        db.session.remove()
        return counts


def test_0012_adds_and_drops_passkeys_in_place_and_its_downgrade_needs_force(app_config, fresh_database):
    """Migration 0012 changes `users` in place: on SQLite, a copy of the table would drop the
    old one, and with foreign keys on that deletes every account and session with it. Below
    0012 the passkeys go: people would have to add them again, so it is asked for."""
    app = create_app({**app_config, "SQLALCHEMY_DATABASE_URI": fresh_database()})
    cli = app.test_cli_runner()
    assert cli.invoke(args=["db", "upgrade", "heads"]).exit_code == 0
    with app.app_context():
        user = create_local_user("alice", "correct horse battery", keyring())
        Vault(user, keyring()).add(parse_uri("otpauth://totp/Svc:alice?secret=JBSWY3DPEHPK3PXP"))
        users.start_session(user, "password", timedelta(hours=1), reauthenticated_at=None)
        db.session.add(Passkey(user_id=user.id, credential_id=b"id", public_key=b"key", name="Phone"))
        db.session.commit()
        db.session.remove()
    everything = {"users": 1, "accounts": 1, "sessions": 1}
    assert _counts(app) == everything

    head = _version(app)  # 0012 or a later migration (0013, the API's tokens)
    refused = cli.invoke(args=["db", "downgrade", "0011"])
    assert refused.exit_code != 0 and "would drop passkeys (1 row)" in refused.output
    assert _version(app) == head
    forced = cli.invoke(args=["db", "downgrade", "0011", "--force"])
    assert forced.exit_code == 0, forced.output
    assert _version(app) == "0011"
    assert _counts(app) == everything
    with app.app_context():
        assert not inspect(db.engine).has_table("passkeys")
        db.engine.dispose()
    assert cli.invoke(args=["db", "upgrade", "heads"]).exit_code == 0
    assert _version(app) == head and _counts(app) == everything
