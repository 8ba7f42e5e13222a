"""Adding a batch of accounts at once (an import, an image with several QR codes, a Google
transfer): what a preview says of it, and the whole batch added in one step.

`Vault` inherits `VaultBatches`, so a batch keeps the vault's rules (the lock, the duplicate
rule, positions, audit) and the caller's transaction holds all of it or none of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError

from webauth import audit
from webauth.extensions import db
from webauth.models import Account, Group, User
from webauth.otp import OtpParams
from webauth.otpauth import AccountSpec, clean_group_names


@dataclass(frozen=True)
class PlannedAddition:
    """One account of a batch to add (an image with several QR codes, a Google transfer)."""

    spec: AccountSpec
    # The same account already in the vault, if any.
    duplicate_of: Account | None = None
    # The same account appears earlier in the batch.
    repeated: bool = False

    @property
    def is_new(self) -> bool:
        return self.duplicate_of is None and not self.repeated


@dataclass(frozen=True)
class PlanCounts:
    """What a preview says of a batch, counted once each: so the result after adding says the same.

    An account repeated in the batch counts as `repeated` (added once, or not at all when the
    vault has it), never again as `in_vault`.
    """

    new: int
    in_vault: int
    repeated: int

    @classmethod
    def of(cls, planned: Sequence[PlannedAddition]) -> PlanCounts:
        return cls(
            new=sum(1 for item in planned if item.is_new),
            in_vault=sum(1 for item in planned if item.duplicate_of is not None and not item.repeated),
            repeated=sum(1 for item in planned if item.repeated),
        )


class VaultBatches:
    """The batch side of `Vault`."""

    user: User

    # What `Vault` (and `VaultListing`) provide: the live accounts' query, the secret's keyed
    # fingerprint, the vault's lock, the next list position and a new account row.
    _query: Callable[..., Select]
    _fingerprint: Callable[[OtpParams], str]
    lock: Callable[[], None]
    _next_position: Callable[[], int]
    _new_account: Callable[[AccountSpec, str, int], Account]

    def plan_additions(self, specs: Sequence[AccountSpec]) -> list[PlannedAddition]:
        """Which accounts of a batch are new, already in the vault, or repeated in the batch.

        A duplicate is what `find_duplicate` would find (same type and secret, by fingerprint,
        issuer and name among the live accounts), here answered with one query for the batch.
        """
        live: dict[tuple[str, str, str], int] = {}
        columns = self._query().with_only_columns(Account.id, Account.secret_digest, Account.issuer, Account.name)
        for account_id, digest, issuer, name in db.session.execute(columns.order_by(Account.id)):
            live.setdefault((digest, issuer, name), account_id)
        planned: list[PlannedAddition] = []
        seen: set[tuple[str, str, str]] = set()
        for spec in specs:
            key = (self._fingerprint(spec.params), spec.issuer, spec.name)
            duplicate = db.session.get(Account, live[key]) if key in live else None
            planned.append(PlannedAddition(spec, duplicate, key in seen))
            seen.add(key)
        return planned

    def add_many(
        self, specs: Iterable[AccountSpec], *, source: str, details: dict | None = None
    ) -> tuple[list[Account], int]:
        """Add a whole import in the caller's transaction: all of it or, on any failure, none of it.

        Accounts the vault holds already (same type, secret, issuer and name), and repeats
        within `specs`, are skipped and counted; returns (accounts added, duplicates skipped).
        Groups, notes, favorites and icons come along (an icon that is not a usable image is
        left out, as in `add`). One audit event `import` records the counts and `source` (the
        format), with `details` from the caller (counts only, never a name or a secret).
        """
        self.lock()
        specs = list(specs)
        try:
            with db.session.begin_nested():
                added, duplicates = self._add_batch(specs)
                db.session.flush()
        except IntegrityError:
            # Under the vault's lock only a writer that skips it (a database console) gets here:
            # read the vault again and skip what it holds now, as for any duplicate.
            with db.session.begin_nested():
                added, duplicates = self._add_batch(specs)
                db.session.flush()
        counts = {"format": source, "added": len(added), "duplicates": duplicates}
        audit.record("import", user=self.user, details={**(details or {}), **counts})
        return added, duplicates

    def _add_batch(self, specs: Sequence[AccountSpec]) -> tuple[list[Account], int]:
        seen = {
            tuple(row)
            for row in db.session.execute(
                self._query().with_only_columns(Account.secret_digest, Account.issuer, Account.name)
            )
        }
        position = self._next_position() - 1
        groups = {
            group.name.casefold(): group
            for group in db.session.scalars(select(Group).where(Group.user_id == self.user.id))
        }
        added: list[Account] = []
        duplicates = 0
        for spec in specs:
            params = spec.params
            digest = self._fingerprint(params)
            if (digest, spec.issuer, spec.name) in seen:
                duplicates += 1
                continue
            seen.add((digest, spec.issuer, spec.name))
            position += 1
            account = self._new_account(spec, digest, position)
            chosen: list[Group] = []
            for name in clean_group_names(spec.groups):
                group = groups.get(name.casefold())
                if group is None:
                    group = groups[name.casefold()] = Group(user_id=self.user.id, name=name)
                chosen.append(group)
            account.groups = chosen
            added.append(account)
        return added, duplicates
