"""The sync service: a user's vault and the `mfaAccounts` of their Casdoor user, both ways.

One sync, for one user:

1. Take the user's sync lease (lease.py); a second sync of the same user waits or gives up.
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

The lease that keeps two syncs of one user apart is in lease.py; the words a sync's outcome
and status are shown in, in status.py.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import timedelta
from enum import StrEnum
from typing import Any

import requests
from authlib.integrations.base_client.errors import OAuthError
from flask import current_app
from sqlalchemy import delete, select

from webauth import audit
from webauth.casdoor import lease, oidc
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
from webauth.casdoor.status import ErrorKind, Outcome, SyncReport
from webauth.crypto import DecryptionError
from webauth.extensions import db
from webauth.models import Account, CasdoorLink, CasdoorMark, User, utcnow
from webauth.otp import OtpParams, OtpType
from webauth.otpauth import AccountSpec, decode_secret, encode_secret
from webauth.sharing.teams import store_casdoor_groups
from webauth.vault import DuplicateAccount, Vault

log = logging.getLogger(__name__)

SOURCE = "casdoor"
# The fields of an mfaAccounts entry as Casdoor stores it.
MFA_FIELDS = ("accountName", "issuer", "secretKey", "origin")
# Set in `session.info` while a sync applies its plan, so that its own vault changes do not
# count as local changes that call for another sync (see triggers.py).
SYNCING = "webauth.casdoor.syncing"
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


class _Failure(Exception):
    def __init__(self, kind: ErrorKind, detail: str = "") -> None:
        super().__init__(kind.value)
        self.kind = kind
        self.detail = detail


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
    token = lease.acquire(user.id, wait)
    if token is None:
        return SyncReport(Outcome.BUSY)
    try:
        return _Sync(user, token, trigger).run()
    finally:
        lease.release(user.id, token)


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
        if store_casdoor_groups(self.user, remote_user.get("groups")):  # the groups shares follow (sharing/)
            db.session.commit()
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
            if not lease.renew(self.user_id, self.lock):
                raise _Failure(ErrorKind.CHANGING, "the sync lease expired")
            # The vault's lock before its rows, as every change of the vault takes them (vault.py).
            self.vault.lock()
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
                vault.update(change.local_id, new, source=SOURCE)
            except DuplicateAccount:
                # The vault holds this very version already: the replaced one goes to the trash.
                vault.delete(change.local_id, source=SOURCE)
                continue
            if change.trash_previous:
                vault.add_to_trash(current, source=SOURCE)
        for account_id in plan.trash:
            vault.delete(account_id, source=SOURCE)
        for addition in plan.additions:
            with contextlib.suppress(DuplicateAccount):  # the same account is there already
                vault.add(_spec(addition.issuer, addition.name, addition.secret), source=SOURCE)
        for copy in plan.trash_copies:
            vault.add_to_trash(_spec(copy.issuer, copy.name, copy.secret), source=SOURCE)

    def _mark(self, plan: SyncPlan) -> None:
        reasons = {account_id: "parameters" for account_id in plan.flagged}
        reasons.update({account_id: "too-long" for account_id in plan.local_only})
        reasons.update({account_id: "type" for account_id in plan.local_only_type})
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
            "not_synced_type": len(plan.local_only_type),
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
