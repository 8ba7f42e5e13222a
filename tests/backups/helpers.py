"""What the backup tests share: a rich vault (groups, notes, favorite, icon, HOTP, Steam), a
backup password, one run of a user's backup at a given moment, and where its files are."""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime

from flask import current_app
from PIL import Image
from sqlalchemy import select

from webauth.backups import plan
from webauth.backups.run import BackupSettings, backup_user
from webauth.extensions import db
from webauth.keys import keyring
from webauth.models import BackupPlan, User
from webauth.otp import Algorithm, OtpParams, OtpType
from webauth.otpauth import AccountSpec, decode_secret
from webauth.vault import Vault

PASSWORD = "backup password one"
NEW_PASSWORD = "backup password two"
T0 = datetime(2026, 3, 1, 3, 15, tzinfo=UTC)


def _png(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), colour).save(out, "PNG")
    return out.getvalue()


SPECS = [
    AccountSpec(
        issuer="Acme",
        name="alice@example.com",
        params=OtpParams(OtpType.TOTP, decode_secret("JBSWY3DPEHPK3PXP")),
        note="recovery codes in the safe",
        groups=("Work", "Mail"),
        favorite=True,
        icon=_png((200, 30, 30)),
    ),
    AccountSpec(
        issuer="Globex",
        name="bob",
        params=OtpParams(OtpType.TOTP, decode_secret("KRSXG5CTMVRXEZLU"), Algorithm.SHA256, digits=8, period=60),
        groups=("Work",),
    ),
    AccountSpec(
        issuer="Initech",
        name="carol",
        params=OtpParams(OtpType.HOTP, decode_secret("GEZDGNBVGY3TQOJQ"), counter=42),
        note="hardware token",
    ),
    AccountSpec(issuer="Steam", name="dave", params=OtpParams(OtpType.STEAM, decode_secret("MFRGGZDFMZTWQ2LK"))),
]


def vault_of(username: str) -> Vault:
    return Vault(db.session.scalar(select(User).where(User.username == username)), keyring())


def fill(app, username: str = "alice", specs=SPECS) -> None:
    with app.app_context():
        vault_of(username).add_many(specs, source="test")
        db.session.commit()


def set_password(app, username: str = "alice", password: str = PASSWORD) -> None:
    with app.app_context():
        plan.set_password(vault_of(username), password)
        db.session.commit()


def run(app, username: str = "alice", at: datetime = T0):
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        outcome = backup_user(user, keyring(), BackupSettings.from_config(current_app.config), at)
        db.session.commit()
        return outcome


def folder_of(app, backup_dir, username: str = "alice"):
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        return backup_dir / db.session.get(BackupPlan, user.id).folder


def backups_in(folder) -> list[str]:
    return sorted(os.listdir(folder)) if folder.exists() else []


def edit_note(app, note: str, username: str = "alice") -> None:
    with app.app_context():
        vault = vault_of(username)
        account = vault.accounts()[0]
        spec = vault.spec(account)
        vault.update(account.uuid, AccountSpec(**{**spec.__dict__, "note": note}))
        db.session.commit()
