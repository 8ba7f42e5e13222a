"""A user's passkeys: adding, signing in, confirming it is you, naming, removing, "passkey only".

The ceremonies are the `webauthn` library's (options, then the verification of the
browser's answer against the challenge, the relying party id, the origin and the public
key); this module decides what they are for and keeps the records:

- Adding a passkey needs a recent re-authentication (the views check it) and makes a
  discoverable credential (a resident key), so that signing in needs no username.
- Signing in with a passkey alone counts as a re-authentication only when the authenticator
  verified the user (the UV flag: a fingerprint, a face, a device PIN); a touch alone signs
  in but does not reveal secrets.
- The sign count must go up (or stay 0 on authenticators that do not count): a count that
  goes backwards means a copy of the credential was used, and is refused and audited. This
  is checked here, after the library verified the signature, so that only a genuine answer
  can raise the alarm (the library checks the count before the signature).
- Every change is audited by the passkey's id and name; never its public key or credential id.
- "Passkey only" turns password sign-in off for the user. It needs a passkey; removing the
  last passkey turns it off again (and says so in the audit log), so that a user whose
  passkey is lost, or an administrator helping them, is never locked out of the password.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.authentication.verify_authentication_response import VerifiedAuthentication
from webauthn.helpers import (
    bytes_to_base64url,
    parse_authentication_credential_json,
    parse_client_data_json,
    parse_registration_credential_json,
)
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticationCredential,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    RegistrationCredential,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from webauth import audit
from webauth.audit import client_agent
from webauth.extensions import db
from webauth.models import Passkey, SessionRecord, User, utcnow
from webauth.offline import device_label
from webauth.passkeys import challenges, relying_party

MAX_PASSKEYS = 20
MAX_NAME_LENGTH = 64
# A hint to the browser, in milliseconds: the challenge itself lives challenges.LIFETIME.
TIMEOUT_MS = 120_000
USER_HANDLE_BYTES = 32
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_TRANSPORTS = {transport.value for transport in AuthenticatorTransport}


class PasskeyError(Exception):
    """A passkey request refused; `reason` says why, for the views' words and the audit log.

    invalid (malformed, or failed verification), expired (no live challenge for it), unknown
    (no such passkey), counter (its sign count went backwards), disabled (the user is), not-
    verified (re-authentication without user verification), duplicate, limit, no-passkey,
    not-local (a user without a password here).
    """

    def __init__(self, reason: str, user: User | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.user = user


@dataclass(frozen=True)
class SignIn:
    user: User
    passkey: Passkey
    user_verified: bool


def can_have_passkeys(user: User) -> bool:
    """Local users: those with a password here (Casdoor and the proxy vouch for the others)."""
    return bool(user.password_hash)


def user_passkeys(user: User) -> list[Passkey]:
    return list(db.session.scalars(select(Passkey).where(Passkey.user_id == user.id).order_by(Passkey.created_at)))


def credential_ids(user: User) -> list[str]:
    """The user's credential ids in base64url, as a page asks an authenticator for one of them."""
    return [bytes_to_base64url(passkey.credential_id) for passkey in user_passkeys(user)]


def passkey_count(user: User) -> int:
    return db.session.scalar(select(func.count(Passkey.id)).where(Passkey.user_id == user.id)) or 0


def clean_name(name: str | None, fallback: str = "") -> str:
    """A passkey's name: one line, at most MAX_NAME_LENGTH characters; else the browser and system."""
    cleaned = " ".join(_CONTROL.sub(" ", name or "").split())[:MAX_NAME_LENGTH]
    return cleaned or fallback or device_label(client_agent()) or "Passkey"


def _options(options: Any) -> dict:
    """The library's options as the JSON object the browser's WebAuthn call takes."""
    return json.loads(options_to_json(options))


def _descriptors(passkeys: list[Passkey]) -> list[PublicKeyCredentialDescriptor]:
    return [
        PublicKeyCredentialDescriptor(
            id=passkey.credential_id,
            transports=[AuthenticatorTransport(name) for name in passkey.transports if name in _TRANSPORTS] or None,
        )
        for passkey in passkeys
    ]


# Adding --------------------------------------------------------------------------------------


def _user_handle(user: User) -> bytes:
    """The user's WebAuthn handle, made once: two first passkeys at once get the same one."""
    if user.passkey_handle is None:
        db.session.execute(
            update(User)
            .where(User.id == user.id, User.passkey_handle.is_(None))
            .values(passkey_handle=secrets.token_bytes(USER_HANDLE_BYTES))
        )
        db.session.refresh(user)  # this update's handle, or the one another request committed first
    return user.passkey_handle


def registration_options(user: User, record: SessionRecord) -> dict:
    """What `navigator.credentials.create` needs to make a discoverable passkey for this user."""
    if not can_have_passkeys(user):
        raise PasskeyError("not-local", user)
    existing = user_passkeys(user)
    if len(existing) >= MAX_PASSKEYS:
        raise PasskeyError("limit", user)
    handle = _user_handle(user)
    rp = relying_party.current()
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_id=handle,
        user_name=user.username,
        user_display_name=user.display_name or user.username,
        challenge=challenges.issue("register", record),
        timeout=TIMEOUT_MS,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=_descriptors(existing),
    )
    return _options(options)


def _parsed_registration(credential: Any) -> tuple[RegistrationCredential, bytes]:
    """The browser's answer, parsed, and the challenge it answers (invalid when unreadable)."""
    try:
        parsed = parse_registration_credential_json(credential)
        return parsed, parse_client_data_json(parsed.response.client_data_json).challenge
    except Exception:
        raise PasskeyError("invalid") from None


def register(user: User, record: SessionRecord, credential: Any, name: str | None) -> Passkey:
    """Check the browser's answer to `registration_options` and keep the new passkey."""
    if not can_have_passkeys(user):
        raise PasskeyError("not-local", user)
    parsed, challenge = _parsed_registration(credential)
    if not challenges.consume(challenge, "register", record):
        raise PasskeyError("expired", user)
    rp = relying_party.current()
    try:
        verified = verify_registration_response(
            credential=parsed, expected_challenge=challenge, expected_rp_id=rp.id, expected_origin=rp.origin
        )
    except Exception:
        raise PasskeyError("invalid", user) from None
    if passkey_count(user) >= MAX_PASSKEYS:
        raise PasskeyError("limit", user)
    transports = [transport.value for transport in (parsed.response.transports or [])][: len(_TRANSPORTS)]
    passkey = Passkey(
        user_id=user.id,
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        name=clean_name(name),
        transports=transports,
        aaguid=verified.aaguid,
        backed_up=verified.credential_backed_up,
        created_at=utcnow(),
    )
    db.session.add(passkey)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise PasskeyError("duplicate", user) from None
    audit.record(
        "passkey.add", user=user, details={"passkey": passkey.uuid, "name": passkey.name, "synced": passkey.backed_up}
    )
    return passkey


# Signing in and confirming it is you ---------------------------------------------------------


def signin_options() -> dict:
    """Options for a sign-in with any passkey of this site (discoverable: no username asked)."""
    options = generate_authentication_options(
        rp_id=relying_party.current().id,
        challenge=challenges.issue("signin"),
        timeout=TIMEOUT_MS,
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    return _options(options)


def reauth_options(user: User, record: SessionRecord) -> dict:
    """Options to confirm it is you with one of your passkeys, with user verification required."""
    passkeys = user_passkeys(user)
    if not passkeys:
        raise PasskeyError("no-passkey", user)
    options = generate_authentication_options(
        rp_id=relying_party.current().id,
        challenge=challenges.issue("reauth", record),
        timeout=TIMEOUT_MS,
        allow_credentials=_descriptors(passkeys),
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return _options(options)


def _parsed_assertion(credential: Any) -> tuple[AuthenticationCredential, bytes]:
    try:
        parsed = parse_authentication_credential_json(credential)
        return parsed, parse_client_data_json(parsed.response.client_data_json).challenge
    except Exception:
        raise PasskeyError("invalid") from None


def _verified(
    parsed: AuthenticationCredential, challenge: bytes, passkey: Passkey, user: User
) -> VerifiedAuthentication:
    """The library's verification, then the sign count, moved forward in one conditional UPDATE.

    The library is given a stored count of 0, which turns its own count check off: it runs
    before the signature check, and a count that goes backwards is an alarm only when the
    signature proves the answer came from the credential. Of two answers racing with the
    same count, only one moves it.
    """
    rp = relying_party.current()
    try:
        verified = verify_authentication_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            credential_public_key=passkey.public_key,
            credential_current_sign_count=0,
        )
    except Exception:
        raise PasskeyError("invalid", user) from None
    received = verified.new_sign_count
    moved = db.session.execute(
        update(Passkey)
        .where(
            Passkey.id == passkey.id,
            (Passkey.sign_count < received) | ((Passkey.sign_count == 0) & (received == 0)),
        )
        .values(sign_count=received, last_used_at=utcnow(), backed_up=verified.credential_backed_up)
    )
    if moved.rowcount != 1:
        db.session.rollback()
        audit.record(
            "passkey.counter_regressed",
            user=user,
            details={"passkey": passkey.uuid, "name": passkey.name, "stored": passkey.sign_count, "received": received},
        )
        raise PasskeyError("counter", user)  # the caller commits this event with its refusal
    return verified


def authenticate(credential: Any) -> SignIn:
    """Check an answer to `signin_options`: the passkey's user, and whether they were verified.

    In the caller's transaction (the sign-in that follows commits); refusals are audited by
    the caller, which knows the words.
    """
    parsed, challenge = _parsed_assertion(credential)
    if not challenges.consume(challenge, "signin"):
        raise PasskeyError("expired")
    passkey = db.session.scalar(select(Passkey).where(Passkey.credential_id == parsed.raw_id))
    if passkey is None:
        raise PasskeyError("unknown")
    user = db.session.get(User, passkey.user_id)
    handle = parsed.response.user_handle
    if handle is not None and handle != user.passkey_handle:
        raise PasskeyError("invalid", user)
    verified = _verified(parsed, challenge, passkey, user)
    if user.disabled:
        raise PasskeyError("disabled", user)
    return SignIn(user=user, passkey=passkey, user_verified=verified.user_verified)


def reauthenticate(user: User, record: SessionRecord, credential: Any) -> Passkey:
    """Check an answer to `reauth_options`: one of this user's passkeys, with the user verified."""
    parsed, challenge = _parsed_assertion(credential)
    if not challenges.consume(challenge, "reauth", record):
        raise PasskeyError("expired", user)
    passkey = db.session.scalar(
        select(Passkey).where(Passkey.credential_id == parsed.raw_id, Passkey.user_id == user.id)
    )
    if passkey is None:
        raise PasskeyError("unknown", user)
    verified = _verified(parsed, challenge, passkey, user)
    if not verified.user_verified:
        # The count moved (the authenticator did sign): the caller commits it with its refusal.
        raise PasskeyError("not-verified", user)
    return passkey


# Naming, removing, "passkey only" ------------------------------------------------------------


def _locked_user(user: User) -> User:
    """The user's row, locked for this transaction where the database can (PostgreSQL), so
    that two removals or a removal and "passkey only" never both miss each other."""
    return db.session.scalar(select(User).where(User.id == user.id).with_for_update()) or user


def _passkey_of(user: User, passkey_uuid: str) -> Passkey:
    passkey = db.session.scalar(select(Passkey).where(Passkey.uuid == passkey_uuid, Passkey.user_id == user.id))
    if passkey is None:
        raise PasskeyError("unknown", user)
    return passkey


def rename(user: User, passkey_uuid: str, name: str) -> Passkey:
    passkey = _passkey_of(user, passkey_uuid)
    passkey.name = clean_name(name, passkey.name)
    audit.record("passkey.rename", user=user, details={"passkey": passkey.uuid, "name": passkey.name})
    return passkey


def remove(user: User, passkey_uuid: str, *, event: str = "passkey.remove") -> bool:
    """Remove a passkey (`event`: by the user, or `admin.passkey.remove`). Returns whether
    that turned "passkey only" off, which happens with the last passkey."""
    user = _locked_user(user)
    passkey = _passkey_of(user, passkey_uuid)
    audit.record(event, user=user, details={"passkey": passkey.uuid, "name": passkey.name})
    db.session.delete(passkey)
    db.session.flush()
    turned_off = user.passkey_only and passkey_count(user) == 0
    if turned_off:
        user.passkey_only = False
        audit.record("passkey.only_off", user=user, details={"reason": "last-passkey-removed"})
    return turned_off


def set_passkey_only(user: User, on: bool) -> None:
    """Turn password sign-in off (on=True) or back on for this user; off needs no passkey, on needs one."""
    user = _locked_user(user)
    if on and passkey_count(user) == 0:
        db.session.rollback()
        raise PasskeyError("no-passkey", user)
    if user.passkey_only != on:
        user.passkey_only = on
        audit.record("passkey.only_on" if on else "passkey.only_off", user=user, details={"reason": "user"})
