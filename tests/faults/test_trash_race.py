"""Issue 13.1: "Empty trash" at the same instant as a restore never deletes the restored account.

The purge used to delete by id from a list of the trash read first: a restore committed in
between was deleted all the same (or, the other way round, the restore's UPDATE found no row:
500 StaleDataError). Now the purge deletes only rows still in the trash, in one statement,
under the vault's lock; a restore that comes second says the account is gone for good.
"""

from __future__ import annotations

from functools import partial

from sqlalchemy import select

from tests.support.accounts import vault
from tests.support.server import race, sign_in, token
from webauth.extensions import db
from webauth.models import Account
from webauth.otp import OtpParams, OtpType
from webauth.otpauth import AccountSpec

ROUNDS = 8
TRASHED = 60  # the more the old purge had to go through, the wider its window


def _fill_trash(app, round_number: int) -> str:
    """TRASHED accounts in the trash, and one more, deleted last; returns that one's uuid."""
    with app.app_context():
        mine = vault(app)
        specs = [
            AccountSpec(issuer=f"Round{round_number}", name=f"n{index}",
                        params=OtpParams(type=OtpType.TOTP, secret=f"{round_number:04}-{index:04}-secret".encode()))
            for index in range(TRASHED + 1)
        ]
        added, _ = mine.add_many(specs, source="test")
        db.session.commit()
        for account in added:
            mine.delete(account.uuid)
        db.session.commit()
        return added[-1].uuid


def test_a_restore_racing_empty_trash_keeps_what_it_restored(app, user, served):
    restorer, emptier = sign_in(served), sign_in(served)
    outcomes = []
    for round_number in range(ROUNDS):
        target = _fill_trash(app, round_number)
        restore_token, empty_token = token(restorer, f"{served}/accounts/trash"), token(emptier, f"{served}/")
        restored, emptied = race(
            partial(restorer.post, f"{served}/accounts/{target}/restore",
                    data={"csrf_token": restore_token, "next": "trash"}, allow_redirects=False, timeout=60),
            partial(emptier.post, f"{served}/accounts/trash/empty", data={"csrf_token": empty_token},
                    allow_redirects=False, timeout=60),
        )
        assert restored.status_code < 500 and emptied.status_code == 302, (restored.text[:500], emptied.text[:500])
        with app.app_context():
            row = db.session.scalar(select(Account).where(Account.uuid == target))
            left_in_trash = db.session.scalar(
                select(db.func.count(Account.id)).where(Account.deleted_at.is_not(None))
            )
            if restored.status_code == 302:
                assert row is not None and row.deleted_at is None, f"round {round_number}: restored, then purged"
                outcomes.append("restored")
            else:
                assert restored.status_code == 404 and "deleted for good" in restored.text
                assert row is None
                outcomes.append("purged first")
            assert left_in_trash == 0  # everything else went
            for account in vault(app).accounts():  # the next round starts from an empty vault
                vault(app).delete(account.uuid)
            vault(app).empty_trash()
            db.session.commit()
    assert len(outcomes) == ROUNDS
