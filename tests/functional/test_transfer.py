"""The import flow, the exports and their limits, through the Flask test client as a browser uses them."""

from __future__ import annotations

import base64
import io
import json
import re
from datetime import timedelta

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import select, update

from tests.conftest import TEST_PASSWORD, csrf_from, sign_in
from tests.support.transfer_flow import (
    BROKEN_FILES,
    EXPECTED,
    GOOD_FILES,
    HOTP_C,
    INTEROP,
    TOTP_A,
    TOTP_B,
    account_count,
    account_fields,
    add_accounts,
    audit_events,
    confirm,
    import_all,
    pending_count,
    picks,
    row_statuses,
    stored,
    summary_count,
    token_of,
    unlock,
    upload,
)
from webauth import create_app
from webauth.extensions import db
from webauth.models import PendingImport, SessionRecord, utcnow
from webauth.otpauth import encode_secret, parse_uri
from webauth.transfer.google import parse_migration_uri
from webauth.transfer.limits import MAX_IMPORT_BYTES, MAX_IMPORT_ENTRIES
from webauth.transfer.registry import read_import

# Only QR codes, as the app reads them: a dense code can also pass for a line of another format.
QR_ONLY = zxingcpp.BarcodeFormat.QRCode


def age_reauth(app, seconds: int = 3600) -> None:
    with app.app_context():
        db.session.execute(update(SessionRecord).values(reauth_at=utcnow() - timedelta(seconds=seconds)))
        db.session.commit()


def ente_line(uri: str, **display: object) -> str:
    from urllib.parse import quote

    return f"{uri}&codeDisplay={quote(json.dumps({'pinned': False, 'trashed': False, 'tags': [], **display}))}"


# Every fixture, through the pages ---------------------------------------------------------


@pytest.mark.parametrize("name", GOOD_FILES)
def test_every_interop_file_imports_through_the_pages(app, signed_in, name):
    """Upload → (password) → preview listing every entry → Import: the vault holds what the file holds."""
    info = EXPECTED["files"][name]
    data = (INTEROP / name).read_bytes()
    response = upload(signed_in, data=data, filename=name)
    token = token_of(response)
    page = signed_in.get(f"/transfer/import/{token}").get_data(as_text=True)
    if "password" in info:
        assert "This file is encrypted" in page
        assert unlock(signed_in, token, info["password"]).status_code == 303
        page = signed_in.get(f"/transfer/import/{token}").get_data(as_text=True)
    assert len(row_statuses(page)) == info["count"]
    summary = confirm(signed_in, token, picks(page)).get_data(as_text=True)

    _, entries = read_import(data, info.get("password"))
    # What the importer reads, less trashed entries and repeats (same type, secret, issuer and name).
    unique = {}
    for entry in entries:
        if entry.spec is not None and not entry.trashed:
            fields = account_fields(entry.spec)
            unique.setdefault(fields[:4], fields)
    wanted = sorted(unique.values())
    assert summary_count(summary, "added") == len(wanted) > 0
    assert stored(app) == wanted
    assert audit_events(app, "import")[0]["added"] == len(wanted)
    assert pending_count(app) == 0


@pytest.mark.parametrize("name", BROKEN_FILES)
def test_broken_interop_files_are_read_or_refused_cleanly(app, signed_in, name):
    # The one broken file has a prefix before its transfer URI ("QR-Code:otpauth-migration://..."),
    # as some scanner apps write: the URI it holds is read, and nothing is added before confirming.
    response = upload(signed_in, data=(INTEROP / name).read_bytes(), filename=name)
    page = signed_in.get(f"/transfer/import/{token_of(response)}").get_data(as_text=True)
    assert len(picks(page)) == 1 and "Cannot be imported" not in page
    assert pending_count(app) == 1
    assert account_count(app) == 0


def test_a_qr_image_of_a_google_transfer_imports(app, signed_in):
    """The screenshot of a transfer code (a PNG, not text) goes through the same flow."""
    summary = import_all(signed_in, (INTEROP / "google_migration_example.png").read_bytes(), "screen.png")
    assert summary_count(summary, "added") == 3
    assert [row[2] for row in stored(app)] == ["Test1", "Test2", "Test3"]


# The preview ------------------------------------------------------------------------------


def test_pasted_text_is_previewed_entry_by_entry_with_problems_marked(app, signed_in):
    text = f"# my codes\n{TOTP_A}\notpauth://totp/Broken?secret=not*base32\n{HOTP_C}\n"
    token = token_of(upload(signed_in, text=text))
    page = signed_in.get(f"/transfer/import/{token}")
    html = page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    assert row_statuses(html) == ["new", "problem", "new"]
    assert picks(html) == ["0", "2"]
    assert re.search(r'value="1"[^>]*\bdisabled\b', html)
    assert "Acme" in html and "alice@example.com" in html and "Initech" in html
    assert "Cannot be imported" in html and "secret" in html
    assert "line 3" in html  # where each entry is in the file
    assert "JBSWY3DPEHPK3PXP" not in html  # the preview never shows a secret
    assert account_count(app) == 0  # nothing is added before Import


def test_the_format_can_be_chosen_and_a_wrong_choice_is_refused(app, signed_in):
    response = upload(signed_in, text=TOTP_A, format="aegis")
    assert response.status_code == 422
    assert "Nothing was imported" in response.get_data(as_text=True)
    assert token_of(upload(signed_in, text=TOTP_A, format="otpauth"))
    assert upload(signed_in, text=TOTP_A, format="lastpass").status_code == 422  # not a choice of the form


def test_the_upload_form_checks_its_csrf_token(app, signed_in):
    response = signed_in.post(
        "/transfer/import", data={"text": TOTP_A, "format": ""}, content_type="multipart/form-data"
    )
    assert response.status_code == 400 and "form expired" in response.get_data(as_text=True)
    assert pending_count(app) == 0


def test_an_empty_form_asks_for_a_file(signed_in):
    response = upload(signed_in, text="   ")
    assert response.status_code == 422
    assert "Choose a file" in response.get_data(as_text=True)


def test_trashed_entries_of_ente_are_listed_unticked(app, signed_in):
    text = "\n".join([ente_line(TOTP_A), ente_line(TOTP_B, trashed=True)])
    token = token_of(upload(signed_in, text=text, filename="ente.txt"))
    html = signed_in.get(f"/transfer/import/{token}").get_data(as_text=True)
    assert row_statuses(html) == ["new", "trashed"]
    assert picks(html) == ["0"]
    assert "In the trash of the other app" in html
    # Ticking it anyway imports it.
    summary = confirm(signed_in, token, ["0", "1"]).get_data(as_text=True)
    assert summary_count(summary, "added") == 2


# Passwords ---------------------------------------------------------------------------------


def test_an_encrypted_file_asks_for_its_password_and_a_wrong_one_imports_nothing(app, signed_in):
    data = (INTEROP / "aegis_encrypted.json").read_bytes()
    token = token_of(upload(signed_in, data=data, filename="aegis.json"))
    page = signed_in.get(f"/transfer/import/{token}")
    assert "This file is encrypted" in page.get_data(as_text=True) and page.status_code == 200

    wrong = unlock(signed_in, token, "not the password")
    assert wrong.status_code == 422
    assert "Wrong password" in wrong.get_data(as_text=True)
    assert account_count(app) == 0 and pending_count(app) == 1  # the file waits for another try

    assert unlock(signed_in, token, "test").status_code == 303
    html = signed_in.get(f"/transfer/import/{token}").get_data(as_text=True)
    assert len(row_statuses(html)) == 7
    assert account_count(app) == 0


def test_a_password_given_with_the_upload_goes_straight_to_the_preview(app, signed_in):
    data = (INTEROP / "2fas_authenticator_encrypted_v4.2fas").read_bytes()
    token = token_of(upload(signed_in, data=data, filename="backup.2fas", password="test"))
    html = signed_in.get(f"/transfer/import/{token}").get_data(as_text=True)
    assert len(row_statuses(html)) == 5

    wrong = upload(signed_in, data=data, filename="backup.2fas", password="nope")
    assert wrong.status_code == 422 and "Wrong password" in wrong.get_data(as_text=True)
    assert account_count(app) == 0


def test_the_file_waiting_for_its_password_is_stored_sealed(app, signed_in):
    data = (INTEROP / "aegis_encrypted.json").read_bytes()
    token_of(upload(signed_in, data=data, filename="aegis.json"))
    plain = (INTEROP / "plain.txt").read_bytes()
    token = token_of(upload(signed_in, data=plain, filename="plain.txt"))
    with app.app_context():
        rows = list(db.session.scalars(select(PendingImport)))
    assert {row.stage for row in rows} == {"password", "preview"}
    for row in rows:
        assert b"JBSWY3DP" not in row.payload_sealed and b"4SJHB4GSD43FZBAI7C2HLRJGPQ" not in row.payload_sealed
        assert b"slots" not in row.payload_sealed
        assert (row.expires_at - row.created_at) <= timedelta(minutes=15)
    with signed_in.session_transaction() as session:
        assert "4SJHB4GSD43FZBAI7C2HLRJGPQ" not in json.dumps(dict(session))
    assert token


# Confirming --------------------------------------------------------------------------------


def test_confirm_adds_exactly_the_chosen_entries_in_one_audited_import(app, signed_in):
    token = token_of(upload(signed_in, text="\n".join([TOTP_A, TOTP_B, HOTP_C])))
    summary = confirm(signed_in, token, ["0", "2"]).get_data(as_text=True)
    assert summary_count(summary, "added") == 2 and summary_count(summary, "left_out") == 1
    assert sorted(row[2] for row in stored(app)) == ["Acme", "Initech"]
    [details] = audit_events(app, "import")
    assert details == {"format": "otpauth", "added": 2, "duplicates": 0, "entries": 3, "chosen": 2, "problems": 0}
    assert audit_events(app, "account.add") == []
    assert pending_count(app) == 0
    # The import is used up: sending it again adds nothing.
    again = signed_in.post(f"/transfer/import/{token}/confirm", data={"csrf_token": csrf_from(summary), "pick": ["1"]})
    assert again.status_code == 404 and "expired" in again.get_data(as_text=True)
    assert account_count(app) == 2


def test_confirm_without_a_ticked_entry_adds_nothing(app, signed_in):
    token = token_of(upload(signed_in, text=TOTP_A))
    response = confirm(signed_in, token, [])
    assert response.status_code == 422 and "Tick at least one" in response.get_data(as_text=True)
    assert confirm(signed_in, token, ["7", "x", "-1"]).status_code == 422  # indices out of range are ignored
    assert account_count(app) == 0 and pending_count(app) == 1


def test_duplicates_are_marked_and_skipped(app, signed_in):
    add_accounts(app, [TOTP_A])
    token = token_of(upload(signed_in, text="\n".join([TOTP_A, TOTP_B, TOTP_B])))
    html = signed_in.get(f"/transfer/import/{token}").get_data(as_text=True)
    assert row_statuses(html) == ["duplicate", "new", "repeated"]
    assert "Already in your vault (Acme)" in html and picks(html) == ["1"]
    # Even when a crafted form ticks them, rows the preview refused are skipped, and counted as it marked them.
    summary = confirm(signed_in, token, ["0", "1", "2"]).get_data(as_text=True)
    assert summary_count(summary, "added") == 1 and summary_count(summary, "duplicates") == 1
    assert summary_count(summary, "repeated") == 1
    assert len(stored(app)) == 2


def test_the_summary_counts_what_the_preview_marked(app, signed_in):
    """The preview's "Already in your vault" rows are counted so, though nobody could tick them."""
    add_accounts(app, [TOTP_A])
    token = token_of(upload(signed_in, text="\n".join([TOTP_A, TOTP_B, TOTP_B, HOTP_C, "otpauth://totp/x"])))
    html = signed_in.get(f"/transfer/import/{token}").get_data(as_text=True)
    assert row_statuses(html) == ["duplicate", "new", "repeated", "new", "problem"]
    summary = confirm(signed_in, token, picks(html)[:1]).get_data(as_text=True)
    names = ("added", "duplicates", "repeated", "left_out", "problems")
    counts = {name: summary_count(summary, name) for name in names}
    assert counts == {"added": 1, "duplicates": 1, "repeated": 1, "left_out": 1, "problems": 1}
    assert sum(counts.values()) == 5  # every entry of the file, counted once


def test_an_account_added_elsewhere_after_the_preview_counts_as_in_the_vault(app, signed_in):
    token = token_of(upload(signed_in, text="\n".join([TOTP_A, TOTP_B])))
    add_accounts(app, [TOTP_A])  # another device, between preview and confirm
    summary = confirm(signed_in, token, ["0", "1"]).get_data(as_text=True)
    assert summary_count(summary, "added") == 1 and summary_count(summary, "duplicates") == 1
    assert len(stored(app)) == 2


def test_cancel_discards_the_pending_import(app, signed_in):
    token = token_of(upload(signed_in, text=TOTP_A))
    page = signed_in.get(f"/transfer/import/{token}").get_data(as_text=True)
    response = signed_in.post(f"/transfer/import/{token}/cancel", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 303 and pending_count(app) == 0
    assert signed_in.get(f"/transfer/import/{token}").status_code == 404
    assert account_count(app) == 0


def test_a_pending_import_is_only_its_owners_and_expires(app, client, make_user):
    make_user("alice")
    make_user("mallory")
    sign_in(client, "alice")
    token = token_of(upload(client, text=TOTP_A))
    other = app.test_client()
    sign_in(other, "mallory")
    assert other.get(f"/transfer/import/{token}").status_code == 404
    page = other.get("/transfer/").get_data(as_text=True)
    stolen = other.post(f"/transfer/import/{token}/confirm", data={"csrf_token": csrf_from(page), "pick": ["0"]})
    assert stolen.status_code == 404 and account_count(app) == 0

    with app.app_context():
        db.session.execute(update(PendingImport).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    assert client.get(f"/transfer/import/{token}").status_code == 404
    # The next upload clears expired rows of anyone.
    token_of(upload(client, text=TOTP_B))
    assert pending_count(app) == 1


def test_a_failure_while_adding_adds_nothing(app, signed_in, monkeypatch):
    token = token_of(upload(signed_in, text="\n".join([TOTP_A, TOTP_B, HOTP_C])))
    page = signed_in.get(f"/transfer/import/{token}").get_data(as_text=True)
    from webauth import vault as vault_module

    real = vault_module.seal_secret
    calls = []

    def failing(*args):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("disk full")
        return real(*args)

    monkeypatch.setattr(vault_module, "seal_secret", failing)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    form = {"csrf_token": csrf_from(page), "pick": ["0", "1", "2"]}
    response = signed_in.post(f"/transfer/import/{token}/confirm", data=form)
    assert response.status_code == 500
    assert account_count(app) == 0 and audit_events(app, "import") == []
    assert pending_count(app) == 1  # not used up: the user may try again


def test_signed_out_visitors_are_sent_to_sign_in(client, user):
    assert client.get("/transfer/").status_code == 302
    assert client.get("/transfer/export").status_code == 302


# Bad files ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x00\x01\x02 binary junk", "not recognised"),
        (b'{"version": 1, "header": {"slots": null, "params": null}, "db": {"version": 3, "e', "Nothing was imported"),
        ((INTEROP / "aegis_plain.json").read_bytes()[:700], "Nothing was imported"),
    ],
)
def test_corrupt_or_unknown_files_import_nothing(app, signed_in, data, message):
    response = upload(signed_in, data=data, filename="file.json")
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert account_count(app) == 0 and pending_count(app) == 0


def test_a_file_over_five_megabytes_is_refused_with_the_limit(app, signed_in):
    response = upload(signed_in, data=b"#" * (MAX_IMPORT_BYTES + 1), filename="big.txt")
    assert response.status_code == 422
    assert "at most 5 MiB" in response.get_data(as_text=True)
    assert pending_count(app) == 0


def test_a_request_over_the_upload_limit_gets_a_413_that_says_the_limit(app, signed_in):
    response = upload(signed_in, data=b"#" * (7 * 1024 * 1024), filename="huge.txt")
    assert response.status_code == 413
    assert "at most 5 MB" in response.get_data(as_text=True)
    assert pending_count(app) == 0


def test_pasted_text_may_be_larger_than_flasks_default_field_limit(signed_in):
    text = "# " + "x" * 800_000 + "\n" + TOTP_A + "\n"
    assert token_of(upload(signed_in, text=text))


def test_more_than_ten_thousand_entries_are_refused(app, signed_in):
    lines = [f"otpauth://totp/n{i}?secret=JBSWY3DPEHPK3PXP" for i in range(MAX_IMPORT_ENTRIES + 1)]
    response = upload(signed_in, data="\n".join(lines).encode(), filename="many.txt")
    assert response.status_code == 422
    assert f"at most {MAX_IMPORT_ENTRIES}" in response.get_data(as_text=True)
    assert account_count(app) == 0 and pending_count(app) == 0


def test_imports_and_exports_are_rate_limited(app_config, user):
    from webauth.extensions import limiter

    limited_app = create_app({**app_config, "RATELIMIT_ENABLED": True})
    client = limited_app.test_client()
    sign_in(client)
    try:
        statuses = [upload(client, text=TOTP_A).status_code for _ in range(11)]
        assert statuses[:10] == [303] * 10 and statuses[10] == 429
        token = csrf_from(client.get("/transfer/export").get_data(as_text=True))
        exports = [client.post("/transfer/export/otpauth", data={"csrf_token": token}).status_code for _ in range(11)]
        assert exports[:10] == [200] * 10 and exports[10] == 429
    finally:
        with limited_app.app_context():
            limiter.reset()


# Exports -----------------------------------------------------------------------------------


def export(client, fmt: str, **fields):
    token = csrf_from(client.get("/transfer/export").get_data(as_text=True))
    return client.post(f"/transfer/export/{fmt}", data={"csrf_token": token, **fields})


def png_images(html: str) -> list[bytes]:
    return [base64.b64decode(data) for data in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)]


def qr_texts(png: bytes) -> list[str]:
    return [result.text for result in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)), formats=QR_ONLY)]


@pytest.mark.parametrize("fmt", ["aegis", "aegis-encrypted", "otpauth", "google-qr", "qr"])
def test_every_export_needs_a_recent_password(app, signed_in, fmt):
    add_accounts(app, [TOTP_A])
    age_reauth(app)
    page = signed_in.get("/transfer/export")
    assert page.status_code == 302 and "/reauth?next=/transfer/export" in page.headers["Location"]
    token = csrf_from(signed_in.get("/transfer/").get_data(as_text=True))
    fields = {"password": "long enough pw", "confirm": "long enough pw"}
    response = signed_in.post(f"/transfer/export/{fmt}", data={"csrf_token": token, **fields})
    assert response.status_code == 302 and "/reauth" in response.headers["Location"]
    assert audit_events(app, "export") == []

    reauth_page = signed_in.get("/reauth?next=/transfer/export").get_data(as_text=True)
    form = {"csrf_token": csrf_from(reauth_page), "password": TEST_PASSWORD}
    signed_in.post("/reauth?next=/transfer/export", data=form)
    assert export(signed_in, fmt, **fields).status_code == 200
    assert audit_events(app, "export") == [{"format": fmt, "accounts": 1, "source": "web"}]


def test_the_plain_files_download_uncached_and_hold_every_account(app, signed_in):
    add_accounts(app, [TOTP_A, TOTP_B, HOTP_C])
    response = export(signed_in, "otpauth")
    assert response.headers["Cache-Control"] == "no-store"
    assert "attachment" in response.headers["Content-Disposition"] and ".txt" in response.headers["Content-Disposition"]
    uris = response.get_data(as_text=True).splitlines()
    assert sorted(account_fields(parse_uri(uri)) for uri in uris) == stored(app)

    response = export(signed_in, "aegis")
    assert response.headers["Cache-Control"] == "no-store" and response.mimetype == "application/json"
    vault = json.loads(response.data)
    assert vault["header"]["slots"] is None and len(vault["db"]["entries"]) == 3


def test_the_encrypted_backup_needs_a_confirmed_password_and_restores(app, signed_in, make_user):
    add_accounts(app, [TOTP_A, TOTP_B, HOTP_C])
    short = export(signed_in, "aegis-encrypted", password="short", confirm="short")
    assert short.status_code == 422 and "at least 8" in short.get_data(as_text=True)
    differ = export(signed_in, "aegis-encrypted", password="long enough pw", confirm="long enough px")
    assert differ.status_code == 422 and "differ" in differ.get_data(as_text=True)
    assert audit_events(app, "export") == []

    response = export(signed_in, "aegis-encrypted", password="long enough pw", confirm="long enough pw")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    backup = json.loads(response.data)
    assert backup["header"]["slots"][0]["n"] == 32768 and isinstance(backup["db"], str)
    assert b"JBSWY3DPEHPK3PXP" not in response.data

    make_user("bob")
    other = app.test_client()
    sign_in(other, "bob")
    import_all(other, response.data, "backup.json", password="long enough pw")
    assert stored(app, "bob") == stored(app, "alice")


def test_google_transfer_codes_hold_ten_accounts_each_numbered(app, signed_in):
    uris = [f"otpauth://totp/Site{i}:user{i}?secret={encode_secret(bytes([i]) * 10)}&issuer=Site{i}" for i in range(23)]
    uris.append("otpauth://totp/Odd:one?secret=JBSWY3DPEHPK3PXP&issuer=Odd&period=45")
    add_accounts(app, uris)
    response = export(signed_in, "google-qr")
    html = response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    assert "1 of 3" in html and "2 of 3" in html and "3 of 3" in html
    assert "Odd: one" in html  # the account Google cannot hold is named, not silently dropped
    images = png_images(html)
    assert len(images) == 3
    accounts = []
    for png in images:
        [text] = qr_texts(png)
        batch = parse_migration_uri(text, "code")
        assert len(batch.entries) <= 10
        accounts += [account_fields(entry.spec) for entry in batch.entries]
    assert sorted(accounts) == [row for row in stored(app) if row[2] != "Odd"]
    assert audit_events(app, "export") == [{"format": "google-qr", "accounts": 23, "source": "web"}]


def test_the_printable_page_has_one_code_per_account(app, signed_in):
    add_accounts(app, [TOTP_A, TOTP_B, HOTP_C])
    html = export(signed_in, "qr").get_data(as_text=True)
    images = png_images(html)
    assert len(images) == 3
    assert sorted(account_fields(parse_uri(qr_texts(png)[0])) for png in images) == stored(app)
    assert "print-sheet" in html
    assert "style=" not in html


def test_an_unknown_export_format_is_a_404(signed_in):
    assert export(signed_in, "lastpass").status_code == 404


def test_the_pages_carry_no_inline_script_or_style(app, signed_in):
    add_accounts(app, [TOTP_A])
    token = token_of(upload(signed_in, text=TOTP_B))
    for html in (
        signed_in.get("/transfer/").get_data(as_text=True),
        signed_in.get(f"/transfer/import/{token}").get_data(as_text=True),
        signed_in.get("/transfer/export").get_data(as_text=True),
        export(signed_in, "google-qr").get_data(as_text=True),
    ):
        assert "style=" not in html and "<style" not in html
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
