"""The vault: the one domain service for a user's accounts.

Views, the CLI, importers, sync and the API all go through `Vault`, so a rule written here
(duplicates, the trash, revisions, audit events, sealing) holds everywhere. A `Vault` lives
for one request or one command: it unwraps the user's data key at most once.

The caller owns the transaction: no method commits or rolls back. A view, a command, an
import or a sync makes its changes through the vault and commits once, so what belongs
together (an HOTP step and its use, a whole import with the pending upload it consumes, a
sync's plan with its new base) is stored together or not at all. What the code
list reads (its query, its state, its refresh timing) is in listing.py, and adding a batch at
once (an import) in batches.py; `Vault` inherits both.

Two browsers, or a browser and a sync, change the same vault at the same time. Each change
that reads before it writes (is this account there already? which position is last? is it
still in the trash?) first takes the vault's lock (locking.py), held until the caller's
transaction ends, and reads the account again under it. The database keeps the duplicate
rule too (a unique index over user, fingerprint, issuer and name of the live accounts), and
its refusal becomes the same `DuplicateAccount` as the vault's own check.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask_babel import gettext as _
from sqlalchemy import delete as sql_delete
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from webauth import audit, icons
from webauth.batches import VaultBatches
from webauth.crypto import Keyring, open_secret, seal_secret, secret_opener
from webauth.extensions import db
from webauth.listing import ListQuery, VaultListing
from webauth.locking import hold_transaction_lock
from webauth.models import Account, AccountIcon, Group, ShareLink, User, account_groups, utcnow
from webauth.otp import Algorithm, InvalidParameter, OtpParams, OtpType
from webauth.otpauth import AccountSpec, OtpauthError, clean_group_name, clean_group_names
from webauth.sharing.rules import end_shares

# What a re-authenticated user may see of an account's secret (the PIN: mOTP and Yandex accounts).
REVEALS = ("secret", "qr", "uri", "pin")


class AccountNotFound(LookupError):
    """No such account for this user (another user's id is the same as no id)."""


class DuplicateAccount(ValueError):
    """The vault already holds this very account (same type, secret, issuer and name)."""

    def __init__(self, existing: Account) -> None:
        super().__init__(f"{existing.issuer or existing.name} is already in the vault")
        self.existing = existing


class StaleRevision(Exception):
    """The account changed since the caller read it (an edit form opened before another change)."""

    def __init__(self, account: Account) -> None:
        super().__init__(f"account {account.uuid} is at revision {account.revision} now")
        self.account = account


class CounterRewind(ValueError):
    """An edit would move an HOTP counter back, showing codes that were already used."""

    def __init__(self, current: int) -> None:
        super().__init__(f"the counter is at {current} and cannot move back")
        self.current = current


@dataclass(frozen=True)
class IconChange:
    """A new icon for an account: "auto" follows the issuer, "letter" keeps the coloured letter,
    "custom" is an uploaded image (any size or format; the vault re-encodes it)."""

    kind: Literal["auto", "letter", "custom"]
    image: bytes | None = None


class Vault(VaultListing, VaultBatches):
    """The one door to a user's accounts (see the module's docstring); the list's reading is in `VaultListing`."""

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

    # Reading one account --------------------------------------------------------------

    def get(self, account_uuid: str, *, trashed: bool = False, fresh: bool = False) -> Account:
        """One account (live, or in the trash); `fresh` reads it again even if this session holds it."""
        statement = self._query(trashed=trashed).where(Account.uuid == account_uuid)
        if fresh:
            statement = statement.execution_options(populate_existing=True)
        account = db.session.scalar(statement)
        if account is None:
            raise AccountNotFound(account_uuid)
        return account

    @cached_property
    def _opener(self) -> Callable[[str, bytes], bytes]:
        return secret_opener(self._data_key, self.user.id)

    def open_sealed(self, account_uuid: str, sealed: bytes) -> bytes:
        """A stored secret of this user's, opened (it opens only under the account it was sealed for)."""
        return self._opener(account_uuid, sealed)

    def open_pin(self, account_uuid: str, sealed: bytes) -> str:
        """A stored PIN (mOTP, Yandex) of this user's, opened; it never opens as a secret, nor a secret as it."""
        return self._opener(_pin_purpose(account_uuid), sealed).decode()

    def params(self, account: Account) -> OtpParams:
        """The account's OTP parameters with its secret (and PIN) opened."""
        pin = None if account.pin_sealed is None else self.open_pin(account.uuid, account.pin_sealed)
        return OtpParams(
            type=OtpType(account.type),
            secret=self.open_sealed(account.uuid, account.secret_sealed),
            algorithm=Algorithm(account.algorithm),
            digits=account.digits,
            period=account.period,
            counter=account.counter,
            pin=pin,
        )

    def _seal_pin(self, account_uuid: str, pin: str | None) -> bytes | None:
        if pin is None:
            return None
        return seal_secret(self._data_key, self.user.id, _pin_purpose(account_uuid), pin.encode())

    def spec(self, account: Account) -> AccountSpec:
        custom = account.icon if account.icon is not None and account.icon.kind == "custom" else None
        return AccountSpec(
            issuer=account.issuer,
            name=account.name,
            params=self.params(account),
            note=account.note,
            groups=tuple(group.name for group in account.groups),
            favorite=account.favorite,
            icon=custom.data if custom is not None else None,
            icon_mime=custom.mime if custom is not None else None,
        )

    def reveal(self, account_uuid: str, what: str) -> AccountSpec:
        """The account with its secret, for a re-authenticated user to see (`what` is one of
        REVEALS: the secret itself, its QR code, its otpauth URI or its PIN). Each reveal is
        audited; asking for the PIN of an account that has none is `AccountNotFound`."""
        if what not in REVEALS:
            raise ValueError(f"unknown reveal {what!r}")
        account = self.get(account_uuid)
        spec = self.spec(account)
        if what == "pin" and spec.params.pin is None:
            raise AccountNotFound(account_uuid)
        audit.record("account.reveal", user=self.user, details={"account": account.uuid, "what": what})
        return spec

    # Changing ---------------------------------------------------------------------------

    def find_duplicate(self, spec: AccountSpec) -> Account | None:
        return self._live_twin(self._fingerprint(spec.params), spec.issuer, spec.name)

    def _live_twin(self, digest: str, issuer: str, name: str) -> Account | None:
        return db.session.scalar(
            self._query().where(Account.secret_digest == digest, Account.issuer == issuer, Account.name == name)
        )

    def lock(self) -> None:
        """Take this vault's lock for the rest of the caller's transaction (see the module's docstring).

        A caller that locks rows of the vault itself (the sync's `FOR UPDATE`) takes this first:
        the lock, then rows, in every transaction, or two of them wait for each other for good.
        """
        hold_transaction_lock(db.session.connection(), "vault", self.user.id)

    @contextlib.contextmanager
    def _unique(self, digest: str, issuer: str, name: str) -> Iterator[None]:
        """Write what the block changes in a savepoint; the database's duplicate rule refusing it
        raises `DuplicateAccount`, and the caller's transaction goes on without the change."""
        try:
            with db.session.begin_nested():
                yield
                db.session.flush()
        except IntegrityError:
            existing = self._live_twin(digest, issuer, name)
            if existing is None:
                raise
            raise DuplicateAccount(existing) from None

    def _next_position(self) -> int:
        last = db.session.scalar(select(func.max(Account.position)).where(Account.user_id == self.user.id))
        return (last or 0) + 1

    def add(self, spec: AccountSpec, *, source: str = "manual") -> Account:
        """Store a new account; an identical one already there raises `DuplicateAccount`."""
        self.lock()
        existing = self.find_duplicate(spec)
        if existing is not None:
            raise DuplicateAccount(existing)
        digest = self._fingerprint(spec.params)
        with self._unique(digest, spec.issuer, spec.name):
            account = self._new_account(spec, digest, self._next_position())
            if spec.groups:
                self._assign_groups(account, spec.groups)
        audit.record("account.add", user=self.user, details={"account": account.uuid, "source": source})
        return account

    def _new_account(self, spec: AccountSpec, digest: str, position: int) -> Account:
        """A new row for `spec`, its secret (and PIN) sealed, its icon kept when it is a usable image."""
        params = spec.params
        _require_pin(params)
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
            position=position,
            secret_digest=digest,
        )
        account.secret_sealed = seal_secret(self._data_key, self.user.id, account.uuid, params.secret)
        account.pin_sealed = self._seal_pin(account.uuid, params.pin)
        db.session.add(account)
        if spec.icon:
            # An imported icon is decoration: one that is not a usable image is left out.
            with contextlib.suppress(icons.IconError):
                self._set_icon(account, "custom", icons.normalise_image(spec.icon))
        return account

    def update(
        self,
        account_uuid: str,
        spec: AccountSpec,
        *,
        source: str = "edit",
        groups: Iterable[str] | None = None,
        icon: IconChange | None = None,
        revision: int | None = None,
    ) -> Account:
        """Replace an account's description with `spec` (validated already by its constructor).

        Changing the secret or type re-seals it; making it identical to another account of
        the vault raises `DuplicateAccount`. The audit event names the fields, never values.
        Groups and icon change only when `groups` or `icon` is given: most callers (sync) describe
        the OTP fields alone, and `spec.groups` left empty must not empty the account's groups.
        A custom icon that is not a usable image raises `icons.IconError` before anything changes.

        `revision` is the revision the caller's description started from (an edit form): when
        the account moved on since, `StaleRevision` is raised and nothing changes. An HOTP
        counter never moves back while the secret stays (`CounterRewind`): that would show
        codes already used.
        """
        _require_pin(spec.params)
        image = icons.normalise_image(icon.image or b"") if icon is not None and icon.kind == "custom" else None
        self.lock()
        account = self.get(account_uuid, fresh=True)
        if revision is not None and account.revision != revision:
            raise StaleRevision(account)
        current = self.spec(account)
        duplicate = self.find_duplicate(spec)
        if duplicate is not None and duplicate.id != account.id:
            raise DuplicateAccount(duplicate)
        changed = _changed_fields(current, spec)
        rewinds = {"secret", "type"}.isdisjoint(changed) and spec.params.type is OtpType.HOTP
        if rewinds and spec.params.counter < current.params.counter:
            raise CounterRewind(current.params.counter)
        digest = self._fingerprint(spec.params)
        with self._unique(digest, spec.issuer, spec.name):
            if groups is not None:
                names = clean_group_names(groups)
                if [name.casefold() for name in names] != [name.casefold() for name in current.groups]:
                    self._assign_groups(account, names)
                    changed.append("groups")
            if icon is not None and self._set_icon(account, icon.kind, image):
                changed.append("icon")
            if not changed:
                return account
            params = spec.params
            account.type, account.algorithm = params.type.value, params.algorithm.value
            account.digits, account.period, account.counter = params.digits, params.period, params.counter
            account.issuer, account.name = spec.issuer, spec.name
            account.note, account.favorite = spec.note, spec.favorite
            if "secret" in changed or "type" in changed:
                account.secret_sealed = seal_secret(self._data_key, self.user.id, account.uuid, params.secret)
                account.secret_digest = digest
            if "pin" in changed or "type" in changed:
                account.pin_sealed = self._seal_pin(account.uuid, params.pin)
            self._touch(account)
        details = {"account": account.uuid, "fields": changed, "source": source}
        audit.record("account.edit", user=self.user, details=details)
        return account

    def delete(self, account_uuid: str, *, source: str | None = None) -> Account:
        """Move an account to the trash; `restore` undoes it, `purge` makes it final."""
        self.lock()
        account = self.get(account_uuid, fresh=True)
        account.deleted_at = utcnow()
        end_shares(self.user, account, reason="trash")  # recipients lose it at once, and for good
        self._touch(account)
        # The trash ends the account's share links for good: a restore does not bring them back.
        db.session.execute(
            update(ShareLink).where(ShareLink.account_id == account.id, ShareLink.revoked_at.is_(None))
            .values(revoked_at=account.deleted_at, ended="trashed").execution_options(synchronize_session=False)
        )
        details = {"account": account.uuid} if source is None else {"account": account.uuid, "source": source}
        audit.record("account.delete", user=self.user, details=details)
        return account

    def add_to_trash(self, spec: AccountSpec, *, source: str) -> Account | None:
        """Keep `spec` as a trashed account, recoverable with `restore`, unless the trash holds it already.

        Sync uses it for versions it replaces or removes, so that nothing it overwrites is
        lost; returns None when an identical account (type, secret, issuer, name) is in the trash.
        """
        self.lock()
        digest = self._fingerprint(spec.params)
        existing = db.session.scalar(
            self._query(trashed=True)
            .where(Account.secret_digest == digest, Account.issuer == spec.issuer, Account.name == spec.name)
            .limit(1)
        )
        if existing is not None:
            return None
        account = self._new_account(spec, digest, self._next_position())
        account.deleted_at = utcnow()
        db.session.flush()
        audit.record("account.trash_copy", user=self.user, details={"account": account.uuid, "source": source})
        return account

    def restore(self, account_uuid: str) -> Account:
        """Bring an account back from the trash, unless the vault holds it again (`DuplicateAccount`).

        An account no longer in the trash (deleted for good, or restored, meanwhile) raises
        `AccountNotFound`: the caller tells which with `get`.
        """
        self.lock()
        account = self.get(account_uuid, trashed=True, fresh=True)
        duplicate = self.find_duplicate(self.spec(account))
        if duplicate is not None:
            raise DuplicateAccount(duplicate)
        with self._unique(account.secret_digest, account.issuer, account.name):
            account.deleted_at = None
            self._touch(account)
        audit.record("account.restore", user=self.user, details={"account": account.uuid})
        return account

    def purge(self, account_uuid: str) -> None:
        """Delete one account of the trash for good; one restored meanwhile raises `AccountNotFound`."""
        if not self._purge(Account.uuid == account_uuid):
            raise AccountNotFound(account_uuid)

    def empty_trash(self) -> int:
        """Purge every account in the trash; returns how many."""
        return len(self._purge())

    def _purge(self, *conditions) -> list[str]:
        """Delete trashed accounts in one statement that checks they are still in the trash, so a
        restore that came first keeps its account whatever list of the trash the caller saw."""
        self.lock()
        db.session.flush()
        purged = db.session.execute(
            sql_delete(Account)
            .where(Account.user_id == self.user.id, Account.deleted_at.is_not(None), *conditions)
            .returning(Account.id, Account.uuid)
            .execution_options(synchronize_session=False)
        ).all()
        for account_id, account_uuid in purged:
            audit.record("account.purge", user=self.user, details={"account": account_uuid})
            held = db.session.identity_map.get(identity_key(Account, account_id))
            if held is not None:
                db.session.expunge(held)
        self._prune_groups()
        return [account_uuid for _id, account_uuid in purged]

    # Organising ---------------------------------------------------------------------------

    def set_favorite(self, account_uuid: str, favorite: bool) -> Account:
        self.lock()
        account = self.get(account_uuid, fresh=True)
        if account.favorite != favorite:
            account.favorite = favorite
            self._touch(account)
            audit.record("account.favorite", user=self.user, details={"account": account.uuid, "favorite": favorite})
        return account

    def move(self, account_uuid: str, before_uuid: str | None, after_uuid: str | None = None) -> Account:
        """Put an account just before another in the user's order, or just after another
        (`after_uuid`: a drop below the last row of a list that shows only its first page), or
        at the end when neither is named. Positions are renumbered 1..n; only the moved account
        counts as changed, since the others keep their order relative to each other."""
        self.lock()
        account = self.get(account_uuid, fresh=True)
        before = self.get(before_uuid) if before_uuid else None
        after = self.get(after_uuid) if after_uuid and before is None else None
        if account in (before, after):
            return account
        ordered = [item for item in self.accounts(ListQuery(sort="manual")) if item.id != account.id]
        ordered.sort(key=lambda item: (item.position, item.id))
        if before is not None:
            index = ordered.index(before)
        elif after is not None:
            index = ordered.index(after) + 1
        else:
            index = len(ordered)
        ordered.insert(index, account)
        for position, item in enumerate(ordered, start=1):
            item.position = position
        self._touch(account)
        audit.record("account.move", user=self.user, details={"account": account.uuid})
        return account

    def mark_used(self, account_uuid: str) -> None:
        """Note that a code of the account was just used, for the "recently used" order.

        Not a change of the account: no revision, no audit event, so copying a code neither
        makes offline copies stale nor starts a sync.
        """
        account = self.get(account_uuid)
        db.session.execute(update(Account).where(Account.id == account.id).values(last_used_at=utcnow()))

    def rename_group(self, name: str, new_name: str) -> None:
        """Rename a group; a new name that another group has merges the two."""
        self.lock()
        group = self._group(name)
        new_name = clean_group_name(new_name)
        if not new_name:
            raise OtpauthError("groups", _("A group needs a name."))
        if new_name == group.name:
            return
        target = db.session.scalar(
            select(Group).where(Group.user_id == self.user.id, func.lower(Group.name) == new_name.lower())
        )
        members = self._group_members(group)
        if target is not None and target.id != group.id:
            for account in members:
                if target not in account.groups:
                    account.groups.append(target)
                account.groups.remove(group)
            db.session.delete(group)
        else:
            group.name = new_name
        for account in members:
            self._touch(account)
        audit.record("group.rename", user=self.user, details={"accounts": len(members)})

    def delete_group(self, name: str) -> None:
        """Remove a group; its accounts stay, in their other groups."""
        self.lock()
        group = self._group(name)
        members = self._group_members(group)
        for account in members:
            account.groups.remove(group)
            self._touch(account)
        db.session.delete(group)
        audit.record("group.delete", user=self.user, details={"accounts": len(members)})

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
        set_committed_value(account, "counter", counter)
        return account

    # Other sealed data of the user ---------------------------------------------------------

    def seal_blob(self, purpose: str, data: bytes) -> bytes:
        """Seal data that belongs to the user but not to an account (a token, a sync snapshot).

        `purpose` takes the place of the account uuid in the associated data, so a blob
        opens only for the same user and purpose; it must not look like a uuid.
        """
        return seal_secret(self._data_key, self.user.id, purpose, data)

    def open_blob(self, purpose: str, sealed: bytes) -> bytes:
        return open_secret(self._data_key, self.user.id, purpose, sealed)

    def _touch(self, account: Account) -> None:
        account.revision += 1
        account.updated_at = utcnow()

    def _group(self, name: str) -> Group:
        group = db.session.scalar(select(Group).where(Group.user_id == self.user.id, Group.name == name))
        if group is None:
            raise LookupError(name)
        return group

    def _group_members(self, group: Group) -> list[Account]:
        members = select(account_groups.c.account_id).where(account_groups.c.group_id == group.id)
        return list(db.session.scalars(select(Account).where(Account.id.in_(members))))

    def _assign_groups(self, account: Account, names: Iterable[str]) -> None:
        """Put the account in exactly these groups, making the missing ones (matched ignoring case)."""
        existing = {group.name.casefold(): group for group in db.session.scalars(
            select(Group).where(Group.user_id == self.user.id)
        )}
        chosen: list[Group] = []
        for name in names:
            group = existing.get(name.casefold())
            if group is None:
                group = existing[name.casefold()] = Group(user_id=self.user.id, name=name)
                db.session.add(group)
            if group not in chosen:
                chosen.append(group)
        account.groups = chosen
        db.session.flush()
        self._prune_groups()

    def _prune_groups(self) -> None:
        """Groups exist while an account (live or in the trash) is in them."""
        db.session.flush()
        db.session.execute(
            sql_delete(Group)
            .where(Group.user_id == self.user.id, Group.id.not_in(select(account_groups.c.group_id)))
            .execution_options(synchronize_session=False)
        )

    def _set_icon(self, account: Account, kind: str, image: bytes | None = None) -> bool:
        """Apply an icon choice (`image`: a custom icon from `icons.normalise_image`); True if it changed."""
        current = account.icon
        if kind == "auto":
            if current is None:
                return False
            account.icon = None
            return True
        digest = icons.image_digest(image) if kind == "custom" and image else ""
        if current is not None and current.kind == kind and current.digest == digest:
            return False
        if current is None:
            current = account.icon = AccountIcon(kind=kind)
        current.kind, current.digest, current.updated_at = kind, digest, utcnow()
        current.mime, current.data = ("image/png", image) if kind == "custom" else (None, None)
        return True


def _changed_fields(before: AccountSpec, after: AccountSpec) -> list[str]:
    names = []
    for field in ("issuer", "name", "note", "favorite"):
        if getattr(before, field) != getattr(after, field):
            names.append(field)
    for field in ("type", "secret", "algorithm", "digits", "period", "counter", "pin"):
        if getattr(before.params, field) != getattr(after.params, field):
            names.append(field)
    return names


def _pin_purpose(account_uuid: str) -> str:
    """What a PIN is sealed for in place of the account uuid: the account's, yet never its secret's."""
    return f"{account_uuid}:pin"


def _require_pin(params: OtpParams) -> None:
    """The vault keeps no account that cannot give codes: an mOTP or Yandex account needs its PIN."""
    if params.needs_pin:
        raise InvalidParameter("pin", _("This account's codes need its PIN: enter it."))

