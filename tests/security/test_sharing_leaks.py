"""A recipient of a shared account never gets its secret: one test per way a secret could leave
the server for them (the list, the account's pages, the reveals and QR code, every export
format, the scheduled backup, the offline copy, the REST API). The Casdoor sync of the
recipient's own `mfaAccounts` is in tests/casdoor/test_sharing_groups.py.

Each test first shows the recipient does get the account (its code, or its row), so a
refusal that hid everything would fail, then looks for the secret in every form it could
take (base32, hex, base64) in what the recipient received."""

from __future__ import annotations

import base64
import io
import re

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import select

from tests.backups.aegis_reader import by_label, open_vault
from tests.backups.helpers import PASSWORD, folder_of, run, set_password
from tests.conftest import csrf_from, post_form, sign_in
from tests.support.accounts import add
from webauth import tokens
from webauth.extensions import db
from webauth.keys import keyring
from webauth.models import User
from webauth.otpauth import decode_secret
from webauth.sharing import rules
from webauth.transfer.registry import read_import
from webauth.vault import Vault

# Only QR codes, as the app reads them: a dense code can also pass for a line of another format.
QR_ONLY = zxingcpp.BarcodeFormat.QRCode

pytestmark = pytest.mark.usefixtures("frozen_clock")

# The owner's account, shared with bob: its secret must never reach bob.
SHARED = "KRSXG5CTMVRXEZLUKN2XAZLSKNSWG4TF"
# bob's own account, so that his exports and backups have something in them.
OWN = "JBSWY3DPEHPK3PXP"


def secret_forms(secret: str = SHARED) -> list[bytes]:
    raw = decode_secret(secret)
    forms = {secret, secret.lower(), secret.rstrip("="), raw.hex(), raw.hex().upper(), base64.b64encode(raw).decode()}
    return [form.encode() for form in forms]


def assert_no_secret(data: bytes | str) -> None:
    body = data.encode() if isinstance(data, str) else data
    for form in secret_forms():
        assert form not in body, f"the shared secret reached the recipient as {form!r}"


@pytest.fixture
def backup_dir(tmp_path):
    return tmp_path / "backups"


@pytest.fixture
def app_config(base_config, migrated_database, backup_dir) -> dict:
    return {**base_config, "WEBAUTH_BACKUP_DIR": backup_dir, "WEBAUTH_BACKUP_KEEP": 3}


@pytest.fixture
def shared(app, make_user) -> str:
    """alice's account shared with bob (who also has an account of his own); its uuid."""
    make_user("alice")
    make_user("bob")
    uuid = add(app, f"otpauth://totp/Vault:alice?secret={SHARED}&issuer=Vault")
    add(app, f"otpauth://totp/Own:bob?secret={OWN}&issuer=Own", username="bob")
    with app.app_context():
        alice = db.session.scalar(select(User).where(User.username == "alice"))
        rules.share(alice, Vault(alice, keyring()).get(uuid), username="bob")
        db.session.commit()
    return uuid


@pytest.fixture
def bob(app, shared):
    client = app.test_client()
    sign_in(client, "bob")  # a fresh sign-in: exports and reveals need no further password
    return client


def test_the_list_and_its_fragment_show_the_code_not_the_secret(bob, shared):
    for headers in ({}, {"HX-Request": "true"}):
        page = bob.get("/", headers=headers)
        assert f'id="shared-{shared}"' in page.get_data(as_text=True)
        assert_no_secret(page.data)


def test_the_shared_accounts_page_shows_no_secret_and_the_owners_page_is_a_404(bob, shared):
    page = bob.get(f"/shared/{shared}")
    assert page.status_code == 200 and "Shared by alice" in page.get_data(as_text=True)
    assert_no_secret(page.data)
    assert "/reveal/" not in page.get_data(as_text=True)
    owner_page = bob.get(f"/accounts/{shared}")
    assert owner_page.status_code == 404
    assert_no_secret(owner_page.data)


@pytest.mark.parametrize("what", ["secret", "qr", "uri", "pin"])
def test_every_reveal_of_a_shared_account_is_a_404(bob, shared, what):
    response = bob.get(f"/accounts/{shared}/reveal/{what}")
    assert response.status_code == 404
    assert_no_secret(response.data)


def test_the_icon_and_edit_pages_of_a_shared_account_are_404s(bob, shared):
    for path in (f"/accounts/{shared}/edit", f"/accounts/{shared}/icon.png"):
        response = bob.get(path)
        assert response.status_code == 404, path
        assert_no_secret(response.data)


def test_the_owners_uploaded_icon_reaches_recipients_and_nobody_else(app, make_user, bob, shared):
    from PIL import Image as PilImage

    from tests.functional.test_accounts import post_edit

    alice = app.test_client()
    sign_in(alice, "alice")
    image = io.BytesIO()
    PilImage.new("RGB", (64, 64), (20, 120, 200)).save(image, "PNG")
    answer = post_edit(alice, shared, issuer="Vault", name="alice", icon="custom",
                       files={"icon_file": (io.BytesIO(image.getvalue()), "icon.png")})
    assert answer.status_code == 302
    listed = alice.get("/").get_data(as_text=True)
    url = re.search(rf'src="(/accounts/{shared}/icon.png\?v=[0-9a-f]+)"', listed).group(1)
    # bob's list and the account's page show the owner's icon, not a letter tile.
    assert url in bob.get("/").get_data(as_text=True) and url in bob.get(f"/shared/{shared}").get_data(as_text=True)
    served = bob.get(url)
    assert served.status_code == 200 and served.mimetype == "image/png" and served.data == alice.get(url).data
    assert_no_secret(served.data)
    # Someone it is not shared with gets nothing, as for an account that does not exist.
    make_user("carol")
    carol = app.test_client()
    sign_in(carol, "carol")
    assert carol.get(url).status_code == 404
    assert carol.get("/accounts/00000000-0000-0000-0000-000000000000/icon.png").status_code == 404
    # Nor does bob once the share ends.
    with app.app_context():
        owner = db.session.scalar(select(User).where(User.username == "alice"))
        rules.unshare(owner, Vault(owner, keyring()).get(shared), username="bob")
        db.session.commit()
    assert bob.get(url).status_code == 404


def _export(client, fmt: str, **fields):
    token = csrf_from(client.get("/transfer/export").get_data(as_text=True))
    return client.post(f"/transfer/export/{fmt}", data={"csrf_token": token, **fields})


def _qr_texts(html: str) -> list[str]:
    images = [base64.b64decode(data) for data in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)]
    return [
        result.text for png in images for result in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)), formats=QR_ONLY)
    ]


def _issuers(data: bytes, password: str | None = None) -> list[str]:
    _importer, entries = read_import(data, password)
    return [entry.spec.issuer for entry in entries if entry.spec is not None]


@pytest.mark.parametrize("fmt", ["aegis", "otpauth"])
def test_plain_exports_hold_the_recipients_own_accounts_only(bob, fmt):
    response = _export(bob, fmt)
    assert response.status_code == 200
    assert _issuers(response.data) == ["Own"]
    assert_no_secret(response.data)


def test_the_encrypted_export_holds_the_recipients_own_accounts_only(bob):
    password = "a long export password"
    response = _export(bob, "aegis-encrypted", password=password, confirm=password)
    assert response.status_code == 200
    assert _issuers(response.data, password) == ["Own"]
    assert_no_secret(repr(open_vault(response.data, password)))


@pytest.mark.parametrize("fmt", ["google-qr", "qr"])
def test_qr_code_exports_hold_the_recipients_own_accounts_only(bob, fmt):
    response = _export(bob, fmt)
    assert response.status_code == 200
    texts = _qr_texts(response.get_data(as_text=True))
    assert texts and _issuers("\n".join(texts).encode()) == ["Own"]
    assert_no_secret("\n".join(texts))
    assert_no_secret(response.data)


def test_the_recipients_scheduled_backup_holds_their_own_accounts_only(app, bob, backup_dir):
    set_password(app, "bob")
    outcome = run(app, "bob")
    assert outcome.result == "written"
    data = (folder_of(app, backup_dir, "bob") / outcome.file).read_bytes()
    db_json = open_vault(data, PASSWORD)
    assert list(by_label(db_json)) == [("Own", "bob")]
    assert_no_secret(repr(db_json))


def test_the_recipients_offline_copy_holds_their_own_accounts_only(bob, shared):
    token = csrf_from(bob.get("/offline/settings").get_data(as_text=True))
    response = bob.post("/offline/devices", headers={"X-CSRFToken": token})
    assert response.status_code == 201
    accounts = response.get_json()["vault"]["accounts"]
    assert [account["issuer"] for account in accounts] == ["Own"]
    assert_no_secret(response.data)


def test_the_api_lists_a_shared_account_with_its_code_only(app, bob, shared):
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "bob"))
        _token, raw = tokens.create(user, "script", scope="write", days=30)
        db.session.commit()
    api = app.test_client()
    headers = {"Authorization": f"Bearer {raw}"}
    listed = api.get("/api/v1/accounts", headers=headers)
    assert listed.status_code == 200
    rows = {row["id"]: row for row in listed.get_json()}
    assert rows[shared]["shared_by"] == "alice" and rows[shared]["code"].isdigit()
    assert set(rows[shared]) == {
        "id", "type", "issuer", "name", "algorithm", "digits", "shared_by", "code", "period", "remaining"
    }
    assert_no_secret(listed.data)
    for path in (f"/api/v1/accounts/{shared}", f"/api/v1/accounts/{shared}/code"):
        response = api.get(path, headers=headers)
        assert response.status_code == 404, path
        assert_no_secret(response.data)
    for method in ("patch", "delete"):
        response = getattr(api, method)(f"/api/v1/accounts/{shared}", headers=headers, json={"note": "x"})
        assert response.status_code == 404
    assert api.post(f"/api/v1/accounts/{shared}/next", headers=headers).status_code == 404


def test_the_recipient_cannot_move_delete_or_favorite_a_shared_account(app, bob, shared):
    for action in ("delete", "favorite", "move", "next"):
        response = post_form(bob, "/", f"/accounts/{shared}/{action}", {"favorite": "1"})
        assert response.status_code == 404, action
    assert f'id="shared-{shared}"' in bob.get("/").get_data(as_text=True)
