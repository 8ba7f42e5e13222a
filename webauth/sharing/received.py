"""What a recipient gets: the accounts shared with them, with codes and never secrets.

`Received` is the recipient's side of sharing. It finds the accounts shared with its user
(by name, through a team they are in, or through a Casdoor group they were in at their last
sign-in), leaving out those in the trash and those whose owner an administrator disabled
(the shares are suspended, not deleted). Codes come from the owner's `Vault`, the one door to
the accounts: the secret is opened under the owner's data key only to compute a code, and
what this module hands out (`SharedAccount`, `SharedView`) has no secret field at all. An HOTP
"next code" moves the owner's counter through `Vault.advance_hotp`, the same single UPDATE
that the owner's own clicks use, so two clicks at once never get the same code.

The list's clock asks `clock_rows` at every boundary of every open page: one query, which
finds no row for a user nobody shares with.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import Select, bindparam, func, select

from webauth import clock
from webauth.crypto import Keyring
from webauth.extensions import db
from webauth.listing import PREVIEW_SECONDS, CodeRow, ListQuery
from webauth.models import Account, AccountIcon, User
from webauth.otp import OtpType, code_at, seconds_remaining
from webauth.sharing.models import Share
from webauth.sharing.rules import reaching
from webauth.vault import AccountNotFound, Vault

# The list's group that holds the accounts shared with the reader (`?group=:shared`). The list
# looks for this value before the groups of the vault: a group of one's own named so is shown
# in the group menu but filters to the shared accounts.
SHARED_GROUP = ":shared"
# At most this many accounts shared with one user are listed (every one of them in one page).
MAX_RECEIVED = 500


@dataclass(frozen=True)
class SharedAccount:
    """What a recipient may know of an account shared with them: no secret, no note, no groups."""

    id: int
    uuid: str
    issuer: str
    name: str
    type: str
    algorithm: str
    digits: int
    period: int
    counter: int
    owner: str
    # The owner's choice of icon: a brand's, the letter, or an uploaded image, which the icon
    # route serves to whoever the account is shared with (views/icons.py asks `get`).
    icon: AccountIcon | None
    allow_hotp_next: bool
    # Shared with the reader by name (not only through a team or group): leaving it ends the
    # share, where leaving a group's only hides it from the reader (rules.leave).
    direct: bool


@dataclass(frozen=True)
class SharedView:
    """A shared account's codes at one moment, as the list shows them."""

    account: SharedAccount
    code: str
    remaining: float | None
    next_code: str | None

    @property
    def period(self) -> int:
        return self.account.period

    @property
    def key(self) -> int:
        return self.account.id

    def as_row(self) -> dict[str, object]:
        """The account as `flask accounts list --json` and the REST API give it: its code and who
        shared it, no secret (an HOTP account's counter, a time-based one's period and time left)."""
        account = self.account
        row: dict[str, object] = {
            "id": account.uuid,
            "type": account.type,
            "issuer": account.issuer,
            "name": account.name,
            "algorithm": account.algorithm,
            "digits": account.digits,
            "shared_by": account.owner,
            "code": self.code,
        }
        if self.remaining is None:
            row["counter"] = account.counter
        else:
            row["period"] = account.period
            row["remaining"] = round(self.remaining, 3)
        return row


def _visible(user_id) -> list:
    """Shares that reach the user (and that they did not leave), of accounts alive and of owners not disabled."""
    return [
        *reaching(user_id),
        Account.deleted_at.is_(None),
        Account.user_id != user_id,
        User.disabled.is_(False),
    ]


@lru_cache(maxsize=1)
def _clock_statement() -> Select:
    """What the clock needs of every account shared with `:user_id`, and what its signature covers."""
    return (
        select(
            Account.id, Account.uuid, Account.type, Account.secret_sealed, Account.pin_sealed, Account.algorithm,
            Account.digits, Account.period, Account.user_id, Account.revision, Account.issuer, Account.name,
            Share.id.label("share_id"), Share.allow_hotp_next, User.username,
        )
        .join(Account, Account.id == Share.account_id)
        .join(User, User.id == Account.user_id)
        .where(*_visible(bindparam("user_id")))
        .order_by(Account.id, Share.id)
        .limit(MAX_RECEIVED * 4)
    )


@dataclass(frozen=True)
class SharedClock:
    """What the list's clock reads of the accounts shared with the reader: a signature that
    changes whenever their list could (a share made or ended, an account edited, an owner
    disabled), and the code rows of the time-based ones matching the list's search."""

    signature: str
    rows: list[CodeRow]
    owners: dict[int, int]  # account id -> owner's user id

    def signed(self, vault_signature: str) -> str:
        """The list's signature: the vault's own, changed by the shared accounts when there are any."""
        if not self.signature:
            return vault_signature
        return hashlib.sha256(f"{vault_signature}:{self.signature}".encode()).hexdigest()[:16]


def matches(query: ListQuery, issuer: str, name: str, owner: str) -> bool:
    """Whether a shared account belongs in the list of `query`: "Shared with me" or no group,
    and every search word in its issuer, its name or its owner's user name."""
    if query.group and query.group != SHARED_GROUP:
        return False
    text = f"{issuer}\n{name}\n{owner}".casefold()
    return all(term.casefold() in text for term in query.terms)


class Received:
    """The accounts shared with `user` (see the module's docstring)."""

    def __init__(self, user: User, keyring: Keyring) -> None:
        self.user = user
        self.keyring = keyring
        self._vaults: dict[int, Vault] = {}

    def _owner_vault(self, owner_id: int) -> Vault:
        vault = self._vaults.get(owner_id)
        if vault is None:
            owner = db.session.get(User, owner_id)
            vault = self._vaults[owner_id] = Vault(owner, self.keyring)
        return vault

    # The clock ------------------------------------------------------------------------

    def clock(self, query: ListQuery) -> SharedClock:
        """One query: the signature of every shared account, and the code rows of those shown."""
        # Columns only, so the connection runs it without the ORM's result machinery (as the
        # vault's own clock statement runs: listing.VaultListing.clock_rows).
        rows = db.session.connection().execute(_clock_statement(), {"user_id": self.user.id}).all()
        if not rows:
            return SharedClock("", [], {})
        digest = hashlib.sha256(repr([
            (row.id, row.revision, row.share_id, row.allow_hotp_next, row.username, row.issuer, row.name)
            for row in rows
        ]).encode()).hexdigest()[:16]
        shown: dict[int, CodeRow] = {}
        owners: dict[int, int] = {}
        for row in rows:
            if row.type == OtpType.HOTP.value or row.id in shown:
                continue
            if not matches(query, row.issuer, row.name, row.username):
                continue
            shown[row.id] = CodeRow(*row[:8])
            owners[row.id] = row.user_id
        return SharedClock(digest, list(shown.values()), owners)

    def step_code(self, own: Vault, owners: dict[int, int]) -> Callable[[CodeRow], Callable[[int], str]]:
        """For `Vault.clock_tick`: each row opened by its owner's vault (the reader's own rows by `own`)."""

        def opener(row: CodeRow) -> Callable[[int], str]:
            owner = owners.get(row.id)
            return own.step_code(row) if owner is None else self._owner_vault(owner).step_code(row)

        return opener

    # The list and the account's page ------------------------------------------------

    def _accounts(self, *conditions) -> list[tuple[Account, str, bool, bool]]:
        """Shared accounts with their owner's name, whether HOTP's next code is allowed, and
        whether the share names the reader; one entry per account, by issuer and name."""
        rows = db.session.execute(
            select(Account, User.username, Share.allow_hotp_next, Share.recipient_id)
            .join(Account, Account.id == Share.account_id)
            .join(User, User.id == Account.user_id)
            .where(*_visible(self.user.id), *conditions)
            .order_by(
                func.lower(func.coalesce(func.nullif(Account.issuer, ""), Account.name)),
                func.lower(Account.name),
                Account.id,
            )
            .limit(MAX_RECEIVED * 4)
        ).all()
        found: dict[int, tuple[Account, str, bool, bool]] = {}
        for account, owner, allow, recipient_id in rows:
            direct = recipient_id == self.user.id
            known = found.get(account.id)
            if known is not None:
                allow, direct = allow or known[2], direct or known[3]
            found[account.id] = (account, owner, allow, direct)
        return list(found.values())[:MAX_RECEIVED]

    @staticmethod
    def _shared(account: Account, owner: str, allow: bool, direct: bool) -> SharedAccount:
        return SharedAccount(
            id=account.id, uuid=account.uuid, issuer=account.issuer, name=account.name, type=account.type,
            algorithm=account.algorithm, digits=account.digits, period=account.period, counter=account.counter,
            owner=owner, icon=account.icon, allow_hotp_next=allow and account.type == OtpType.HOTP.value, direct=direct,
        )

    def accounts(self) -> list[SharedAccount]:
        """Every account shared with the reader, without codes (the command line's and API's list)."""
        return [self._shared(*entry) for entry in self._accounts()]

    def views(self, query: ListQuery, at: float | None = None) -> list[SharedView]:
        """The shared accounts matching `query`, with their codes at `at` (default: now)."""
        now = clock.now() if at is None else at
        views = []
        for account, owner, allow, direct in self._accounts():
            if not matches(query, account.issuer, account.name, owner):
                continue
            views.append(self._view(account, self._shared(account, owner, allow, direct), now))
        return views

    def _view(self, account: Account, shared: SharedAccount, now: float) -> SharedView:
        params = self._owner_vault(account.user_id).params(account)
        if params.type is OtpType.HOTP:
            return SharedView(shared, code_at(params), None, None)
        remaining = seconds_remaining(params, now)
        upcoming = code_at(params, now + params.period) if remaining <= PREVIEW_SECONDS else None
        return SharedView(shared, code_at(params, now), remaining, upcoming)

    def get(self, account_uuid: str) -> SharedAccount:
        """One account shared with the reader; anything else (theirs, unshared, trashed, an
        owner disabled) is `AccountNotFound`, the same answer as for no account at all."""
        found = self._accounts(Account.uuid == account_uuid)
        if not found:
            raise AccountNotFound(account_uuid)
        return self._shared(*found[0])

    def view(self, account_uuid: str, at: float | None = None) -> SharedView:
        found = self._accounts(Account.uuid == account_uuid)
        if not found:
            raise AccountNotFound(account_uuid)
        account, owner, allow, direct = found[0]
        return self._view(account, self._shared(account, owner, allow, direct), clock.now() if at is None else at)

    def advance_hotp(self, account_uuid: str) -> SharedAccount:
        """The next code of an HOTP account whose owner allows it: the owner's counter moves on,
        through the owner's vault (audited there, the reader as the actor)."""
        shared = self.get(account_uuid)
        if not shared.allow_hotp_next:
            raise AccountNotFound(account_uuid)
        self._owner_vault(self._owner_id(shared)).advance_hotp(account_uuid)
        return self.get(account_uuid)

    def _owner_id(self, shared: SharedAccount) -> int:
        return db.session.scalar(select(Account.user_id).where(Account.id == shared.id))

