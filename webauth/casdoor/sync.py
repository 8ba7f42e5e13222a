"""The sync service: a user's vault and the `mfaAccounts` of their Casdoor user, both ways.

One sync, for one user:

1. Take the user's sync lease (below); a second sync of the same user waits or gives up.
2. Get a usable access token: the stored one, or a fresh one from the refresh token when
   it expires within two minutes (Casdoor rotates refresh tokens, so new ones are stored
   at once, whatever happens next).
3. Read the user (`get-user`), the base (the list both sides agreed on last time) and the
   vault's live accounts; plan with `merge.merge`.
4. When Casdoor's list must change: remember the push (sealed, as `pending`), write the
   whole user read in 3 with only `mfaAccounts` replaced (`update-user`), and read it again.
   The list read back must be the one sent; if someone else wrote in between, plan again
   from what was read (at most three rounds).
5. Apply the plan to the vault and store the new base, the account marks and the status in
   ONE transaction, through the vault (audit events included), checking that the vault did
   not change since step 3 and that this sync still holds the lease.

A failure at any step (Casdoor down, slow, 5xx, `status: error`, garbled JSON, a revoked
token) rolls back: the vault is untouched, the status says what went wrong in words, and
the next automatic attempt waits longer each time (30 s doubling to 15 min). Because the
vault is changed only after Casdoor confirmed the push, a sync that fails after pushing
leaves `pending`; the next sync sees Casdoor still holding exactly that list and finishes
the local half instead of merging twice (which would keep a conflict's two versions twice).

The lease: `casdoor_links.lock_token/locked_until`, taken by one conditional UPDATE
("set my token where the lease is free or expired") and committed at once. On PostgreSQL
the row lock taken by that UPDATE serialises concurrent takers, and the loser re-reads the
row and matches nothing; SQLite has one writer at a time, so the same statement is atomic
there too. A row lock held for the whole sync (`SELECT ... FOR UPDATE`, or `BEGIN
IMMEDIATE` on SQLite) would keep a transaction open across slow network calls: on SQLite
that blocks every writer of the whole database, and on PostgreSQL it pins a connection for
as long as Casdoor takes. The expiry frees the lease of a process that died; the final
transaction renews the lease under its own token first (a fencing check), so a sync that
overran its lease cannot apply a stale plan.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import requests
from authlib.integrations.base_client.errors import OAuthError
from flask import current_app
from flask_babel import format_timedelta, ngettext
from flask_babel import gettext as _
from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import OperationalError

from webauth import audit
from webauth.casdoor import oidc
from webauth.casdoor.client import (
    MFA_HIDDEN_MESSAGE,
    CasdoorAuthError,
    CasdoorClient,
    CasdoorError,
    CasdoorPermissionError,
    CasdoorRejected,
    CasdoorServerError,
    CasdoorSettings,
    CasdoorUnreachable,
    mfa_accounts_of,
)
from webauth.casdoor.merge import LocalAccount, SyncPlan, Why, merge
from webauth.crypto import DecryptionError
from webauth.extensions import db
from webauth.models import Account, CasdoorLink, CasdoorMark, User, utcnow
from webauth.otp import OtpParams, OtpType
from webauth.otpauth import AccountSpec, decode_secret, encode_secret
from webauth.vault import DuplicateAccount, Vault

log = logging.getLogger(__name__)

SOURCE = "casdoor"
# The fields of an mfaAccounts entry as Casdoor stores it.
MFA_FIELDS = ("accountName", "issuer", "secretKey", "origin")
# Set in `session.info` while a sync applies its plan, so that its own vault changes do not
# count as local changes that call for another sync (see triggers.py).
SYNCING = "webauth.casdoor.syncing"
LOCK_TTL = timedelta(minutes=5)
LOCK_POLL_SECONDS = 0.1
REFRESH_MARGIN = timedelta(minutes=2)
MAX_ROUNDS = 3
BACKOFF_FIRST = timedelta(seconds=30)
BACKOFF_MAX = timedelta(minutes=15)
# How long the CLI waits for a sync of the same user that is already running.
CLI_WAIT_SECONDS = 60.0
# How many kept-both conflicts the status remembers.
MAX_CONFLICTS_SHOWN = 20

_ACCESS = "casdoor:access-token"
_REFRESH = "casdoor:refresh-token"
_BASE = "casdoor:base"
_PENDING = "casdoor:pending"


class Trigger(StrEnum):
    """What started a sync; recorded in the audit event."""

    SIGN_IN = "sign-in"
    CHANGE = "change"
    PERIODIC = "periodic"
    MANUAL = "manual"
    CLI = "cli"
    ADMIN = "admin"


class Outcome(StrEnum):
    OK = "ok"
    FAILED = "error"
    BUSY = "busy"  # another sync of this user held the lease for longer than we waited
    WAITING = "waiting"  # an automatic sync skipped: backing off after failures, or one just ran
    NOT_LINKED = "not-linked"


class ErrorKind(StrEnum):
    """Why a sync failed; `error_message` says it in words."""

    UNREACHABLE = "unreachable"
    TIMEOUT = "timeout"
    SERVER = "server"
    SESSION_EXPIRED = "session-expired"
    MFA_HIDDEN = "mfa-hidden"
    PERMISSION = "permission"
    REJECTED = "rejected"
    NOT_STORED = "not-stored"
    CHANGING = "changing"
    INTERNAL = "internal"


@dataclass(frozen=True)
class SyncReport:
    """The outcome of one call to `sync_user`."""

    outcome: Outcome
    error: ErrorKind | None = None
    detail: str = ""
    changed_local: bool = False
    summary: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK

    @property
    def message(self) -> str:
        if self.error is not None:
            return error_message(self.error, self.detail)
        return {
            Outcome.OK: _("Synced with Casdoor."),
            Outcome.BUSY: _("Another sync of this account is running; it will bring the changes."),
            Outcome.WAITING: _("Waiting before the next automatic sync."),
            Outcome.NOT_LINKED: _("This account is not connected to Casdoor."),
        }.get(self.outcome, "")


class _Failure(Exception):
    def __init__(self, kind: ErrorKind, detail: str = "") -> None:
        super().__init__(kind.value)
        self.kind = kind
        self.detail = detail


def error_message(kind: ErrorKind | str, detail: str = "") -> str:
    """A failed sync, in words for the user."""
    messages = {
        ErrorKind.UNREACHABLE: _("Casdoor could not be reached."),
        ErrorKind.TIMEOUT: _("Casdoor did not answer in time."),
        ErrorKind.SERVER: _("Casdoor answered with an error or with something webauth could not read."),
        ErrorKind.SESSION_EXPIRED: _("Your Casdoor session has expired; sign in with Casdoor again."),
        ErrorKind.MFA_HIDDEN: _(
            'The organization does not let users see MFA accounts; its administrator can add the "MFA accounts" '
            "account item in Casdoor."
        ),
        ErrorKind.PERMISSION: _("Casdoor did not allow webauth to read or change your MFA accounts."),
        ErrorKind.REJECTED: _("Casdoor refused the change: %(reason)s", reason=detail or _("no reason given")),
        ErrorKind.NOT_STORED: _(
            "Casdoor did not keep the change; the organization may not let users edit their MFA accounts."
        ),
        ErrorKind.CHANGING: _("Your MFA accounts kept changing during the sync; it will be tried again."),
        ErrorKind.INTERNAL: _("The sync failed because of an error in webauth; it has been logged."),
    }
    try:
        return messages[ErrorKind(kind)]
    except ValueError:
        return messages[ErrorKind.INTERNAL]


def _kind_of(error: CasdoorError) -> ErrorKind:
    if isinstance(error, CasdoorUnreachable):
        return ErrorKind.TIMEOUT if "Timeout" in error.detail else ErrorKind.UNREACHABLE
    if isinstance(error, CasdoorServerError):
        return ErrorKind.SERVER
    if isinstance(error, CasdoorAuthError):
        return ErrorKind.SESSION_EXPIRED
    if isinstance(error, CasdoorPermissionError):
        return ErrorKind.MFA_HIDDEN if error.message == MFA_HIDDEN_MESSAGE else ErrorKind.PERMISSION
    if isinstance(error, CasdoorRejected):
        return ErrorKind.REJECTED
    return ErrorKind.INTERNAL


def installation_origin() -> str:
    """This installation's `origin` for entries it creates: the setting, or a stable id from SECRET_KEY.

    Every process of one installation shares SECRET_KEY (sessions need it), so they agree;
    the HMAC reveals nothing about the key.
    """
    configured = current_app.config.get("WEBAUTH_CASDOOR_ORIGIN")
    if configured:
        return configured[:100]
    digest = hmac.new(current_app.config["SECRET_KEY"].encode(), b"webauth casdoor origin", hashlib.sha256)
    return f"webauth-{digest.hexdigest()[:12]}"


def make_client() -> CasdoorClient:
    timeout = max(1, current_app.config["WEBAUTH_CASDOOR_TIMEOUT"])
    return CasdoorClient(
        CasdoorSettings(
            base_url=current_app.config["WEBAUTH_CASDOOR_URL"], connect_timeout=min(5, timeout), read_timeout=timeout
        )
    )


def _normalised(entries: Sequence[Any]) -> list[dict[str, str]]:
    """A list as Casdoor stores it (four string fields per entry), for comparing what was sent and read."""
    result = []
    for entry in entries:
        if isinstance(entry, Mapping):
            result.append({name: str(entry.get(name) or "") for name in MFA_FIELDS})
    return result


def _backoff(failures: int) -> timedelta:
    return min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** max(0, failures - 1))


# Tokens and the link -------------------------------------------------------------------


def link_of(user: User) -> CasdoorLink | None:
    return db.session.get(CasdoorLink, user.id)


def connect(user: User, vault: Vault, casdoor_id: str, tokens: oidc.Tokens) -> CasdoorLink:
    """Create or refresh the user's link with fresh tokens (in the caller's transaction)."""
    link = link_of(user)
    if link is None:
        link = CasdoorLink(user_id=user.id, casdoor_id=casdoor_id, last_detail="", last_summary={}, failures=0)
        db.session.add(link)
    link.casdoor_id = casdoor_id
    store_tokens(vault, link, tokens)
    # A new sign-in is a new chance: automatic syncs need not wait out an old backoff.
    link.next_attempt_at = None
    return link


def store_tokens(vault: Vault, link: CasdoorLink, tokens: oidc.Tokens) -> None:
    link.access_token_sealed = vault.seal_blob(_ACCESS, tokens.access_token.encode())
    link.access_expires_at = tokens.expires_at
    if tokens.refresh_token:
        link.refresh_token_sealed = vault.seal_blob(_REFRESH, tokens.refresh_token.encode())


def forget_tokens(link: CasdoorLink) -> None:
    """After sign-out: background syncs stop until the next sign-in."""
    link.access_token_sealed = link.refresh_token_sealed = link.access_expires_at = None


def access_token_of(vault: Vault, link: CasdoorLink) -> str | None:
    """The stored access token, whether or not it is still valid (for `id_token_hint`)."""
    if link.access_token_sealed is None:
        return None
    try:
        return vault.open_blob(_ACCESS, link.access_token_sealed).decode()
    except DecryptionError:
        return None


# The lease ------------------------------------------------------------------------------


def _acquire(user_id: int, wait: float) -> str | None:
    """Take the user's sync lease, waiting up to `wait` seconds; its token, or None."""
    token = secrets.token_hex(16)
    deadline = time.monotonic() + wait
    while True:
        now = utcnow()
        try:
            taken = db.session.execute(
                update(CasdoorLink)
                .where(
                    CasdoorLink.user_id == user_id,
                    or_(CasdoorLink.locked_until.is_(None), CasdoorLink.locked_until < now),
                )
                .values(lock_token=token, locked_until=now + LOCK_TTL)
                .execution_options(synchronize_session=False)
            ).rowcount
            db.session.commit()
        except OperationalError:  # SQLite busy beyond its timeout: as good as taken by someone else
            db.session.rollback()
            taken = 0
        if taken == 1:
            return token
        if time.monotonic() >= deadline:
            return None
        time.sleep(LOCK_POLL_SECONDS)


def _release(user_id: int, token: str) -> None:
    db.session.rollback()
    db.session.execute(
        update(CasdoorLink)
        .where(CasdoorLink.user_id == user_id, CasdoorLink.lock_token == token)
        .values(lock_token=None, locked_until=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


# Syncing ------------------------------------------------------------------------------


def sync_user(user: User, trigger: Trigger, *, force: bool = False, wait: float = 0.0) -> SyncReport:
    """Sync one user now; never raises for Casdoor's or the network's failures (they are the report).

    Automatic triggers (`force=False`) respect the backoff after failures; a periodic one
    also skips when a sync was attempted moments ago. `wait` is how long to wait for a
    sync of the same user that is already running.
    """
    if not oidc.configured():
        return SyncReport(Outcome.NOT_LINKED)
    link = link_of(user)
    if link is None:
        return SyncReport(Outcome.NOT_LINKED)
    if not force:
        now = utcnow()
        if link.next_attempt_at is not None and link.next_attempt_at > now:
            return SyncReport(Outcome.WAITING)
        # A periodic sync within half an interval of the last attempt (another tab, another device) does nothing.
        gap = timedelta(seconds=current_app.config["WEBAUTH_CASDOOR_SYNC_INTERVAL"] / 2)
        recent = link.last_attempt_at is not None and now - link.last_attempt_at < gap
        if trigger is Trigger.PERIODIC and recent:
            return SyncReport(Outcome.WAITING)
    token = _acquire(user.id, wait)
    if token is None:
        return SyncReport(Outcome.BUSY)
    try:
        return _Sync(user, token, trigger).run()
    finally:
        _release(user.id, token)


class _Sync:
    """One sync of one user, holding the lease `lock`."""

    def __init__(self, user: User, lock: str, trigger: Trigger) -> None:
        from webauth.keys import keyring

        self.user = user
        self.user_id = user.id
        self.lock = lock
        self.trigger = trigger
        self.vault = Vault(user, keyring())
        self.origin = installation_origin()
        self.refreshed = False
        self.token = ""

    @property
    def link(self) -> CasdoorLink:
        link = db.session.get(CasdoorLink, self.user_id)
        if link is None:  # unlinked while we waited for the lease
            raise _Failure(ErrorKind.SESSION_EXPIRED)
        return link

    def run(self) -> SyncReport:
        try:
            with make_client() as client:
                return self._sync(client)
        except CasdoorError as error:
            return self._fail(_kind_of(error), error.detail if isinstance(error, CasdoorRejected) else "")
        except _Failure as failure:
            return self._fail(failure.kind, failure.detail)
        except Exception:
            log.exception("the Casdoor sync of user %s failed", self.user_id)
            return self._fail(ErrorKind.INTERNAL)

    # Tokens ----------------------------------------------------------------------------

    def _access_token(self, *, renew: bool = False) -> str:
        link = self.link
        expires = link.access_expires_at
        usable = link.access_token_sealed is not None and expires is not None and expires - REFRESH_MARGIN > utcnow()
        if usable and not renew:
            return self.vault.open_blob(_ACCESS, link.access_token_sealed).decode()
        if link.refresh_token_sealed is None or self.refreshed:
            raise _Failure(ErrorKind.SESSION_EXPIRED)
        refresh_token = self.vault.open_blob(_REFRESH, link.refresh_token_sealed).decode()
        self.refreshed = True
        try:
            tokens = oidc.refresh(refresh_token)
        except OAuthError:
            # Refused: revoked, expired or already used. Only a new sign-in helps.
            link.refresh_token_sealed = None
            db.session.commit()
            raise _Failure(ErrorKind.SESSION_EXPIRED) from None
        except requests.Timeout:
            raise _Failure(ErrorKind.TIMEOUT) from None
        except (requests.RequestException, oidc.SignInError):
            raise _Failure(ErrorKind.UNREACHABLE) from None
        except ValueError:
            raise _Failure(ErrorKind.SERVER) from None
        store_tokens(self.vault, link, tokens)
        db.session.commit()
        return tokens.access_token

    def _read(self, client: CasdoorClient) -> dict[str, Any]:
        """The Casdoor user; an access token refused before its time is renewed once."""
        casdoor_id = self.link.casdoor_id
        try:
            return client.get_user(self.token, casdoor_id)
        except CasdoorAuthError:
            if self.refreshed or self.link.refresh_token_sealed is None:
                raise
            self.token = self._access_token(renew=True)
            return client.get_user(self.token, casdoor_id)

    # The rounds ------------------------------------------------------------------------

    def _sync(self, client: CasdoorClient) -> SyncReport:
        self.token = self._access_token()
        remote_user = self._read(client)
        remote = mfa_accounts_of(remote_user)
        base = self._load(_BASE, self.link.base_sealed) or []
        pending = self._load(_PENDING, self.link.pending_sealed)
        for _round in range(MAX_ROUNDS):
            local, revisions = self._local()
            plan = self._resume(pending, base, local, revisions, remote)
            resumed = plan is not None
            new_base = remote
            if plan is None:
                plan = merge(base, local, remote, origin=self.origin)
                if plan.remote_changed:
                    sent = _normalised(plan.remote)
                    pending = {"before": remote, "sent": sent, "revisions": revisions}
                    self._store(_PENDING, pending)
                    body = {**remote_user, "mfaAccounts": list(plan.remote)}
                    unanswered = None
                    try:
                        client.update_user(self.token, body)
                    except CasdoorUnreachable as error:
                        log.info("update-user for user %s gave no answer; reading back to learn", self.user_id)
                        unanswered = error
                    remote_user = self._read(client)
                    confirmed = mfa_accounts_of(remote_user)
                    if _normalised(confirmed) != sent:
                        if _normalised(confirmed) == _normalised(remote):
                            # Not written (yet): a write that timed out may still land; `pending` covers that.
                            raise unanswered or _Failure(ErrorKind.NOT_STORED)
                        remote = confirmed  # someone else wrote meanwhile: plan again from what is there
                        continue
                    new_base = confirmed
            report = self._apply(plan, revisions, new_base, pushed=resumed or plan.remote_changed)
            if report is not None:
                return report
            remote = new_base  # the vault changed while we worked: plan again against it
        raise _Failure(ErrorKind.CHANGING)

    def _local(self) -> tuple[list[LocalAccount], dict[str, int]]:
        accounts = self.vault.accounts()
        local = []
        for account in accounts:
            params = self.vault.params(account)
            local.append(
                LocalAccount(
                    id=account.uuid,
                    issuer=account.issuer,
                    name=account.name,
                    secret=encode_secret(params.secret),
                    otp_type=params.type,
                    algorithm=params.algorithm,
                    digits=params.digits,
                    period=params.period,
                )
            )
        return local, {account.uuid: account.revision for account in accounts}

    def _resume(
        self,
        pending: Mapping[str, Any] | None,
        base: list[Any],
        local: list[LocalAccount],
        revisions: dict[str, int],
        remote: list[Any],
    ) -> SyncPlan | None:
        """The plan of a sync that pushed but failed before its local half, if it still fits exactly."""
        if not pending or _normalised(remote) != pending.get("sent") or revisions != pending.get("revisions"):
            return None
        plan = merge(base, local, pending.get("before") or [], origin=self.origin)
        return plan if _normalised(plan.remote) == pending["sent"] else None

    # Applying ----------------------------------------------------------------------------

    def _apply(
        self, plan: SyncPlan, revisions: dict[str, int], new_base: list[Any], *, pushed: bool
    ) -> SyncReport | None:
        """Apply the plan and the new base in one transaction; None when the vault changed meanwhile."""
        session = db.session
        session.info[SYNCING] = True
        try:
            session.expire_all()
            renewed = session.execute(
                update(CasdoorLink)
                .where(CasdoorLink.user_id == self.user_id, CasdoorLink.lock_token == self.lock)
                .values(locked_until=utcnow() + LOCK_TTL)
                .execution_options(synchronize_session=False)
            ).rowcount
            if renewed != 1:
                raise _Failure(ErrorKind.CHANGING, "the sync lease expired")
            current = dict(
                session.execute(
                    select(Account.uuid, Account.revision)
                    .where(Account.user_id == self.user_id, Account.deleted_at.is_(None))
                    .with_for_update()
                ).all()
            )
            if current != revisions:
                session.rollback()
                return None
            self._apply_plan(plan)
            self._mark(plan)
            summary = self._summary(plan, pushed)
            link = self.link
            link.base_sealed = self.vault.seal_blob(_BASE, json.dumps(new_base).encode())
            link.pending_sealed = None
            now = utcnow()
            link.last_attempt_at = link.last_success_at = now
            link.last_result, link.last_error, link.last_detail = "ok", None, ""
            link.failures, link.next_attempt_at = 0, None
            if not summary.get("conflicts"):
                summary["conflicts"] = (link.last_summary or {}).get("conflicts", [])
                summary["conflicts_at"] = (link.last_summary or {}).get("conflicts_at")
            link.last_summary = summary
            audit.record("sync.ok", user=self.user, details={"trigger": self.trigger.value, **_counts(summary)})
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.info.pop(SYNCING, None)
        return SyncReport(Outcome.OK, changed_local=plan.changes_local, summary=summary)

    def _apply_plan(self, plan: SyncPlan) -> None:
        vault = self.vault
        # Renames first: another update may take the name or the secret a renamed account leaves.
        renames_first = sorted(plan.updates, key=lambda change: change.why not in (Why.DUPLICATE, Why.CONFLICT))
        for change in renames_first:
            account = vault.get(change.local_id)
            current = vault.spec(account)
            new = AccountSpec(
                issuer=change.issuer,
                name=change.name,
                params=replace(current.params, secret=decode_secret(change.secret)),
                note=current.note,
                favorite=current.favorite,
            )
            try:
                vault.update(change.local_id, new, source=SOURCE, commit=False)
            except DuplicateAccount:
                # The vault holds this very version already: the replaced one goes to the trash.
                vault.delete(change.local_id, source=SOURCE, commit=False)
                continue
            if change.trash_previous:
                vault.add_to_trash(current, source=SOURCE, commit=False)
        for account_id in plan.trash:
            vault.delete(account_id, source=SOURCE, commit=False)
        for addition in plan.additions:
            with contextlib.suppress(DuplicateAccount):  # the same account is there already
                vault.add(_spec(addition.issuer, addition.name, addition.secret), source=SOURCE, commit=False)
        for copy in plan.trash_copies:
            vault.add_to_trash(_spec(copy.issuer, copy.name, copy.secret), source=SOURCE, commit=False)

    def _mark(self, plan: SyncPlan) -> None:
        reasons = {account_id: "parameters" for account_id in plan.flagged}
        reasons.update({account_id: "too-long" for account_id in plan.local_only})
        db.session.execute(delete(CasdoorMark).where(CasdoorMark.user_id == self.user_id))
        if not reasons:
            return
        rows = db.session.execute(
            select(Account.uuid, Account.id).where(Account.user_id == self.user_id, Account.uuid.in_(list(reasons)))
        ).all()
        for account_uuid, account_id in rows:
            db.session.add(CasdoorMark(account_id=account_id, user_id=self.user_id, reason=reasons[account_uuid]))

    @staticmethod
    def _summary(plan: SyncPlan, pushed: bool) -> dict[str, Any]:
        summary: dict[str, Any] = {
            "added_here": sum(1 for a in plan.additions if a.why is not Why.CONFLICT),
            "changed_here": sum(1 for u in plan.updates if u.why is Why.CHANGED_REMOTELY),
            "trashed_here": len(plan.trash),
            "kept_in_trash": len(plan.trash_copies) + sum(1 for u in plan.updates if u.trash_previous),
            "sent": pushed,
            "parameters_only": len(plan.flagged),
            "not_synced": len(plan.local_only),
            "unreadable_in_casdoor": len(plan.passthrough),
        }
        if plan.kept_both:
            conflicts = [
                {"issuer": kept.issuer, "name": kept.name, "renamed_to": kept.renamed_to}
                for kept in plan.kept_both[:MAX_CONFLICTS_SHOWN]
            ]
            summary["conflicts"] = conflicts
            summary["conflicts_at"] = utcnow().isoformat()
        return summary

    def _fail(self, kind: ErrorKind, detail: str = "") -> SyncReport:
        db.session.rollback()
        db.session.info.pop(SYNCING, None)
        link = db.session.get(CasdoorLink, self.user_id)
        if link is not None:
            now = utcnow()
            link.last_attempt_at = now
            link.last_result, link.last_error, link.last_detail = "error", kind.value, detail[:500]
            link.failures = (link.failures or 0) + 1
            link.next_attempt_at = now + _backoff(link.failures)
            if kind is ErrorKind.SESSION_EXPIRED:
                # Casdoor refused the token: keeping it would only make every automatic sync fail again.
                link.access_token_sealed = link.access_expires_at = None
            audit.record("sync.error", user=self.user, details={"trigger": self.trigger.value, "error": kind.value})
            db.session.commit()
        log.info("Casdoor sync of user %s failed: %s", self.user_id, kind.value)
        return SyncReport(Outcome.FAILED, error=kind, detail=detail)

    # Sealed JSON -------------------------------------------------------------------------

    def _load(self, purpose: str, sealed: bytes | None) -> Any:
        if sealed is None:
            return None
        return json.loads(self.vault.open_blob(purpose, sealed))

    def _store(self, purpose: str, value: Any) -> None:
        link = self.link
        sealed = self.vault.seal_blob(purpose, json.dumps(value).encode())
        if purpose == _PENDING:
            link.pending_sealed = sealed
        else:
            link.base_sealed = sealed
        db.session.commit()


def _spec(issuer: str, name: str, secret: str) -> AccountSpec:
    return AccountSpec(issuer=issuer, name=name, params=OtpParams(type=OtpType.TOTP, secret=decode_secret(secret)))


def _counts(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The numbers of a summary, for the audit log (names of accounts stay out of it)."""
    return {key: value for key, value in summary.items() if isinstance(value, int | bool)}


# Status -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SyncStatus:
    """What the status line shows about a user's sync."""

    last_attempt_at: datetime | None
    last_success_at: datetime | None
    result: str | None
    error: str | None
    detail: str
    summary: Mapping[str, Any]
    next_attempt_at: datetime | None
    running: bool
    signed_in: bool

    @property
    def failed(self) -> bool:
        return self.result == "error"

    @property
    def error_text(self) -> str:
        return error_message(self.error or ErrorKind.INTERNAL, self.detail) if self.failed else ""

    @property
    def conflicts(self) -> list[Mapping[str, str]]:
        return list(self.summary.get("conflicts") or [])

    def words(self) -> str:
        """One sentence about the last sync, for the status line."""
        now = utcnow()
        if self.running and self.last_attempt_at is None:
            return _("Syncing with Casdoor…")
        if self.failed:
            text = _(
                "The last sync failed %(when)s: %(reason)s",
                when=_ago(self.last_attempt_at, now),
                reason=self.error_text,
            )
            if self.next_attempt_at is not None and self.next_attempt_at > now:
                wait = format_timedelta(self.next_attempt_at - now, threshold=1.1)
                text += " " + _("Next automatic try in %(wait)s.", wait=wait)
            return text
        if self.last_success_at is None:
            return _("Not synced with Casdoor yet.")
        text = _("Synced with Casdoor %(when)s.", when=_ago(self.last_success_at, now))
        changes = []
        if added := self.summary.get("added_here"):
            changes.append(ngettext("%(num)d account added here", "%(num)d accounts added here", added))
        if changed := self.summary.get("changed_here"):
            changes.append(ngettext("%(num)d account changed here", "%(num)d accounts changed here", changed))
        if trashed := self.summary.get("trashed_here"):
            changes.append(
                ngettext("%(num)d account moved to the trash", "%(num)d accounts moved to the trash", trashed)
            )
        if changes:
            text += " " + _("Last changes: %(changes)s.", changes=", ".join(changes))
        return text

    def notes(self) -> list[str]:
        """Lasting facts about the accounts worth telling beside the last result."""
        notes = []
        if count := self.summary.get("parameters_only"):
            notes.append(
                ngettext(
                    "%(num)d account uses settings Casdoor cannot store; Casdoor keeps only its secret.",
                    "%(num)d accounts use settings Casdoor cannot store; Casdoor keeps only their secrets.",
                    count,
                )
            )
        if count := self.summary.get("not_synced"):
            notes.append(
                ngettext(
                    "%(num)d account is not synced: its issuer, name or secret is longer than Casdoor allows.",
                    "%(num)d accounts are not synced: their issuer, name or secret is longer than Casdoor allows.",
                    count,
                )
            )
        if count := self.summary.get("unreadable_in_casdoor"):
            notes.append(
                ngettext(
                    "%(num)d entry in Casdoor could not be read here; it is left as it is.",
                    "%(num)d entries in Casdoor could not be read here; they are left as they are.",
                    count,
                )
            )
        return notes


def _ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return _("never")
    return format_timedelta(moment - now, add_direction=True, threshold=1.1)


def status_of(user: User) -> SyncStatus | None:
    link = link_of(user)
    if link is None:
        return None
    now = utcnow()
    return SyncStatus(
        last_attempt_at=link.last_attempt_at,
        last_success_at=link.last_success_at,
        result=link.last_result,
        error=link.last_error,
        detail=link.last_detail or "",
        summary=link.last_summary or {},
        next_attempt_at=link.next_attempt_at,
        running=link.locked_until is not None and link.locked_until > now,
        signed_in=link.refresh_token_sealed is not None
        or (link.access_expires_at is not None and link.access_expires_at > now),
    )


def dismiss_conflicts(user: User) -> None:
    link = link_of(user)
    if link is not None and (link.last_summary or {}).get("conflicts"):
        link.last_summary = {**link.last_summary, "conflicts": [], "conflicts_at": None}
        db.session.commit()


def marks_of(user: User) -> dict[int, str]:
    """Account id → mark reason, for the code list."""
    rows = db.session.execute(select(CasdoorMark.account_id, CasdoorMark.reason).where(CasdoorMark.user_id == user.id))
    return dict(rows.all())


def linked_users() -> list[User]:
    """Users with a link and a way to get a token, for `sync --all`."""
    query = (
        select(User).join(CasdoorLink, CasdoorLink.user_id == User.id).where(User.disabled.is_(False)).order_by(User.id)
    )
    return list(db.session.scalars(query))


def find_linked_user(casdoor_id: str) -> User | None:
    """The user linked to Casdoor's `owner/name`."""
    return db.session.scalar(
        select(User).join(CasdoorLink, CasdoorLink.user_id == User.id).where(CasdoorLink.casdoor_id == casdoor_id)
    )
