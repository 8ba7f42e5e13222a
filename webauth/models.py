"""Database models, queried by the domain modules (`vault.py` and `listing.py`, `users.py`,
`admin.py`, `audit.py`, `settings.py`, `offline.py`, `metrics.py`, `transfer/pending.py`,
`casdoor/`); views go through those, and change a user's accounts only through `Vault`.

Secrets are stored sealed (see crypto.py); issuer and account names are stored in clear so
that listing, searching and sorting happen in SQL.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from webauth.extensions import db


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on SQLite as well as PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime stored")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class User(UserMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("oidc_issuer", "oidc_subject", name="uq_users_oidc"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(255), unique=True)
    display_name: Mapped[str] = mapped_column(String(255), default="")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    oidc_issuer: Mapped[str | None] = mapped_column(String(255))
    oidc_subject: Mapped[str | None] = mapped_column(String(255))
    locale: Mapped[str | None] = mapped_column(String(16))
    kek_id: Mapped[str] = mapped_column(String(32))
    wrapped_dek: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The WebAuthn user handle of the user's passkeys: random, made at the first passkey, so
    # that an authenticator never learns the user's id or name from it.
    passkey_handle: Mapped[bytes | None] = mapped_column(LargeBinary(64), unique=True, index=True)
    # "Passkey only": the password no longer signs this user in (webauth/passkeys/credentials.py).
    passkey_only: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set by an administrator's password reset: until the user picks a password of their own,
    # every page but the change-password page is closed to them (webauth/views/me.py).
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    accounts: Mapped[list[Account]] = relationship(back_populates="user", cascade="all, delete-orphan")

    @property
    def is_active(self) -> bool:  # Flask-Login refuses disabled users through this
        return not self.disabled


# The vault's duplicate rule, kept by the database itself: a live account is one of a kind per
# user (type and secret by their keyed fingerprint, issuer, name); the trash may hold copies.
_LIVE = text("deleted_at IS NULL")


class Account(db.Model):
    __tablename__ = "accounts"
    __table_args__ = (
        Index("ix_accounts_user_deleted", "user_id", "deleted_at"),
        Index(
            "uq_accounts_live_identity", "user_id", "secret_digest", "issuer", "name",
            unique=True, sqlite_where=_LIVE, postgresql_where=_LIVE,
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=lambda: str(uuid.uuid4()))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(8))
    issuer: Mapped[str] = mapped_column(String(255), default="")
    name: Mapped[str] = mapped_column(String(255), default="")
    secret_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    # The PIN of an mOTP or Yandex account, sealed like the secret (under its own associated
    # data, so neither opens in the other's place); None for the other types.
    pin_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    # A keyed fingerprint of the secret, so duplicates are found without opening every secret.
    secret_digest: Mapped[str] = mapped_column(String(64))
    algorithm: Mapped[str] = mapped_column(String(8), default="SHA1")
    digits: Mapped[int] = mapped_column(Integer, default=6)
    period: Mapped[int] = mapped_column(Integer, default=30)
    counter: Mapped[int] = mapped_column(BigInteger, default=0)
    note: Mapped[str] = mapped_column(Text, default="")
    favorite: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="accounts")


class SessionRecord(db.Model):
    """A signed-in browser session, recorded so it can be listed and revoked from anywhere."""

    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # SHA-256 of the random session token held in the signed cookie.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    method: Mapped[str] = mapped_column(String(16))
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reauth_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEvent(db.Model):
    """Who did what, from where. Never a secret, a code, a token or a password."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_user_at", "user_id", "at"), Index("ix_audit_type_at", "event", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    event: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    username: Mapped[str] = mapped_column(String(255), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(255), default="")
    details: Mapped[dict] = mapped_column(JSON, default=dict)


class InstanceSetup(db.Model):
    """The one row that says the first-run set-up made its administrator.

    `id` can only be 1, so of two set-up requests racing each other exactly one can insert
    it, in the same transaction as its administrator; the other fails on the primary key
    (users.create_first_admin) whatever the database.
    """

    __tablename__ = "instance_setup"
    __table_args__ = (CheckConstraint("id = 1", name="ck_instance_setup_single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    done_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    admin_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


# Administration ------------------------------------------------------------------------------

# Sign-in history looks up failed sign-ins by the name typed (they carry no user id).
Index("ix_audit_username_at", AuditEvent.username, AuditEvent.at)


class Setting(db.Model):
    """One value of the settings page; a setting without a row has its default from the config."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[bool | int] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


# Offline copies ------------------------------------------------------------------------------


class OfflineDevice(db.Model):
    """A device (a browser profile) that holds an offline copy of its user's vault.

    The copy itself never reaches the server; this row lets the user and administrators see
    where copies are, and lets a device prove with its token that it may refresh its copy.
    Ending a record (`ended_at`) makes the device delete its copy when it next comes online.
    """

    __tablename__ = "offline_devices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=lambda: str(uuid.uuid4()))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # SHA-256 of the random token the device keeps beside its copy.
    token_hash: Mapped[str] = mapped_column(String(64))
    # "Chrome · Android": browser and system from the user agent when the copy was turned on.
    label: Mapped[str] = mapped_column(String(64), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    refreshed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # forgotten, signed-out, wrong-pin, removed (by the user from another device) or revoked (by an admin)
    end_reason: Mapped[str | None] = mapped_column(String(16))


# Passkeys ---------------------------------------------------------------------------------


class Passkey(db.Model):
    """A WebAuthn credential (a passkey) a user registered to sign in without a password.

    Only the public half is here: the private key never leaves the authenticator. The sign
    count is what the authenticator last reported; one that goes backwards is refused
    (a cloned authenticator, webauth/passkeys/credentials.py).
    """

    __tablename__ = "passkeys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=lambda: str(uuid.uuid4()))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    credential_id: Mapped[bytes] = mapped_column(LargeBinary(1023), unique=True)
    # The COSE public key, as the authenticator gave it at registration.
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    name: Mapped[str] = mapped_column(String(64))
    # How the browser may reach the authenticator ("internal", "hybrid", "usb"...), a hint for sign-in.
    transports: Mapped[list] = mapped_column(JSON, default=list)
    aaguid: Mapped[str] = mapped_column(String(36), default="")
    # Whether the authenticator said the passkey is synced (backed up) to other devices.
    backed_up: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PasskeyChallenge(db.Model):
    """A WebAuthn challenge handed to a browser, waiting for its one answer.

    Kept here, not in the (client-side) session cookie, so that it can be used once: the
    answer deletes the row, and a replayed answer finds none. It is bound to what asked for
    it: a signed-in session (adding a passkey, confirming it is you) or, for signing in, a
    random value kept in that browser's session cookie (`browser_hash` is its SHA-256).
    """

    __tablename__ = "passkey_challenges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    challenge: Mapped[bytes] = mapped_column(LargeBinary(64), unique=True)
    # "register", "signin" or "reauth".
    purpose: Mapped[str] = mapped_column(String(16))
    session_id: Mapped[int | None] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    browser_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


# Casdoor ----------------------------------------------------------------------------------


class CasdoorLink(db.Model):
    """A user's tie to their Casdoor user: tokens, the last synced list, the sync status and lease.

    Tokens and the base snapshot are sealed with the user's data key (crypto.seal_secret),
    so a database dump alone reveals none of them. `lock_token`/`locked_until` are a lease
    taken with one conditional UPDATE, so one sync per user runs at a time in all processes
    (webauth/casdoor/sync.py explains why a lease rather than a held row lock).
    """

    __tablename__ = "casdoor_links"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    # Casdoor's `owner/name`, refreshed at each sign-in: the id get-user and update-user take.
    casdoor_id: Mapped[str] = mapped_column(String(255))
    access_token_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    access_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refresh_token_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The mfaAccounts list as both sides agreed at the last successful sync (sealed JSON).
    base_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    # A list pushed whose local half is not applied yet (sealed JSON), so the next sync can finish it.
    pending_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # "ok" or "error"; `last_error` is a kind (see casdoor/sync.py), `last_detail` Casdoor's own words.
    last_result: Mapped[str | None] = mapped_column(String(16))
    last_error: Mapped[str | None] = mapped_column(String(32))
    last_detail: Mapped[str] = mapped_column(Text, default="")
    # What the last successful sync did: counts, and the accounts it kept twice.
    last_summary: Mapped[dict] = mapped_column(JSON, default=dict)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lock_token: Mapped[str | None] = mapped_column(String(32))
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CasdoorConnectOffer(db.Model):
    """A Casdoor account waiting for its user to confirm connecting it (views/casdoor_connect.py).

    Made when a signed-in user who just entered their password comes back from Casdoor, or
    pastes a login link; nothing is linked or pushed until they confirm on a page that names
    the Casdoor account. Bound to the browser session that asked, so no other session (and no
    cross-site request) can confirm it; the tokens are sealed with the user's data key.
    """

    __tablename__ = "casdoor_connect_offers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=lambda: str(uuid.uuid4()))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    # "casdoor" (a sign-in at Casdoor) or "link" (a login link).
    source: Mapped[str] = mapped_column(String(16))
    issuer: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(255))
    casdoor_id: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(255), default="")
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    # The access and refresh tokens and their expiry (sealed JSON).
    tokens_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class CasdoorMark(db.Model):
    """An account that Casdoor cannot hold as it is, marked by the last sync.

    `reason` is "parameters" (synced by secret only: HOTP, Steam, SHA256, 8 digits, a period
    other than 30 s), "too-long" (issuer, name or secret over Casdoor's 100 characters: not
    synced) or "type" (mOTP and Yandex: Casdoor would make TOTP codes of the secret: not synced).
    """

    __tablename__ = "casdoor_marks"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(16))


# Organising accounts ---------------------------------------------------------------------------

# Which accounts are in which groups; an account may be in several.
account_groups = db.Table(
    "account_groups",
    db.Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
    db.Column("group_id", ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Group(db.Model):
    """A user's named group of accounts. Groups are made by naming them on an account and
    removed when no account (live or in the trash) is left in them."""

    __tablename__ = "groups"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_groups_user_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AccountIcon(db.Model):
    """An account's own choice of icon; without a row the icon follows the issuer.

    `kind` is "custom" (an uploaded image, re-encoded to PNG on the server: `data`) or "letter"
    (the coloured letter even where a brand icon would match). Icons are not secret, so they
    are stored in clear; they belong to their account and go with it.
    """

    __tablename__ = "account_icons"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    mime: Mapped[str | None] = mapped_column(String(32))
    # Loaded only when the image itself is served: the list needs the kind and the digest.
    data: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    # A short digest of `data`, put in the icon's URL so a new upload is never served from a cache.
    digest: Mapped[str] = mapped_column(String(16), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# Declared here rather than in Account so that this section stays self-contained. The list draws
# every account's icon, so it comes in the same query; groups are loaded when asked for.
Account.groups = relationship(  # type: ignore[attr-defined]
    Group, secondary=account_groups, order_by=lambda: Group.name
)
Account.icon = relationship(  # type: ignore[attr-defined]
    AccountIcon, uselist=False, cascade="all, delete-orphan", lazy="joined"
)


# Import previews -----------------------------------------------------------------------------


class PendingImport(db.Model):
    """An import between its upload and its confirmation (docs/import-export.md).

    `stage` is "password" (the uploaded file, waiting for the password that opens it) or
    "preview" (the entries read from it, waiting for the user's choice). The payload is
    sealed under the user's data key, never stored in clear; the row is deleted when the
    import is confirmed or cancelled, and rows past `expires_at` are deleted on sight.
    """

    __tablename__ = "pending_imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=lambda: str(uuid.uuid4()))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(String(16))
    format_id: Mapped[str | None] = mapped_column(String(32))
    filename: Mapped[str] = mapped_column(String(255), default="")
    payload_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class ImportInProgress(db.Model):
    """A user's import being read or added right now, in whichever process (transfer/guard.py).

    The primary key allows one per user; `token` tells the holder's own marker from a later one,
    and a marker older than `limits.IMPORT_MARKER_LIFETIME` is one a dead process left behind.
    """

    __tablename__ = "imports_in_progress"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    token: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)


# Operations ------------------------------------------------------------------------------------


class Heartbeat(db.Model):
    """One row that `/healthz` writes, so a database that answers but cannot be written shows as down."""

    __tablename__ = "heartbeat"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    beat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# Scheduled backups -----------------------------------------------------------------------------


class BackupPlan(db.Model):
    """A user's scheduled backups (webauth/backups/): the Aegis password slot, the targets, the last outcome.

    The backup password itself is never stored. `slot` is the Aegis password slot made from it
    once (scrypt around the backup master key); the master key is sealed under the user's data
    key, so the scheduled run writes a vault only that password opens. The WebDAV password is
    sealed the same way. `state_digest` is a digest of the vault's revisions at the last backup,
    so an unchanged vault is not written again.
    """

    __tablename__ = "backup_plans"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    # The user's folder under WEBAUTH_BACKUP_DIR (and on an instance-wide WebDAV target), fixed once.
    folder: Mapped[str] = mapped_column(String(255), unique=True)
    slot: Mapped[dict] = mapped_column(JSON)
    master_key_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    password_set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    webdav_url: Mapped[str] = mapped_column(String(1024), default="")
    webdav_username: Mapped[str] = mapped_column(String(255), default="")
    webdav_password_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    state_digest: Mapped[str] = mapped_column(String(64), default="")
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_backup_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_file: Mapped[str] = mapped_column(String(255), default="")
    last_size: Mapped[int] = mapped_column(BigInteger, default=0)
    last_accounts: Mapped[int] = mapped_column(Integer, default=0)
    # A kind (see backups/status.py), or None when the last attempt went well.
    last_error: Mapped[str | None] = mapped_column(String(32))
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the user stopped their backups, keeping the files: runs skip the plan until they resume.
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class BackupRemoval(db.Model):
    """Backups owed a removal (webauth/backups/removal.py): a deleted user's, or a user's who stopped
    their backups and chose to delete them.

    Written in the transaction that deletes the user (or the plan), so no crash and no WebDAV
    outage forgets a file: `flask backups run --all` works through the rows, retrying each run,
    and deletes a row once its target holds none of those backups. `user_id` is no foreign key:
    the user is usually gone. When a plan owns `folder` again (the user started anew), only the
    backups made up to `requested_at` go.
    """

    __tablename__ = "backup_removals"
    __table_args__ = (UniqueConstraint("folder", "target", name="uq_backup_removals_folder_target"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer)
    username: Mapped[str] = mapped_column(String(255))
    folder: Mapped[str] = mapped_column(String(255))
    # "folder" (under WEBAUTH_BACKUP_DIR) or "instance-webdav".
    target: Mapped[str] = mapped_column(String(32))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(64))
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# Personal access tokens -------------------------------------------------------------------------


class AccessToken(db.Model):
    """A personal access token: what a script or an extension shows the API instead of a session.

    Only the SHA-256 of the token is stored (the token is 256 random bits, so a fast hash is
    as good as a slow one): a database dump lets nobody call the API. Revoking deletes the row,
    so the next request with the token is refused in every process; the audit keeps the record.
    """

    __tablename__ = "access_tokens"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_access_tokens_user_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # "read" (codes and accounts) or "write" (also add, change, delete).
    scope: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Written at most once a minute per token (tokens.LAST_USE_RESOLUTION), not on every call.
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_ip: Mapped[str] = mapped_column(String(64), default="")


class ShareLink(db.Model):
    """A time-limited link that shows one account's live code to whoever holds it (sharelinks/).

    The link's token is 256 random bits; only its keyed digest is stored, so neither a
    database dump nor the audit log opens a link. A link ends at `expires_at`, when revoked
    (`revoked_at`, and `ended` says why: "revoked" by the owner, "trashed" with its account),
    and is suspended while its owner is disabled. Deleting the account or the user deletes it.
    """

    __tablename__ = "share_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The account's `secret_digest` when the link was made: a new secret key or type ends the link.
    secret_digest: Mapped[str] = mapped_column(String(64))
    # Whether the page shows the account's name beside its issuer (the owner's choice).
    show_name: Mapped[bool] = mapped_column(Boolean, default=False)
    minutes: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended: Mapped[str] = mapped_column(String(16), default="")
    views: Mapped[int] = mapped_column(Integer, default=0)
    # The last view the audit recorded: a page refreshing its code is one view, not one per period.
    last_view_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_view_ip: Mapped[str] = mapped_column(String(64), default="")
