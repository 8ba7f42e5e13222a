"""Accounts in a test's vault, and what the pages and the database say of them: shared by the
functional tests of adding (test_adding.py) and of managing (test_accounts.py) accounts."""

from __future__ import annotations

import re
from urllib.parse import quote

from sqlalchemy import select

from webauth.extensions import db
from webauth.keys import keyring
from webauth.models import Account, AuditEvent, User
from webauth.otpauth import AccountSpec, parse_uri
from webauth.vault import Vault

SECRET = "JBSWY3DPEHPK3PXP"
OTHER = "GEZDGNBVGY3TQOJQ"
THIRD = "KRSXG5CTMVRXEZLU"
HTMX = {"HX-Request": "true"}


def link(issuer: str, name: str, secret: str = SECRET, **params: object) -> str:
    query = "".join(f"&{key}={value}" for key, value in params.items())
    return f"otpauth://totp/{quote(issuer)}:{quote(name)}?secret={secret}&issuer={quote(issuer)}{query}"


def vault(app, username: str = "alice") -> Vault:
    """The user's vault; call inside `with app.app_context()`."""
    return Vault(db.session.scalar(select(User).where(User.username == username)), keyring())


def add(app, uri: str, username: str = "alice", **changes) -> str:
    with app.app_context():
        spec = parse_uri(uri)
        if changes:
            spec = AccountSpec(**{"issuer": spec.issuer, "name": spec.name, "params": spec.params, **changes})
        account = vault(app, username).add(spec)
        db.session.commit()
        return account.uuid


def stored(app) -> list[tuple[str, str]]:
    with app.app_context():
        rows = db.session.execute(
            select(Account.issuer, Account.name).where(Account.deleted_at.is_(None)).order_by(Account.id)
        )
        return [tuple(row) for row in rows]


def events(app, name: str) -> list[dict]:
    with app.app_context():
        return [e.details for e in db.session.scalars(select(AuditEvent).where(AuditEvent.event == name))]


def listed(html: str) -> list[str]:
    """Issuers of the list, in order."""
    return re.findall(r'<span class="issuer">([^<]*)</span>', html)
