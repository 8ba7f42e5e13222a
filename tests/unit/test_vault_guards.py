"""The vault's guards against a change made meanwhile, without HTTP: the database's own duplicate
rule, a trash that changed, an edit started from an older revision, a counter moved back.

The races that need them (two requests at once through gunicorn) are in tests/faults/; here
each guard is shown on its own, in one app context, by making "meanwhile" happen by hand.
"""

from __future__ import annotations

import uuid as uuid_module
from collections.abc import Iterator

import pytest
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from webauth.extensions import db
from webauth.keys import keyring
from webauth.models import Account, User
from webauth.otp import OtpParams, OtpType
from webauth.otpauth import AccountSpec
from webauth.vault import AccountNotFound, CounterRewind, DuplicateAccount, StaleRevision, Vault

SECRET = b"12345678901234567890"


def spec(issuer: str, *, secret: bytes = SECRET, kind: OtpType = OtpType.TOTP, counter: int = 0, **fields):
    return AccountSpec(issuer, "alice", OtpParams(kind, secret, counter=counter), **fields)


@pytest.fixture
def vault(app, make_user) -> Iterator[Vault]:
    alice = make_user("alice")
    with app.app_context():
        yield Vault(db.session.get(User, alice.id), keyring())


def _copy_row(account: Account) -> dict:
    columns = ("user_id", "type", "issuer", "name", "secret_sealed", "secret_digest", "algorithm", "digits",
               "period", "counter", "note", "favorite", "position", "revision")
    return {**{column: getattr(account, column) for column in columns}, "uuid": str(uuid_module.uuid4())}


def test_the_database_refuses_a_second_live_copy_but_keeps_copies_in_the_trash(vault):
    account = vault.add(spec("GitHub"))
    db.session.commit()
    with pytest.raises(IntegrityError):
        db.session.execute(insert(Account).values(**_copy_row(account)))
    db.session.rollback()
    trashed = {**_copy_row(account), "deleted_at": account.created_at}
    db.session.execute(insert(Account).values(**trashed))
    db.session.execute(insert(Account).values(**{**trashed, "uuid": str(uuid_module.uuid4())}))
    db.session.commit()
    assert len(vault.trash()) == 2 and len(vault.accounts()) == 1


def test_the_databases_refusal_is_the_same_answer_and_the_transaction_goes_on(vault, monkeypatch):
    """A writer that missed the vault's own check (as two at once did) meets the unique index."""
    first = vault.add(spec("GitHub"))
    vault.delete(vault.add(spec("GitLab")).uuid)
    twin = vault.add_to_trash(spec("GitHub"), source="test")
    monkeypatch.setattr(Vault, "find_duplicate", lambda self, spec: None)
    with pytest.raises(DuplicateAccount) as refused:
        vault.add(spec("GitHub"))
    assert refused.value.existing.id == first.id
    with pytest.raises(DuplicateAccount):
        vault.restore(twin.uuid)
    other = vault.add(spec("Other"))  # the caller's transaction is still usable
    with pytest.raises(DuplicateAccount):
        vault.update(other.uuid, spec("GitHub"))
    db.session.commit()
    assert sorted(a.issuer for a in vault.accounts()) == ["GitHub", "Other"]
    assert db.session.scalar(select(func.count(Account.id)).where(Account.deleted_at.is_not(None))) == 2


def test_a_purge_deletes_only_what_is_still_in_the_trash(vault):
    account = vault.add(spec("GitHub"))
    other = vault.add(spec("GitLab", secret=b"x" * 20))
    vault.delete(account.uuid)
    vault.delete(other.uuid)
    other_uuid = other.uuid
    db.session.commit()
    # Restored by another request after this one listed the trash:
    db.session.execute(update(Account).where(Account.id == account.id).values(deleted_at=None))
    assert vault.empty_trash() == 1
    assert [a.uuid for a in vault.accounts()] == [account.uuid]
    with pytest.raises(AccountNotFound):
        vault.purge(account.uuid)
    with pytest.raises(AccountNotFound):  # deleted for good: nothing to restore
        vault.restore(other_uuid)


def test_an_edit_from_an_older_revision_changes_nothing(vault):
    account = vault.add(spec("GitHub"))
    started = account.revision
    vault.set_favorite(account.uuid, True)  # meanwhile
    with pytest.raises(StaleRevision) as stale:
        vault.update(account.uuid, spec("Renamed"), revision=started)
    assert stale.value.account.revision == started + 1
    assert vault.get(account.uuid).issuer == "GitHub"
    vault.update(account.uuid, spec("Renamed", favorite=True), revision=started + 1)
    assert vault.get(account.uuid).issuer == "Renamed"


def test_an_hotp_counter_never_moves_back_while_its_secret_stays(vault):
    account = vault.add(spec("Door", kind=OtpType.HOTP, counter=5))
    vault.advance_hotp(account.uuid)
    with pytest.raises(CounterRewind) as rewind:
        vault.update(account.uuid, spec("Door", kind=OtpType.HOTP, counter=5))
    assert rewind.value.current == 6
    assert vault.update(account.uuid, spec("Door", kind=OtpType.HOTP, counter=9)).counter == 9
    # A new secret starts a new sequence: any counter.
    assert vault.update(account.uuid, spec("Door", kind=OtpType.HOTP, counter=0, secret=b"n" * 20)).counter == 0


def test_positions_follow_on_after_a_batch(vault):
    vault.add(spec("A"))
    vault.add_many([spec("B", secret=b"b" * 20), spec("C", secret=b"c" * 20)], source="test")
    vault.add(spec("D", secret=b"d" * 20))
    db.session.flush()
    positions = [account.position for account in vault.accounts()]
    assert sorted(positions) == [1, 2, 3, 4]
