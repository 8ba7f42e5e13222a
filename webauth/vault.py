"""The vault: the one domain service for a user's accounts.

Views, the CLI, importers, sync and the API all go through `Vault`, so a rule written here
(duplicates, the trash, revisions, audit events, sealing) holds everywhere. A `Vault` lives
for one request or one command: it unwraps the user's data key at most once.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import func, select, update
from sqlalchemy.orm.attributes import set_committed_value

from webauth import audit
from webauth.crypto import Keyring, open_secret, seal_secret
from webauth.extensions import db
from webauth.models import Account, User, utcnow
from webauth.otp import Algorithm, OtpParams, OtpType, code_at, seconds_remaining
from webauth.otpauth import AccountSpec

# The list offers the next code this many seconds before a period ends.
PREVIEW_SECONDS = 10
# Refresh this long after a boundary, so the client never asks a hair too early.
BOUNDARY_MARGIN_MS = 50


class AccountNotFound(LookupError):
    """No such account for this user (another user's id is the same as no id)."""


class DuplicateAccount(ValueError):
    """The vault already holds this very account (same type, secret, issuer and name)."""

    def __init__(self, existing: Account) -> None:
        super().__init__(f"{existing.issuer or existing.name} is already in the vault")
        self.existing = existing


@dataclass(frozen=True)
class CodeView:
    """What the list shows for one account at one moment."""

    account: Account
    code: str | None
    remaining: float | None
    next_code: str | None

    @property
    def period(self) -> int:
        return self.account.period


def next_refresh_ms(views: Sequence[CodeView]) -> int | None:
    """Milliseconds until the list next changes: a period boundary or a preview starting."""
    waits = []
    for view in views:
        if view.remaining is None:
            continue
        waits.append(view.remaining)
        if view.remaining > PREVIEW_SECONDS:
            waits.append(view.remaining - PREVIEW_SECONDS)
    if not waits:
        return None
    return int(min(waits) * 1000) + BOUNDARY_MARGIN_MS


class Vault:
    def __init__(self, user: User, keyring: Keyring) -> None:
        self.user = user
        self.keyring = keyring

    @cached_property
    def _data_key(self) -> bytes:
        return self.keyring.unwrap_data_key(self.user.id, self.user.kek_id, self.user.wrapped_dek)

    @cached_property
    def _fingerprint_key(self) -> bytes:
        return HKDF(hashes.SHA256(), 32, salt=None, info=b"webauth secret fingerprint v1").derive(self._data_key)

    def _fingerprint(self, params: OtpParams) -> str:
        """A keyed digest of type and secret: finds duplicates without opening every secret."""
        message = params.type.value.encode() + b"\0" + params.secret
        return hmac.new(self._fingerprint_key, message, hashlib.sha256).hexdigest()

    # Reading ----------------------------------------------------------------------------

    def _query(self, *, trashed: bool = False):
        deleted = Account.deleted_at.is_not(None) if trashed else Account.deleted_at.is_(None)
        return select(Account).where(Account.user_id == self.user.id, deleted)

    def accounts(self) -> list[Account]:
        """The live accounts in list order: favorites first, then the user's order, then by name."""
        query = self._query().order_by(
            Account.favorite.desc(),
            Account.position,
            func.lower(Account.issuer),
            func.lower(Account.name),
            Account.id,
        )
        return list(db.session.scalars(query))

    def trash(self) -> list[Account]:
        return list(db.session.scalars(self._query(trashed=True).order_by(Account.deleted_at.desc())))

    def get(self, account_uuid: str, *, trashed: bool = False) -> Account:
        account = db.session.scalar(self._query(trashed=trashed).where(Account.uuid == account_uuid))
        if account is None:
            raise AccountNotFound(account_uuid)
        return account

    def params(self, account: Account) -> OtpParams:
        secret = open_secret(self._data_key, self.user.id, account.uuid, account.secret_sealed)
        return OtpParams(
            type=OtpType(account.type),
            secret=secret,
            algorithm=Algorithm(account.algorithm),
            digits=account.digits,
            period=account.period,
            counter=account.counter,
        )

    def spec(self, account: Account) -> AccountSpec:
        return AccountSpec(
            issuer=account.issuer,
            name=account.name,
            params=self.params(account),
            note=account.note,
            favorite=account.favorite,
        )

    def codes(self, accounts: Iterable[Account], at: float | None = None) -> list[CodeView]:
        now = time.time() if at is None else at
        views = []
        for account in accounts:
            params = self.params(account)
            if params.type is OtpType.HOTP:
                views.append(CodeView(account, code_at(params), None, None))
                continue
            remaining = seconds_remaining(params, now)
            upcoming = code_at(params, now + params.period) if remaining <= PREVIEW_SECONDS else None
            views.append(CodeView(account, code_at(params, now), remaining, upcoming))
        return views

    # Changing ---------------------------------------------------------------------------

    def find_duplicate(self, spec: AccountSpec) -> Account | None:
        digest = self._fingerprint(spec.params)
        return db.session.scalar(
            self._query().where(
                Account.secret_digest == digest, Account.issuer == spec.issuer, Account.name == spec.name
            )
        )

    def add(self, spec: AccountSpec, *, source: str = "manual", commit: bool = True) -> Account:
        """Store a new account; an identical one already there raises `DuplicateAccount`."""
        existing = self.find_duplicate(spec)
        if existing is not None:
            raise DuplicateAccount(existing)
        params = spec.params
        last = db.session.scalar(select(func.max(Account.position)).where(Account.user_id == self.user.id))
        account = Account(
            uuid=str(uuid.uuid4()),
            user_id=self.user.id,
            type=params.type.value,
            issuer=spec.issuer,
            name=spec.name,
            algorithm=params.algorithm.value,
            digits=params.digits,
            period=params.period,
            counter=params.counter,
            note=spec.note,
            favorite=spec.favorite,
            position=(last or 0) + 1,
            secret_digest=self._fingerprint(params),
        )
        account.secret_sealed = seal_secret(self._data_key, self.user.id, account.uuid, params.secret)
        db.session.add(account)
        db.session.flush()
        audit.record("account.add", user=self.user, details={"account": account.uuid, "source": source})
        if commit:
            db.session.commit()
        return account

    def update(self, account_uuid: str, spec: AccountSpec, *, source: str = "edit") -> Account:
        """Replace an account's description with `spec` (validated already by its constructor).

        Changing the secret or type re-seals it; making it identical to another account of
        the vault raises `DuplicateAccount`. The audit event names the fields, never values.
        """
        account = self.get(account_uuid)
        current = self.spec(account)
        duplicate = self.find_duplicate(spec)
        if duplicate is not None and duplicate.id != account.id:
            raise DuplicateAccount(duplicate)
        changed = _changed_fields(current, spec)
        if not changed:
            return account
        params = spec.params
        account.type, account.algorithm = params.type.value, params.algorithm.value
        account.digits, account.period, account.counter = params.digits, params.period, params.counter
        account.issuer, account.name, account.note, account.favorite = spec.issuer, spec.name, spec.note, spec.favorite
        if "secret" in changed or "type" in changed:
            account.secret_sealed = seal_secret(self._data_key, self.user.id, account.uuid, params.secret)
            account.secret_digest = self._fingerprint(params)
        self._touch(account)
        details = {"account": account.uuid, "fields": changed, "source": source}
        audit.record("account.edit", user=self.user, details=details)
        db.session.commit()
        return account

    def delete(self, account_uuid: str) -> Account:
        """Move an account to the trash; `restore` undoes it, `purge` makes it final."""
        account = self.get(account_uuid)
        account.deleted_at = utcnow()
        self._touch(account)
        audit.record("account.delete", user=self.user, details={"account": account.uuid})
        db.session.commit()
        return account

    def restore(self, account_uuid: str) -> Account:
        account = self.get(account_uuid, trashed=True)
        account.deleted_at = None
        self._touch(account)
        audit.record("account.restore", user=self.user, details={"account": account.uuid})
        db.session.commit()
        return account

    def purge(self, account_uuid: str) -> None:
        account = self.get(account_uuid, trashed=True)
        db.session.delete(account)
        audit.record("account.purge", user=self.user, details={"account": account_uuid})
        db.session.commit()

    def advance_hotp(self, account_uuid: str) -> Account:
        """Move an HOTP account to its next counter in one UPDATE ... RETURNING.

        Each click gets its own counter value even when several arrive at once, from any
        process, so two clicks never show the same code.
        """
        account = self.get(account_uuid)
        if account.type != OtpType.HOTP.value:
            raise AccountNotFound(account_uuid)
        counter = db.session.execute(
            update(Account)
            .where(Account.id == account.id)
            .values(counter=Account.counter + 1, revision=Account.revision + 1, updated_at=utcnow())
            .returning(Account.counter)
        ).scalar_one()
        audit.record("account.hotp_next", user=self.user, details={"account": account.uuid, "counter": counter})
        db.session.commit()
        set_committed_value(account, "counter", counter)
        return account

    def _touch(self, account: Account) -> None:
        account.revision += 1
        account.updated_at = utcnow()


def _changed_fields(before: AccountSpec, after: AccountSpec) -> list[str]:
    names = []
    for field in ("issuer", "name", "note", "favorite"):
        if getattr(before, field) != getattr(after, field):
            names.append(field)
    for field in ("type", "secret", "algorithm", "digits", "period", "counter"):
        if getattr(before.params, field) != getattr(after.params, field):
            names.append(field)
    return names
