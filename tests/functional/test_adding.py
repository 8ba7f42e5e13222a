"""Adding accounts through the pages: by image (one or several QR codes), by pasted link or
transfer code, through the preview; and the duplicates rule from every entry point."""

from __future__ import annotations

import html
import io
import re

import pytest
from PIL import Image

from tests.conftest import csrf_from, post_form, sign_in
from tests.support.accounts import HTMX, OTHER, SECRET, THIRD, add, events, link, stored
from tests.support.qr_images import png, qr_png, qr_sheet
from webauth.otpauth import parse_uri
from webauth.transfer.google import encode_migration_uris


def send_image(client, data: bytes, filename: str = "qr.png"):
    token = csrf_from(client.get("/accounts/new").get_data(as_text=True))
    return client.post(
        "/accounts/new/image",
        data={"image-csrf_token": token, "image-image": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def send_text(client, text: str, origin: str = "link"):
    return post_form(client, "/accounts/new", "/accounts/new/uri", {"uri-uri": text, "uri-origin": origin})


def confirm_preview(client, page: str):
    """Press "Add" on a preview page, sending its hidden fields back."""
    fields = {name: html.unescape(value) for name, value in
              re.findall(r'name="(uris|origin)" type="hidden" value="([^"]*)"', page)}
    return client.post("/accounts/new/confirm", data={"csrf_token": csrf_from(page), **fields})


# Adding by image ----------------------------------------------------------------------------------


def test_an_uploaded_qr_image_adds_its_account(app, signed_in):
    response = send_image(signed_in, qr_png(link("GitHub", "alice")))
    assert response.status_code == 302
    assert "Added GitHub: alice." in signed_in.get("/").get_data(as_text=True)
    assert stored(app) == [("GitHub", "alice")]
    assert [e["source"] for e in events(app, "account.add")] == ["image"]


def test_an_image_with_several_qr_codes_adds_them_all_after_a_preview(app, signed_in):
    sheet = qr_sheet([link("GitHub", "alice"), link("GitLab", "alice", OTHER), link("Dropbox", "bob", THIRD)])
    preview = send_image(signed_in, sheet)
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "3 new accounts can be added." in html
    assert stored(app) == []
    assert SECRET not in preview.headers.get("Location", "") and preview.headers["Cache-Control"] == "no-store"
    response = confirm_preview(signed_in, html)
    assert response.status_code == 302
    assert sorted(stored(app)) == [("Dropbox", "bob"), ("GitHub", "alice"), ("GitLab", "alice")]
    assert "Added 3 accounts." in signed_in.get("/").get_data(as_text=True)


def test_a_google_transfer_in_several_batches_is_previewed_then_added_at_once(app, signed_in):
    specs = [parse_uri(link(f"Service{n}", "alice", secret)) for n, secret in enumerate((SECRET, OTHER, THIRD))]
    batches = encode_migration_uris(specs, batch_size=2)
    assert len(batches) == 2
    add(app, link("Service0", "alice", SECRET))  # already there: shown, then skipped
    preview = send_image(signed_in, qr_sheet(batches))
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert all(f"Service{n}" in html for n in range(3)) and "Already in your vault" in html
    assert "2 new accounts can be added." in html
    response = confirm_preview(signed_in, html)
    assert response.status_code == 302
    assert sorted(stored(app)) == [("Service0", "alice"), ("Service1", "alice"), ("Service2", "alice")]
    page = signed_in.get("/").get_data(as_text=True)
    assert "Added 2 accounts." in page and "1 account was already in your vault" in page


def test_pasted_transfer_links_and_several_links_get_a_preview(app, signed_in):
    specs = [parse_uri(link("A", "a", SECRET)), parse_uri(link("B", "b", OTHER))]
    text = "\n".join(encode_migration_uris(specs, batch_size=1))
    preview = send_text(signed_in, text)
    assert preview.status_code == 200 and "2 new accounts can be added." in preview.get_data(as_text=True)
    assert stored(app) == []
    several = send_text(signed_in, f"{link('C', 'c', THIRD)}\nnot a link\n{link('A', 'a', SECRET)}")
    html = several.get_data(as_text=True)
    assert several.status_code == 200 and "Cannot be added" not in html  # a line with no link is no account
    confirm_preview(signed_in, preview.get_data(as_text=True))
    assert sorted(stored(app)) == [("A", "a"), ("B", "b")]


def test_a_link_repeated_in_the_paste_is_reported_as_such_not_as_already_in_the_vault(app, signed_in):
    links = [link(f"Service{n}", "alice", secret) for n, secret in enumerate([SECRET, OTHER, THIRD] * 3)]
    links[8] = links[3]  # 9 links, one of them twice
    preview = send_text(signed_in, "\n".join(links)).get_data(as_text=True)
    assert "8 new accounts can be added." in preview and "Repeated above: left out" in preview
    assert "Already in your vault" not in preview
    confirm_preview(signed_in, preview)
    page = signed_in.get("/").get_data(as_text=True)
    assert "Added 8 accounts." in page
    assert "1 account appeared twice in what you gave; the repeat was left out." in page
    assert "already in your vault" not in page
    assert len(stored(app)) == 8


def test_the_camera_sends_its_links_through_the_link_form(app, signed_in):
    response = send_text(signed_in, link("GitHub", "alice"), origin="camera")
    assert response.status_code == 302
    assert [e["source"] for e in events(app, "account.add")] == ["camera"]
    assert send_text(signed_in, link("X", "y"), origin="elsewhere").status_code == 422


@pytest.mark.parametrize(
    ("make", "status", "message"),
    [
        (lambda: b"%PDF-1.7 not an image at all", 415, "This file is not an image."),
        (lambda: png(Image.new("RGB", (300, 200), "white")), 422, "No QR code was found in the image."),
        (lambda: qr_png("https://example.com/not-an-otp-link"), 422, "The QR code holds no two-factor account"),
        (lambda: png(Image.new("1", (7000, 7000), 1)), 413, "The image is too large."),
        (lambda: b"\x89PNG\r\n\x1a\n" + b"\0" * (5 * 1024 * 1024 + 10), 413, "The image is too large."),
    ],
    ids=["not-an-image", "no-qr-code", "qr-without-otp", "too-many-pixels", "too-many-bytes"],
)
def test_bad_images_get_a_clear_message(app, signed_in, make, status, message):
    response = send_image(signed_in, make())
    assert response.status_code == status
    html = response.get_data(as_text=True)
    assert message in html and 'id="image-image-errors"' in html
    assert stored(app) == []


def test_an_upload_beyond_the_request_limit_is_a_413(app, signed_in):
    response = send_image(signed_in, b"\0" * (7 * 1024 * 1024))
    assert response.status_code == 413 and "The upload is too large" in response.get_data(as_text=True)


def test_the_image_form_needs_a_file(app, signed_in):
    token = csrf_from(signed_in.get("/accounts/new").get_data(as_text=True))
    response = signed_in.post("/accounts/new/image", data={"image-csrf_token": token},
                              content_type="multipart/form-data")
    assert response.status_code == 422 and "Choose an image with a QR code." in response.get_data(as_text=True)


def test_reading_images_is_rate_limited(app_config, user):
    from webauth import create_app
    from webauth.extensions import limiter

    limited_app = create_app({**app_config, "RATELIMIT_ENABLED": True})
    client = limited_app.test_client()
    sign_in(client)
    blank = png(Image.new("RGB", (40, 40), "white"))
    try:
        statuses = [send_image(client, blank).status_code for _ in range(31)]
        assert statuses[:30] == [422] * 30 and statuses[30] == 429
    finally:
        with limited_app.app_context():
            limiter.reset()


def test_a_tampered_confirmation_adds_nothing(app, signed_in):
    token = csrf_from(signed_in.get("/").get_data(as_text=True))
    response = signed_in.post("/accounts/new/confirm", data={"csrf_token": token, "uris": "nothing", "origin": "link"})
    assert response.status_code == 422 and stored(app) == []
    forged = {"csrf_token": token, "uris": link("A", "a"), "origin": "x"}
    response = signed_in.post("/accounts/new/confirm", data=forged)
    assert response.status_code == 400 and stored(app) == []


# Duplicates -------------------------------------------------------------------------------------


def test_an_identical_account_is_refused_from_an_image_too(app, signed_in):
    add(app, link("GitHub", "alice"))
    response = send_image(signed_in, qr_png(link("GitHub", "alice")))
    assert response.status_code == 409
    assert "This account is already in your vault (GitHub)." in response.get_data(as_text=True)
    assert stored(app) == [("GitHub", "alice")]


def test_the_same_issuer_and_name_with_another_secret_is_kept_and_told_apart(app, signed_in):
    add(app, link("GitHub", "alice"))
    response = send_text(signed_in, link("GitHub", "alice", OTHER))
    assert response.status_code == 302
    page = signed_in.get("/").get_data(as_text=True)
    assert "with another secret key. Both are kept" in page
    hints = re.findall(r'<span class="twin-hint"[^>]*>key ([0-9A-F]{4})</span>', page)
    assert len(hints) == 2 and hints[0] != hints[1]
    assert stored(app) == [("GitHub", "alice"), ("GitHub", "alice")]
    add(app, link("GitLab", "bob", THIRD))
    assert len(re.findall('class="twin-hint"', signed_in.get("/").get_data(as_text=True))) == 2


def test_restoring_what_the_vault_holds_again_is_refused(app, signed_in):
    uuid = add(app, link("GitHub", "alice"))
    token = csrf_from(signed_in.get("/").get_data(as_text=True))
    signed_in.post(f"/accounts/{uuid}/delete", data={"csrf_token": token})
    add(app, link("GitHub", "alice"))
    response = signed_in.post(f"/accounts/{uuid}/restore", data={"csrf_token": token}, headers=HTMX)
    assert response.status_code == 409 and "stays in the trash" in response.get_data(as_text=True)
    assert stored(app) == [("GitHub", "alice")]
