"""Users, passwords and server-side sessions.

A browser session is a random token in the signed session cookie; only its SHA-256 is
stored, with who, how, from where and until when. Every request looks the token up, so
revoking a session or disabling a user takes effect on the next request in any process.

Nothing here commits: the caller owns the transaction (a view, a command, or
`auth_session`, which commits a sign-in before the cookie names it).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta
from functools import lru_cache

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import Select, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError

from webauth import audit, settings
from webauth.audit import client_agent, client_ip
from webauth.crypto import Keyring
from webauth.extensions import db
from webauth.models import InstanceSetup, SessionRecord, User, utcnow

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
USERNAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")
# Refresh `last_seen_at` at most this often, so reading a page does not always write.
LAST_SEEN_RESOLUTION = timedelta(minutes=1)


def production_hasher() -> PasswordHasher:
    """Argon2id with RFC 9106's second recommended profile (t=3, m=64 MiB, p=4)."""
    return PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=4, type=Type.ID)


_hasher = production_hasher()
# Verified against when the user does not exist, so a miss costs as long as a hit.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class UserError(ValueError):
    """A user could not be created or changed; `field` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class SetupAlreadyDone(Exception):
    """Another request made the first administrator first (see `create_first_admin`)."""


def has_users() -> bool:
    return db.session.scalar(select(func.count(User.id))) > 0


def find_user(username: str) -> User | None:
    return db.session.scalar(select(User).where(User.username == username))


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError("password", _("The password must have at least %(num)d characters.", num=MIN_PASSWORD_LENGTH))
    if len(password) > MAX_PASSWORD_LENGTH:
        raise UserError("password", _("The password must have at most %(num)d characters.", num=MAX_PASSWORD_LENGTH))


def is_configured_admin_name(username: str) -> bool:
    """Whether a name is, or looks like, one of WEBAUTH_ADMINS (letter case aside).

    Such a name makes its holder an administrator, so only an operator may hand it out: the
    set-up page, `flask users create`, or a Casdoor admin organization (admin.has_admin_role).
    Open registration and the proxy's user creation refuse it, also in another letter case,
    so that nobody holds a look-alike of an administrator's name either.
    """
    wanted = username.strip().casefold()
    return any(name.casefold() == wanted for name in current_app.config["WEBAUTH_ADMINS"])


def _checked_local_name(username: str) -> str:
    username = username.strip()
    if not USERNAME_PATTERN.fullmatch(username):
        raise UserError(
            "username",
            _("Use 1 to 64 letters, digits and . _ @ + - for the username, starting with a letter or digit."),
        )
    if find_user(username) is not None:
        raise UserError("username", _("This username is taken."))
    return username


def create_local_user(
    username: str, password: str, keyring: Keyring, *, is_admin: bool = False, self_service: bool = False
) -> User:
    """A user with a password here. `self_service` (open registration) may not take an administrator's name.

    A reserved name is refused with the same words as a taken one, so the form tells a
    stranger nothing about which names are administrators.
    """
    username = _checked_local_name(username)
    if self_service and is_configured_admin_name(username):
        raise UserError("username", _("This username is taken."))
    check_password_policy(password)
    user = User(username=username, display_name=username, password_hash=_hasher.hash(password), is_admin=is_admin)
    return _add_user(user, keyring)


def create_first_admin(username: str, password: str, keyring: Keyring) -> User:
    """The first-run administrator, in one transaction with the `instance_setup` row (the caller commits).

    That row can exist once: of two set-up requests that both found no user, the second
    waits on the first's insert (PostgreSQL's unique index, SQLite's write lock) and then
    fails on the primary key, so it raises SetupAlreadyDone and creates nobody.
    """
    username = _checked_local_name(username)
    check_password_policy(password)
    password_hash = _hasher.hash(password)  # before the transaction, which stays short
    marker = InstanceSetup(id=1, done_at=utcnow())
    db.session.add(marker)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise SetupAlreadyDone from None
    user = User(username=username, display_name=username, password_hash=password_hash, is_admin=True)
    _add_user(user, keyring)
    marker.admin_id = user.id
    audit.record("setup.done", user=user)
    return user


def create_proxy_user(username: str, keyring: Keyring) -> User:
    """A user the reverse proxy vouches for (single sign-on), without a password here.

    Named as the proxy names them, so the local username rules apply; with no password, such
    a user cannot re-authenticate until an administrator sets one (`flask users set-password`).
    A name of WEBAUTH_ADMINS is never created this way: the proxy may vouch for such a user
    only once an operator made them here.
    """
    if not USERNAME_PATTERN.fullmatch(username):
        raise UserError("username", _("The proxy's user name is not a valid username here."))
    if is_configured_admin_name(username):
        raise UserError("username", _("The proxy's user name is an administrator's name; an operator must create it."))
    if find_user(username) is not None:
        raise UserError("username", _("This username is taken."))
    return _add_user(User(username=username, display_name=username, password_hash=None), keyring)


def set_password(user: User, password: str) -> None:
    """Give a user a (new) password; their sessions are left alone (the CLI's `users set-password`)."""
    check_password_policy(password)
    user.password_hash = _hasher.hash(password)
    user.must_change_password = False
    audit.record("user.password", user=user)


def has_local_password(user: User) -> bool:
    """Whether the user can prove a password here (a Casdoor-only or proxy user cannot)."""
    return bool(user.password_hash)


def change_password(user: User, current: str, new: str, *, keep_session: int | None, end_others: bool) -> int:
    """The user's own change: the current password first, then the new one; returns sessions ended.

    Only the user's other sessions end, and only when asked (`end_others`); the session in
    use (`keep_session`) stays signed in. A wrong current password is refused before the new
    one is even looked at, so the form cannot be used to test passwords against the policy.
    """
    if not has_local_password(user):
        raise UserError("current_password", _("You have no password here to change."))
    if not verify_password(user, current):
        raise UserError("current_password", _("This is not your current password."))
    check_password_policy(new)
    if verify_password(user, new):
        raise UserError("password", _("Choose a password different from the current one."))
    user.password_hash = _hasher.hash(new)
    forced = user.must_change_password
    user.must_change_password = False
    ended = end_sessions(user.id, keep=keep_session) if end_others else 0
    audit.record("user.password.change", user=user, details={"sessions_ended": ended, "after_reset": forced})
    return ended


def reset_password(user: User, new: str, *, by: str) -> int:
    """An administrator's (or operator's) reset: a password to hand over, changed at the next sign-in.

    Every session of the user ends, since whoever held them may be why the password is
    reset; `by` ("admin" or "cli") goes in the audit event. Returns the sessions ended.
    """
    check_password_policy(new)
    user.password_hash = _hasher.hash(new)
    user.must_change_password = True
    ended = end_sessions(user.id)
    audit.record("user.password.reset", user=user, details={"by": by, "sessions_ended": ended})
    return ended


def end_sessions(user_id: int, keep: int | None = None) -> int:
    """End every open session of a user but `keep` (in the caller's transaction); returns how many."""
    query = update(SessionRecord).where(SessionRecord.user_id == user_id, SessionRecord.revoked_at.is_(None))
    if keep is not None:
        query = query.where(SessionRecord.id != keep)
    return db.session.execute(query.values(revoked_at=utcnow())).rowcount


def _add_user(user: User, keyring: Keyring) -> User:
    """Insert a user with a fresh data key; the key is wrapped once the user has an id."""
    user.kek_id, user.wrapped_dek = "", b""
    db.session.add(user)
    db.session.flush()
    user.kek_id, user.wrapped_dek, _dek = keyring.new_data_key(user.id)
    audit.record("user.create", user=user, details={"admin": user.is_admin})
    return user


def find_oidc_user(issuer: str, subject: str) -> User | None:
    """The user linked to an OpenID Connect identity; (issuer, subject) is the key, never a name."""
    return db.session.scalar(select(User).where(User.oidc_issuer == issuer, User.oidc_subject == subject))


def free_casdoor_username(casdoor_id: str, user: User | None = None) -> str:
    """`owner/name` as the username, or with a number when another user holds it already.

    Local usernames cannot contain "/", so only another Casdoor identity can collide: a
    Casdoor user deleted and made again under the same name has a new subject.
    """
    candidate, number = casdoor_id[:255], 1
    while (holder := find_user(candidate)) is not None and holder is not user:
        number += 1
        suffix = f"~{number}"
        candidate = casdoor_id[: 255 - len(suffix)] + suffix
    return candidate


def create_casdoor_user(
    issuer: str, subject: str, casdoor_id: str, display_name: str, keyring: Keyring, *, is_admin: bool
) -> User:
    """A user who signs in with Casdoor only (no password), named `owner/name`."""
    user = User(
        username=free_casdoor_username(casdoor_id),
        display_name=(display_name or casdoor_id)[:255],
        password_hash=None,
        is_admin=is_admin,
        oidc_issuer=issuer,
        oidc_subject=subject,
    )
    return _add_user(user, keyring)


def admin_organizations() -> frozenset[str]:
    """The Casdoor organizations trusted to make administrators here.

    WEBAUTH_CASDOOR_ADMIN_ORGANIZATIONS, or else the one organization allowed to sign in
    (WEBAUTH_CASDOOR_ORGANIZATION). With neither, none: any organization's users may then
    sign in, and an organization's `isAdmin` speaks for that organization only, not for
    this server.
    """
    config = current_app.config
    named = config.get("WEBAUTH_CASDOOR_ADMIN_ORGANIZATIONS") or frozenset()
    if named:
        return frozenset(named)
    organization = config.get("WEBAUTH_CASDOOR_ORGANIZATION") or ""
    return frozenset({organization}) if organization else frozenset()


def casdoor_grants_admin(organization: str, is_admin: bool) -> bool:
    """Whether Casdoor's `isAdmin` counts here for a user of this organization."""
    return is_admin and organization in admin_organizations()


def apply_casdoor_claims(user: User, organization: str, casdoor_id: str, display_name: str, *, is_admin: bool) -> None:
    """What Casdoor decides about a user at each sign-in (in the caller's transaction).

    For a user whose only way in is Casdoor, Casdoor decides the name and the admin role, so
    taking `isAdmin` away there takes the role away here at the next sign-in. A user who also
    has a password here keeps a role given here; Casdoor can only add one. `isAdmin` counts
    only from an admin organization (`admin_organizations`).
    """
    is_admin = casdoor_grants_admin(organization, is_admin)
    if user.password_hash is None:
        user.is_admin = is_admin
        user.display_name = display_name[:255]
        user.username = free_casdoor_username(casdoor_id, user)
    elif is_admin:
        user.is_admin = True


def link_oidc(user: User, issuer: str, subject: str) -> None:
    """Tie an existing user to an OpenID Connect identity (in the caller's transaction)."""
    if find_oidc_user(issuer, subject) not in (None, user):
        raise UserError("casdoor", _("This Casdoor account is already linked to another user here."))
    if user.oidc_subject is not None and (user.oidc_issuer, user.oidc_subject) != (issuer, subject):
        raise UserError("casdoor", _("Your account here is linked to another Casdoor user."))
    user.oidc_issuer, user.oidc_subject = issuer, subject
    audit.record("user.link", user=user, details={"provider": "casdoor"})


def authenticate(username: str, password: str) -> User | None:
    """The user whose password this is, or None; takes as long whether the user exists or not."""
    user = find_user(username.strip())
    stored = user.password_hash if user is not None and user.password_hash else _DUMMY_HASH
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.password_hash:
        return None
    if _hasher.check_needs_rehash(stored):
        user.password_hash = _hasher.hash(password)
    return user


def verify_password(user: User, password: str) -> bool:
    if not user.password_hash:
        return False
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(
    user: User,
    method: str,
    lifetime: timedelta,
    *,
    reauthenticated_at: datetime | None,
    details: dict | None = None,
) -> str:
    """Record a new session for `user` and return its token for the session cookie.

    `reauthenticated_at` is when this sign-in proved a password: now for a password typed
    here, Casdoor's `auth_time` when that is recent, and None for a sign-in that typed
    nothing (a header from the proxy, a login link, a Casdoor session reused): the session
    then starts without a recent re-authentication. `details` add to the audit event's.
    """
    token = secrets.token_urlsafe(32)
    now = utcnow()
    db.session.add(
        SessionRecord(
            token_hash=_token_hash(token),
            user_id=user.id,
            method=method,
            ip=client_ip(),
            user_agent=client_agent(),
            created_at=now,
            last_seen_at=now,
            reauth_at=reauthenticated_at,
            expires_at=now + lifetime,
        )
    )
    user.last_login_at = now
    audit.record("signin.success", user=user, details={"method": method, **(details or {})})
    return token


@lru_cache(maxsize=1)
def _live_session_statement() -> Select:
    """The session of `:token_hash` and its user, built once: every signed-in request runs it,
    and building it again (and its cache key) cost more than running it."""
    return (
        select(SessionRecord, User)
        .join(User, User.id == SessionRecord.user_id)
        .where(SessionRecord.token_hash == bindparam("token_hash"))
    )


def live_session(token: str | None) -> tuple[SessionRecord, User] | None:
    """The live session for a token and its user: not revoked, not expired, the user not disabled."""
    if not token:
        return None
    # One query for both: every request of a signed-in user asks this.
    found = db.session.execute(_live_session_statement(), {"token_hash": _token_hash(token)}).first()
    if found is None:
        return None
    record, user = found
    now = utcnow()
    if record.revoked_at is not None or record.expires_at <= now or user.disabled:
        return None
    if record.created_at + settings.session_lifetime() <= now or idle_locked(record, now):
        return None
    if now - record.last_seen_at > LAST_SEEN_RESOLUTION:
        record.last_seen_at = now  # the caller commits the touch (auth_session, on every request)
    return record, user


def idle_locked(record: SessionRecord, now: datetime) -> bool:
    """Whether a session went longer than the idle lock (a setting) without a request.

    `last_seen_at` lags the last request by up to LAST_SEEN_RESOLUTION, so that much is
    added to the limit: a session in use is never locked early, an idle one at most that late.
    """
    limit = settings.idle_lock()
    return limit is not None and now - record.last_seen_at > limit + LAST_SEEN_RESOLUTION


def end_session(token: str | None) -> None:
    if token:
        db.session.execute(
            update(SessionRecord)
            .where(SessionRecord.token_hash == _token_hash(token), SessionRecord.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )


def mark_reauthenticated(record: SessionRecord, at: datetime | None = None) -> None:
    """The session proved a password at `at` (default: now); the caller writes the audit event and commits."""
    record.reauth_at = at or utcnow()


def clear_reauthentication(record: SessionRecord) -> None:
    """The session's last password entry no longer counts (in the caller's transaction)."""
    record.reauth_at = None


def recently_authenticated(record: SessionRecord | None, seconds: int) -> bool:
    return (
        record is not None
        and record.reauth_at is not None
        and (utcnow() - record.reauth_at <= timedelta(seconds=seconds))
    )



def users_by_key() -> dict[str, int]:
    """How many users' data keys each key-encryption key wraps."""
    rows = db.session.execute(select(User.kek_id, func.count(User.id)).group_by(User.kek_id))
    return {kek_id: count for kek_id, count in rows}
