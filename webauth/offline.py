"""The offline copy's server side: who may have one, what goes in it, which devices hold one.

The browser seals the vault under a PIN the server never sees (static/js/offline-crypto.js,
docs/offline-blob.md) and keeps it in IndexedDB. The server's part is small: hand the vault
over only to a freshly re-authenticated session (the views check that), keep one record per
device so copies can be listed and ended, let a device refresh its copy with the token it got
when the copy was turned on, and tell pages when a copy is out of date (`vault_revision`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable

from flask import current_app
from sqlalchemy import Row, select

from webauth import audit, clock
from webauth.audit import client_agent, client_ip
from webauth.extensions import db
from webauth.models import Account, OfflineDevice, User, utcnow
from webauth.otp import OtpType, code_at
from webauth.otpauth import encode_secret
from webauth.settings import offline_allowed
from webauth.vault import Vault

__all__ = [
    "END_REASONS",
    "active_device",
    "device_label",
    "enable_device",
    "end_device",
    "offline_allowed",
    "pin_attempts",
    "record_refresh",
    "snapshot",
    "user_devices",
    "vault_revision",
]

# The inner document's version (docs/offline-blob.md, "The vault inside").
DOCUMENT_VERSION = 1
MAX_PIN_ATTEMPTS = 100
# Why a device's record ended. The first three are reported by the device itself.
END_REASONS = ("forgotten", "signed-out", "wrong-pin", "removed", "revoked")

_BROWSERS = (
    ("Edg", "Edge"),
    ("OPR/", "Opera"),
    ("SamsungBrowser/", "Samsung Internet"),
    ("Firefox/", "Firefox"),
    ("FxiOS/", "Firefox"),
    ("CriOS/", "Chrome"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("CrOS", "ChromeOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("Linux", "Linux"),
)


def pin_attempts() -> int:
    """Wrong PINs in a row after which a device wipes its copy (`WEBAUTH_OFFLINE_PIN_ATTEMPTS`)."""
    return min(max(int(current_app.config["WEBAUTH_OFFLINE_PIN_ATTEMPTS"]), 1), MAX_PIN_ATTEMPTS)


# The account fields `vault_revision` digests; `Vault.columns(REVISION_FIELDS)` reads just these.
REVISION_FIELDS = (
    "uuid", "revision", "type", "issuer", "name", "algorithm", "digits", "period", "counter", "position", "favorite",
)


def vault_revision(accounts: Iterable[Account] | Iterable[Row]) -> str:
    """A short digest of everything an offline copy holds of these accounts, in list order.

    The code list carries it, so a page that keeps a copy sees at once when the copy no longer
    matches the vault (an account added, edited, deleted, reordered, an HOTP counter moved)
    without asking the server anything. Secrets are left out: an edit of one bumps `revision`.
    Accounts, or rows of `Vault.columns(REVISION_FIELDS)` (those fields in that order), give the same digest.
    """
    digest = hashlib.sha256()
    for account in accounts:
        if isinstance(account, Row):
            fields = tuple(account)
        else:
            fields = tuple(getattr(account, name) for name in REVISION_FIELDS)
        digest.update(repr(fields).encode())
    return digest.hexdigest()[:16]


# Whole-vault revisions remembered per app, by user and list signature (`Vault.list_state`).
REVISION_CACHE_SIZE = 4096


def whole_vault_revision(vault: Vault, signature: str) -> str:
    """`vault_revision` of the whole vault in its own order, where `signature` is the vault's
    list signature (`Vault.list_state`, read before this call).

    Every change of the vault changes the signature, so a search or the next page of a big
    vault reuses the revision the last list computed instead of reading every account again.
    """
    cache: dict[tuple[int, str], str] = current_app.extensions.setdefault("webauth_revisions", {})
    key = (vault.user.id, signature)
    revision = cache.get(key)
    if revision is None:
        revision = vault_revision(vault.columns(REVISION_FIELDS))
        if len(cache) >= REVISION_CACHE_SIZE:
            cache.clear()
        cache[key] = revision
    return revision


def snapshot(vault: Vault) -> tuple[dict, str]:
    """The vault JSON of docs/offline-blob.md for the browser to seal, and its revision.

    `server_offset_ms` is 0 here: only the browser can measure its clock against
    `created_ms`, and it fills the field in before sealing.
    """
    accounts = vault.accounts()
    items = []
    for account in accounts:
        params = vault.params(account)
        items.append(
            {
                "uuid": account.uuid,
                "type": params.type.value,
                "issuer": account.issuer,
                "name": account.name,
                "secret": encode_secret(params.secret),
                "algorithm": params.algorithm.value,
                "digits": params.digits,
                "period": params.period,
                "counter": params.counter,
                "pin": params.pin,
                "next_code": code_at(params) if params.type is OtpType.HOTP else None,
            }
        )
    document = {
        "version": DOCUMENT_VERSION,
        "created_ms": int(clock.now() * 1000),
        "server_offset_ms": 0,
        "accounts": items,
    }
    return document, vault_revision(accounts)


def device_label(user_agent: str) -> str:
    """"Chrome · Android": enough for a person to recognise their device in a list."""
    browser = next((name for marker, name in _BROWSERS if marker in user_agent), "")
    system = next((name for marker, name in _SYSTEMS if marker in user_agent), "")
    return " · ".join(part for part in (browser, system) if part)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def enable_device(user: User) -> tuple[OfflineDevice, str]:
    """Record that this browser now holds an offline copy; returns the record and its token.

    The token is shown once, to the device, which sends it back to refresh its copy; only its
    hash is stored. Audited as `offline.enable` (the device id and label, never the vault).
    """
    token = secrets.token_urlsafe(32)
    agent = client_agent()
    device = OfflineDevice(
        user_id=user.id, token_hash=_token_hash(token), label=device_label(agent), ip=client_ip(), user_agent=agent
    )
    db.session.add(device)
    db.session.flush()
    audit.record("offline.enable", user=user, details={"device": device.uuid, "label": device.label})
    return device, token


def active_device(user: User, device_uuid: str, token: str | None = None) -> OfflineDevice | None:
    """The user's device record if it has not ended and, when a token is given, the token fits.

    Another user's device is the same as no device.
    """
    device = db.session.scalar(
        select(OfflineDevice).where(
            OfflineDevice.uuid == device_uuid, OfflineDevice.user_id == user.id, OfflineDevice.ended_at.is_(None)
        )
    )
    if device is None:
        return None
    if token is not None and not hmac.compare_digest(device.token_hash, _token_hash(token)):
        return None
    return device


def user_devices(user: User) -> list[OfflineDevice]:
    """The user's devices that hold a copy, the most recently refreshed first."""
    query = (
        select(OfflineDevice)
        .where(OfflineDevice.user_id == user.id, OfflineDevice.ended_at.is_(None))
        .order_by(OfflineDevice.refreshed_at.desc(), OfflineDevice.id.desc())
    )
    return list(db.session.scalars(query))


def record_refresh(device: OfflineDevice, user: User) -> None:
    """The device fetched the vault again to re-seal its copy: audited like the first time."""
    device.refreshed_at = utcnow()
    audit.record("offline.refresh", user=user, details={"device": device.uuid})


def end_device(device: OfflineDevice, user: User, reason: str) -> None:
    """End a device's record: it may no longer refresh, and wipes its copy when it next asks."""
    if reason not in END_REASONS:
        raise ValueError(f"unknown reason {reason!r}")
    device.ended_at = utcnow()
    device.end_reason = reason
    audit.record("offline.forget", user=user, details={"device": device.uuid, "reason": reason})
