"""Helpers for Casdoor sync tests: a linked user, the two sides' contents, and the checks every
scenario makes (both sides converge; no secret is lost)."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask

from tests.support.casdoor_server import CasdoorServer
from webauth import users
from webauth.casdoor import oidc
from webauth.casdoor import sync as casdoor_sync
from webauth.extensions import db
from webauth.keys import keyring
from webauth.models import User, utcnow
from webauth.otp import OtpParams, OtpType
from webauth.otpauth import AccountSpec, decode_secret, encode_secret
from webauth.vault import Vault

Entry = tuple[str, str, str]  # issuer, name, secret (upper-case base32, no padding)


def norm(secret: str) -> str:
    return encode_secret(decode_secret(secret))


def link_user(app: Flask, casdoor: CasdoorServer, owner: str = "acme", name: str = "alice") -> int:
    """A webauth user linked to a Casdoor user, with fresh tokens, as a sign-in leaves it (no sync yet)."""
    tokens = casdoor.issue_token(owner, name)
    subject = casdoor.user(owner, name)["id"]
    with app.app_context():
        user = users.create_casdoor_user(
            casdoor.issuer, subject, f"{owner}/{name}", name.title(), keyring(), is_admin=False
        )
        stored = oidc.Tokens(
            tokens["access_token"], tokens["refresh_token"], utcnow() + timedelta(seconds=tokens["expires_in"])
        )
        casdoor_sync.connect(user, Vault(user, keyring()), f"{owner}/{name}", stored)
        db.session.commit()
        return user.id


def run_sync(app: Flask, user_id: int, trigger=casdoor_sync.Trigger.MANUAL, *, force: bool = True, wait: float = 0):
    with app.app_context():
        user = db.session.get(User, user_id)
        return casdoor_sync.sync_user(user, trigger, force=force, wait=wait)


def vault_entries(app: Flask, user_id: int) -> tuple[set[Entry], set[Entry]]:
    """(live, trash) of the user's vault as (issuer, name, secret)."""
    with app.app_context():
        vault = Vault(db.session.get(User, user_id), keyring())

        def entries(accounts):
            return {(a.issuer, a.name, encode_secret(vault.params(a).secret)) for a in accounts}

        return entries(vault.accounts()), entries(vault.trash())


def vault_snapshot(app: Flask, user_id: int) -> list[tuple]:
    """Everything a sync may change in the vault, to show that a failed one changed nothing."""
    with app.app_context():
        vault = Vault(db.session.get(User, user_id), keyring())
        rows = []
        for account in [*vault.accounts(), *vault.trash()]:
            rows.append((account.uuid, account.issuer, account.name, account.revision, account.deleted_at is None))
        return sorted(rows)


def remote_entries(casdoor: CasdoorServer, owner: str = "acme", name: str = "alice") -> set[Entry]:
    return {(e["issuer"], e["accountName"], norm(e["secretKey"])) for e in casdoor.mfa_accounts(owner, name) or []}


def add_local(app: Flask, user_id: int, issuer: str, name: str, secret: str, **params) -> str:
    with app.app_context():
        vault = Vault(db.session.get(User, user_id), keyring())
        spec = AccountSpec(
            issuer=issuer,
            name=name,
            params=OtpParams(type=params.pop("type", OtpType.TOTP), secret=decode_secret(secret), **params),
        )
        account = vault.add(spec)
        db.session.commit()
        return account.uuid


def find_local(app: Flask, user_id: int, issuer: str, name: str) -> str:
    with app.app_context():
        vault = Vault(db.session.get(User, user_id), keyring())
        [account] = [a for a in vault.accounts() if (a.issuer, a.name) == (issuer, name)]
        return account.uuid


def edit_local(
    app: Flask, user_id: int, issuer: str, name: str, *, secret: str | None = None, new_name: str | None = None
) -> None:
    account_id = find_local(app, user_id, issuer, name)
    with app.app_context():
        vault = Vault(db.session.get(User, user_id), keyring())
        spec = vault.spec(vault.get(account_id))
        params = OtpParams(
            type=spec.params.type,
            secret=decode_secret(secret) if secret else spec.params.secret,
            algorithm=spec.params.algorithm,
            digits=spec.params.digits,
            period=spec.params.period,
        )
        vault.update(account_id, AccountSpec(issuer=issuer, name=new_name or name, params=params))
        db.session.commit()


def delete_local(app: Flask, user_id: int, issuer: str, name: str) -> None:
    account_id = find_local(app, user_id, issuer, name)
    with app.app_context():
        Vault(db.session.get(User, user_id), keyring()).delete(account_id)
        db.session.commit()


def assert_converged(app: Flask, user_id: int, casdoor: CasdoorServer) -> None:
    live, _trash = vault_entries(app, user_id)
    remote = remote_entries(casdoor)
    assert live == remote, f"not converged:\n here only: {live - remote}\n Casdoor only: {remote - live}"
    assert len(casdoor.mfa_accounts("acme", "alice") or []) == len(remote), "Casdoor holds a duplicate"


def secrets_anywhere(app: Flask, user_id: int, casdoor: CasdoorServer) -> set[str]:
    """Every secret on either side: here (live or in the trash) or in Casdoor."""
    live, trash = vault_entries(app, user_id)
    return {entry[2] for entry in live | trash | remote_entries(casdoor)}


def assert_nothing_lost(app: Flask, user_id: int, casdoor: CasdoorServer, secrets: set[str]) -> None:
    """Every secret in `secrets` (those that existed before) is still somewhere: here, in the trash, or in Casdoor."""
    missing = {norm(secret) for secret in secrets} - secrets_anywhere(app, user_id, casdoor)
    assert not missing, f"lost: {missing}"
