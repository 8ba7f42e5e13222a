"""The import flow as a browser drives it, for the functional tests of import, export, CLI and round trip."""

from __future__ import annotations

import io
import json
import re

from sqlalchemy import func, select

from tests.conftest import INTEROP, csrf_from
from webauth.extensions import db
from webauth.keys import keyring
from webauth.models import Account, AuditEvent, PendingImport, User
from webauth.otpauth import AccountSpec, encode_secret, parse_uri
from webauth.vault import Vault

EXPECTED = json.loads((INTEROP / "expected.json").read_text(encoding="utf-8"))
GOOD_FILES = sorted(name for name, info in EXPECTED["files"].items() if info.get("count") is not None)
BROKEN_FILES = sorted(name for name, info in EXPECTED["files"].items() if info.get("count") is None)

TOTP_A = "otpauth://totp/Acme:alice@example.com?secret=JBSWY3DPEHPK3PXP&issuer=Acme"
TOTP_B = "otpauth://totp/Globex:bob?secret=KRSXG5CTMVRXEZLU&issuer=Globex&digits=8&period=60&algorithm=SHA256"
HOTP_C = "otpauth://hotp/Initech:carol?secret=GEZDGNBVGY3TQOJQ&issuer=Initech&counter=42"


def upload(client, *, data: bytes | None = None, text: str = "", filename: str = "export.txt", **fields):
    """Post the import form the way the browser sends it (multipart, with the page's CSRF token)."""
    token = csrf_from(client.get("/transfer/").get_data(as_text=True))
    form = {"csrf_token": token, "text": text, "format": "", "password": "", **fields}
    if data is not None:
        form["file"] = (io.BytesIO(data), filename)
    return client.post("/transfer/import", data=form, content_type="multipart/form-data")


def token_of(response) -> str:
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    match = re.search(r"/transfer/import/([0-9a-f-]{36})$", response.headers["Location"])
    assert match, response.headers["Location"]
    return match.group(1)


def picks(html: str) -> list[str]:
    """The indices of the entries ticked by default (what a user who just presses Import sends)."""
    boxes = re.findall(r'<input type="checkbox" name="pick" value="(\d+)"[^>]*>', html, re.S)
    ticked = re.findall(r'<input type="checkbox" name="pick" value="(\d+)"[^>]*?\bchecked\b[^>]*>', html, re.S)
    assert set(ticked) <= set(boxes)
    return ticked


def row_statuses(html: str) -> list[str]:
    return re.findall(r'<tr class="import-row import-\w+" data-status="(\w+)">', html)


def confirm(client, token: str, chosen: list[str]):
    page = client.get(f"/transfer/import/{token}")
    return client.post(
        f"/transfer/import/{token}/confirm", data={"csrf_token": csrf_from(page.get_data(as_text=True)), "pick": chosen}
    )


def unlock(client, token: str, password: str):
    page = client.get(f"/transfer/import/{token}")
    return client.post(
        f"/transfer/import/{token}/password",
        data={"csrf_token": csrf_from(page.get_data(as_text=True)), "password": password},
    )


def import_all(client, data: bytes, filename: str = "export.txt", password: str | None = None) -> str:
    """Upload, unlock when asked, confirm what the preview ticks; returns the summary page."""
    token = token_of(upload(client, data=data, filename=filename))
    page = client.get(f"/transfer/import/{token}").get_data(as_text=True)
    if "This file is encrypted" in page:
        assert password is not None, "the file asks for a password"
        assert unlock(client, token, password).status_code == 303
        page = client.get(f"/transfer/import/{token}").get_data(as_text=True)
    response = confirm(client, token, picks(page))
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    return response.get_data(as_text=True)


def summary_count(html: str, name: str) -> int:
    match = re.search(rf'data-count="{name}">(\d+)<', html)
    assert match, html[:3000]
    return int(match.group(1))


def stored(app, username: str = "alice") -> list[tuple]:
    """The live accounts of a user as comparable tuples, every parameter included."""
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        vault = Vault(user, keyring())
        return sorted(account_fields(vault.spec(account)) for account in vault.accounts())


def account_fields(spec: AccountSpec) -> tuple:
    p = spec.params
    secret = encode_secret(p.secret)
    return (p.type.value, secret, spec.issuer, spec.name, p.algorithm.value, p.digits, p.period, p.counter)


def add_accounts(app, uris: list[str], username: str = "alice") -> None:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        Vault(user, keyring()).add_many([parse_uri(uri) for uri in uris], source="test")
        db.session.commit()


def audit_events(app, event: str) -> list[dict]:
    with app.app_context():
        query = select(AuditEvent).where(AuditEvent.event == event).order_by(AuditEvent.id)
        return [row.details for row in db.session.scalars(query)]


def pending_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(PendingImport))


def account_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Account))
