"""A user's backup plan: the backup password turned into an Aegis slot once, and the targets.

The password is used once, to derive an Aegis password slot (scrypt, Aegis's parameters) around
a fresh random backup master key. The slot goes into every backup as it is; the master key is
sealed under the user's data key. So the scheduled run can write a vault that only the password
opens, without knowing the password, and the format is exactly as strong as a vault Aegis
writes itself. A new password makes a new slot and a new master key: backups made before keep
opening with the old password only.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask_babel import gettext as _
from sqlalchemy import select

from webauth import audit
from webauth.extensions import db
from webauth.models import Account, BackupPlan, User, utcnow
from webauth.transfer.aegis import password_slot
from webauth.vault import Vault

MIN_PASSWORD = 8
MAX_PASSWORD = 1024
MAX_URL = 1024
# What the master key and the WebDAV password are sealed as (vault.seal_blob's purpose).
_MASTER_KEY = "backup-master-key"
_WEBDAV_PASSWORD = "backup-webdav-password"  # noqa: S105 (a name, not a password)


class PlanError(ValueError):
    """A backup password or target that cannot be used; the message says why, for the user."""


def plan_of(user: User) -> BackupPlan | None:
    return db.session.get(BackupPlan, user.id)


def _folder_name(user: User) -> str:
    """The user's folder: their name made safe for any file system, and their id, so it stays unique."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", user.username).strip(".-")[:64] or "user"
    return f"{slug}-{user.id}"


def set_password(vault: Vault, password: str) -> BackupPlan:
    """Start (or re-key) the user's backups under `password`: a new master key and a new slot."""
    if len(password) < MIN_PASSWORD:
        raise PlanError(_("The backup password needs at least %(num)d characters.", num=MIN_PASSWORD))
    if len(password) > MAX_PASSWORD:
        raise PlanError(_("The backup password may have at most %(num)d characters.", num=MAX_PASSWORD))
    master_key = AESGCM.generate_key(bit_length=256)
    slot = password_slot(master_key, password)
    plan = plan_of(vault.user)
    replaced = plan is not None
    if plan is None:
        plan = BackupPlan(user_id=vault.user.id, folder=_folder_name(vault.user), webdav_url="", webdav_username="")
        db.session.add(plan)
    plan.slot = slot
    plan.master_key_sealed = vault.seal_blob(_MASTER_KEY, master_key)
    plan.password_set_at = utcnow()
    # A new password starts stopped backups again: the user asked for backups under it.
    plan.stopped_at = None
    # The next run writes a backup under the new slot whatever the vault's state.
    plan.state_digest = ""
    audit.record("backup.password", user=vault.user, details={"replaced": replaced})
    return plan


def stop_keeping_files(vault: Vault, plan: BackupPlan) -> None:
    """Stop the user's backups and keep what was written: runs skip the plan until `resume`, and
    the files stay where they are (the latest can still be downloaded). Stopping and deleting the
    files is removal.stop_and_delete."""
    if plan.stopped_at is None:
        plan.stopped_at = utcnow()
        audit.record("backup.stop", user=vault.user, details={"files": "kept"})


def resume(vault: Vault, plan: BackupPlan) -> None:
    """Back up again on the schedule, under the same backup password."""
    if plan.stopped_at is not None:
        plan.stopped_at = None
        audit.record("backup.resume", user=vault.user)


def master_key(vault: Vault, plan: BackupPlan) -> bytes:
    return vault.open_blob(_MASTER_KEY, plan.master_key_sealed)


def check_webdav_url(url: str) -> str:
    """A WebDAV folder's address, http(s) without credentials in it (they have their own fields)."""
    url = url.strip()
    if len(url) > MAX_URL:
        raise PlanError(_("The address may have at most %(num)d characters.", num=MAX_URL))
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise PlanError(_("The address must start with https:// (or http://) and name a server."))
    if parts.username or parts.password:
        raise PlanError(_("Put the user name and password in their own fields, not in the address."))
    if parts.query or parts.fragment:
        raise PlanError(_("The address of a folder has no ?query or #fragment."))
    return url if url.endswith("/") else url + "/"


def set_webdav(vault: Vault, plan: BackupPlan, url: str, username: str, password: str | None) -> None:
    """Send the user's backups to a WebDAV folder too; `password` None keeps the stored one."""
    plan.webdav_url = check_webdav_url(url)
    plan.webdav_username = username.strip()[:255]
    if password is not None:
        plan.webdav_password_sealed = vault.seal_blob(_WEBDAV_PASSWORD, password.encode("utf-8"))
    # Upload the current vault at the next run, even if it has not changed.
    plan.state_digest = ""
    audit.record("backup.webdav", user=vault.user, details={"target": "set"})


def clear_webdav(vault: Vault, plan: BackupPlan) -> None:
    plan.webdav_url, plan.webdav_username, plan.webdav_password_sealed = "", "", None
    audit.record("backup.webdav", user=vault.user, details={"target": "removed"})


def webdav_password(vault: Vault, plan: BackupPlan) -> str:
    if plan.webdav_password_sealed is None:
        return ""
    return vault.open_blob(_WEBDAV_PASSWORD, plan.webdav_password_sealed).decode("utf-8")


def state_digest(user: User, plan: BackupPlan) -> str:
    """A digest of everything a backup holds, without opening a secret: every live account's
    uuid and revision (each change of an account bumps it), and the slot the backup is sealed for."""
    rows = db.session.execute(
        select(Account.uuid, Account.revision)
        .where(Account.user_id == user.id, Account.deleted_at.is_(None))
        .order_by(Account.uuid)
    )
    digest = hashlib.sha256(str(plan.slot.get("uuid")).encode())
    for account_uuid, revision in rows:
        digest.update(f"\n{account_uuid}:{revision}".encode())
    return digest.hexdigest()
