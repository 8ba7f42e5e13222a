"""Account management through the pages: editing, icons, the trash, search, order, groups,
favorites, the detail page and its reveals, and the accounts CLI. Adding is in test_adding.py."""

from __future__ import annotations

import base64
import html
import io
import json
import re
from datetime import timedelta
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import func, select, update

from tests.conftest import TEST_PASSWORD, account_state, csrf_from, post_form
from tests.support.accounts import HTMX, OTHER, SECRET, THIRD, add, events, link, listed, stored, vault
from tests.support.qr_images import png
from webauth.extensions import db
from webauth.models import Account, AccountIcon, Group, SessionRecord, utcnow
from webauth.otp import OtpParams, OtpType
from webauth.otpauth import parse_uri

# Only QR codes, as the app reads them: a dense code can also pass for a line of another format.
QR_ONLY = zxingcpp.BarcodeFormat.QRCode


def age_reauth(app, seconds: int = 3600) -> None:
    with app.app_context():
        db.session.execute(update(SessionRecord).values(reauth_at=utcnow() - timedelta(seconds=seconds)))
        db.session.commit()


# Editing ---------------------------------------------------------------------------------------


def edit_data(**changes) -> dict:
    data = {"issuer": "GitHub", "name": "alice", "secret": "", "type": "totp", "algorithm": "SHA1", "digits": "6",
            "period": "30", "counter": "0", "note": "", "new_groups": "", "icon": "auto"}
    data.update(changes)
    return data


def post_edit(client, uuid: str, files: dict | None = None, **changes):
    token = csrf_from(client.get(f"/accounts/{uuid}/edit").get_data(as_text=True))
    data = {"csrf_token": token, **edit_data(**changes), **(files or {})}
    return client.post(f"/accounts/{uuid}/edit", data=data, content_type="multipart/form-data")


def test_every_field_can_be_edited(app, signed_in):
    uuid = add(app, link("GitHub", "alice"))
    response = post_edit(signed_in, uuid, issuer="Bank", name="carol", secret="gezd gnbv gy3t qojq", type="hotp",
                         algorithm="SHA256", digits="8", period="60", counter="7", note="Recovery codes in the safe",
                         favorite="y", new_groups="Work, Money")
    assert response.status_code == 302 and response.headers["Location"] == f"/accounts/{uuid}"
    with app.app_context():
        account = db.session.scalar(select(Account).where(Account.uuid == uuid))
        spec = vault(app).spec(account)
        assert (spec.issuer, spec.name, spec.note) == ("Bank", "carol", "Recovery codes in the safe")
        assert spec.favorite
        assert spec.params == OtpParams(OtpType.HOTP, bytes.fromhex("31323334353637383930"), "SHA256", 8, 30, 7)
        assert spec.groups == ("Money", "Work") and account.revision == 2
    [event] = events(app, "account.edit")
    assert sorted(event["fields"]) == sorted(["issuer", "name", "note", "favorite", "type", "secret", "algorithm",
                                              "digits", "counter", "groups"])
    assert "GEZDGNBVGY3TQOJQ" not in json.dumps(event)


def test_new_groups_may_be_separated_by_a_full_width_comma(app, signed_in):
    uuid = add(app, link("GitHub", "alice"))
    assert post_edit(signed_in, uuid, new_groups="工作，银行").status_code == 302
    with app.app_context():
        account = db.session.scalar(select(Account).where(Account.uuid == uuid))
        assert vault(app).spec(account).groups == ("工作", "银行")


def test_an_empty_secret_keeps_the_secret_and_nothing_changed_is_no_change(app, signed_in):
    uuid = add(app, link("GitHub", "alice"))
    assert post_edit(signed_in, uuid).status_code == 302
    assert events(app, "account.edit") == []
    assert post_edit(signed_in, uuid, name="alice2").status_code == 302
    with app.app_context():
        account = db.session.scalar(select(Account).where(Account.uuid == uuid))
        assert vault(app).params(account).secret == b"Hello!\xde\xad\xbe\xef" and account.name == "alice2"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"secret": "not*base32"}, "which a secret key never does"),
        ({"digits": "11"}, "Enter a number from 5 to 10."),
        ({"period": "0"}, "Enter a number from 1 to"),
        ({"type": "yubikey"}, "Not a valid choice"),
        ({"issuer": "", "name": ""}, "An account needs a name or an issuer."),
        ({"note": "x" * 2001}, "Use at most 2000 characters."),
        ({"new_groups": "ok, bad\u0007group"}, "A group name holds invisible control characters"),
    ],
)
def test_edits_are_validated_with_a_message(app, signed_in, changes, message):
    uuid = add(app, link("GitHub", "alice"))
    response = post_edit(signed_in, uuid, **changes)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert events(app, "account.edit") == []


def test_an_edit_into_another_account_is_refused(app, signed_in):
    uuid = add(app, link("GitHub", "alice"))
    other = add(app, link("GitHub", "bob", OTHER))
    before = account_state(app, uuid), account_state(app, other)
    response = post_edit(signed_in, uuid, name="bob", secret=OTHER)
    assert response.status_code == 409 and "exactly this one" in response.get_data(as_text=True)
    assert (account_state(app, uuid), account_state(app, other)) == before


def test_the_edit_page_of_another_users_account_is_a_404(app, signed_in, make_user):
    make_user("bob")
    uuid = add(app, link("Bank", "bob"), username="bob")
    before = account_state(app, uuid)
    for path in ("", "/edit", "/reveal/secret", "/icon.png"):
        assert signed_in.get(f"/accounts/{uuid}{path}").status_code == 404
    assert account_state(app, uuid) == before  # no reveal was audited, nothing was marked used


# Icons ---------------------------------------------------------------------------------------


def test_brand_icons_are_matched_on_the_issuer_and_served_by_the_app(app, signed_in):
    for issuer in ("github.com", "GitHub (work)", "Twitter", "Some Local Bank"):
        add(app, link(issuer, "alice"), name=issuer)
    html = signed_in.get("/").get_data(as_text=True)
    assert html.count('src="/icons/brand/github.svg"') == 2 and 'src="/icons/brand/x.svg"' in html
    assert 'class="avatar tile tile-' in html  # the bank gets its letter tile
    assert "cdn" not in html.lower()
    svg = signed_in.get("/icons/brand/github.svg")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert svg.get_data(as_text=True).startswith('<svg fill="#181717"')
    assert "sandbox" in svg.headers["Content-Security-Policy"]
    assert signed_in.get("/icons/brand/no-such-brand.svg").status_code == 404
    assert signed_in.get("/icons/brand/..%2Fsimple-icons.json.svg").status_code == 404


def test_a_custom_icon_is_re_encoded_and_can_be_replaced_by_a_letter(app, signed_in):
    uuid = add(app, link("GitHub", "alice"))
    photo = Image.new("RGB", (600, 400), (200, 30, 30))
    jpeg = png(photo, "JPEG")
    response = post_edit(signed_in, uuid, icon="custom", files={"icon_file": (io.BytesIO(jpeg), "me.jpg")})
    assert response.status_code == 302
    html = signed_in.get("/").get_data(as_text=True)
    url = re.search(rf'src="(/accounts/{uuid}/icon.png\?v=[0-9a-f]+)"', html).group(1)
    served = signed_in.get(url)
    assert served.mimetype == "image/png" and served.data != jpeg
    with Image.open(io.BytesIO(served.data)) as icon:
        assert icon.format == "PNG" and max(icon.size) == 128
    assert "private" in served.headers["Cache-Control"]
    # Keeping "custom" without a new file keeps the image.
    assert post_edit(signed_in, uuid, icon="custom", note="kept").status_code == 302
    assert url in signed_in.get("/").get_data(as_text=True)
    assert post_edit(signed_in, uuid, icon="letter").status_code == 302
    html = signed_in.get("/").get_data(as_text=True)
    assert f"/accounts/{uuid}/icon.png" not in html and "/icons/brand/github.svg" not in html
    assert 'class="avatar tile tile-' in html
    assert post_edit(signed_in, uuid, icon="auto").status_code == 302
    assert "/icons/brand/github.svg" in signed_in.get("/").get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AccountIcon)) == 0


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        (b"GIF89a-not-really", 422, "The icon must be a PNG, JPEG or WebP image."),
        (png(Image.new("RGB", (10, 10)), "GIF"), 422, "The icon must be a PNG, JPEG or WebP image."),
        (b"\x89PNG" + b"\0" * (256 * 1024), 422, "The icon must be 256 KB or smaller."),
    ],
    ids=["junk", "gif", "too-big"],
)
def test_bad_icons_get_a_clear_message(app, signed_in, data, status, message):
    uuid = add(app, link("GitHub", "alice"))
    response = post_edit(signed_in, uuid, icon="custom", files={"icon_file": (io.BytesIO(data), "icon.png")})
    assert response.status_code == status and message in response.get_data(as_text=True)
    custom = post_edit(signed_in, uuid, icon="custom")
    assert custom.status_code == 422 and "Choose an image for the icon." in custom.get_data(as_text=True)


# The trash --------------------------------------------------------------------------------------


def test_the_trash_lists_restores_and_purges(app, signed_in):
    first, second, third = (add(app, link(name, "x", secret)) for name, secret in
                            (("One", SECRET), ("Two", OTHER), ("Three", THIRD)))
    token = csrf_from(signed_in.get("/").get_data(as_text=True))
    for uuid in (first, second, third):
        signed_in.post(f"/accounts/{uuid}/delete", data={"csrf_token": token})
    assert "Trash (3)" in signed_in.get("/").get_data(as_text=True)
    page = signed_in.get("/accounts/trash").get_data(as_text=True)
    assert all(f"trashed-{uuid}" in page for uuid in (first, second, third))
    response = signed_in.post(f"/accounts/{first}/restore", data={"csrf_token": token, "next": "trash"})
    assert response.headers["Location"] == "/accounts/trash" and stored(app) == [("One", "x")]
    assert signed_in.post(f"/accounts/{first}/purge", data={"csrf_token": token}).status_code == 404  # live
    response = signed_in.post(f"/accounts/{second}/purge", data={"csrf_token": token})
    assert response.status_code == 302 and "Deleted Two for good." in signed_in.get("/accounts/trash").get_data(
        as_text=True)
    signed_in.post("/accounts/trash/empty", data={"csrf_token": token})
    assert "The trash is empty." in signed_in.get("/accounts/trash").get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Account)) == 1
    assert len(events(app, "account.purge")) == 2


def test_undo_right_after_a_delete_from_the_detail_page(app, signed_in):
    uuid = add(app, link("GitHub", "alice"))
    token = csrf_from(signed_in.get(f"/accounts/{uuid}").get_data(as_text=True))
    response = signed_in.post(f"/accounts/{uuid}/delete", data={"csrf_token": token, "next": "detail"})
    page = signed_in.get(response.headers["Location"]).get_data(as_text=True)
    assert "Moved GitHub to the trash." in page and f"/accounts/{uuid}/restore" in page and "Undo" in page


# Finding and organising -------------------------------------------------------------------------


@pytest.fixture
def several(app, signed_in):
    uuids = {
        "github": add(app, link("GitHub", "alice@work.example"), note="Company SSO"),
        "gitlab": add(app, link("GitLab", "alice", OTHER)),
        "bank": add(app, link("Bank_of_100%", "savings", THIRD), note="call 0800"),
        "aws": add(app, link("AWS", "root", "MFRGGZDFMZTWQ2LK")),
    }
    with app.app_context():
        v = vault(app)
        v.update(uuids["github"], v.spec(v.get(uuids["github"])), groups=["Work", "Code"])
        v.update(uuids["gitlab"], v.spec(v.get(uuids["gitlab"])), groups=["Code"])
        db.session.commit()
    return uuids


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("git", ["GitHub", "GitLab"]),
        ("GITHUB", ["GitHub"]),
        ("work", ["GitHub"]),  # the account name, and the group Work
        ("sso", ["GitHub"]),  # the note
        ("code", ["GitHub", "GitLab"]),  # the group
        ("git alice", ["GitHub", "GitLab"]),
        ("git root", []),  # every word must match
        ("100%", ["Bank_of_100%"]),
        ("_", ["Bank_of_100%"]),  # LIKE wildcards are literal
        ("%", ["Bank_of_100%"]),
    ],
)
def test_search_as_you_type_matches_issuer_name_note_and_group(several, signed_in, query, expected):
    html = signed_in.get(f"/?q={quote(query)}", headers=HTMX).get_data(as_text=True)
    assert sorted(listed(html)) == sorted(expected)
    if not expected:
        assert "No account matches" in html


def test_the_search_box_debounces_and_the_refresh_keeps_the_search(several, signed_in):
    page = signed_in.get("/").get_data(as_text=True)
    assert re.search(r'<input id="account-search"[^>]*hx-trigger="input changed delay:\d+ms, search"', page, re.S)
    assert 'aria-keyshortcuts="/"' in page and '<label class="visually-hidden" for="account-search">' in page
    fragment = signed_in.get("/?q=git&group=Code&sort=issuer", headers=HTMX).get_data(as_text=True)
    refresh = html.unescape(re.search(r'<section id="codes"[^>]*hx-get="([^"]+)"', fragment).group(1))
    assert parse_qs(urlsplit(refresh).query) == {"q": ["git"], "group": ["Code"], "sort": ["issuer"]}


def test_a_filtered_list_carries_the_whole_vaults_revision(several, signed_in):
    revision = r'data-vault-revision="([0-9a-f]+)"'
    whole = re.search(revision, signed_in.get("/", headers=HTMX).get_data(as_text=True)).group(1)
    for query in ("?q=git", "?group=Work", "?sort=issuer"):
        html = signed_in.get("/" + query, headers=HTMX).get_data(as_text=True)
        assert re.search(revision, html).group(1) == whole


def test_groups_filter_rename_merge_and_delete(app, several, signed_in):
    html = signed_in.get("/?group=Code", headers=HTMX).get_data(as_text=True)
    assert listed(html) == ["GitHub", "GitLab"]
    page = signed_in.get("/accounts/groups").get_data(as_text=True)
    assert "Code" in page and "2 accounts" in page and "1 account" in page
    token = csrf_from(page)
    response = signed_in.post("/accounts/groups/rename", data={"csrf_token": token, "group": "Work", "name": "code"})
    assert response.status_code == 302  # merged into Code (names match ignoring case)
    with app.app_context():
        assert list(db.session.scalars(select(Group.name))) == ["Code"]
    bad = signed_in.post("/accounts/groups/rename", data={"csrf_token": token, "group": "Code", "name": " "})
    assert bad.status_code == 422 and "A group needs a name" in bad.get_data(as_text=True)
    assert signed_in.post("/accounts/groups/rename", data={"csrf_token": token, "group": "Nope",
                                                           "name": "x"}).status_code == 404
    signed_in.post("/accounts/groups/delete", data={"csrf_token": token, "group": "Code"})
    assert stored(app) and "No groups yet" in signed_in.get("/accounts/groups").get_data(as_text=True)
    assert sorted(listed(signed_in.get("/", headers=HTMX).get_data(as_text=True))) == ["AWS", "Bank_of_100%",
                                                                                      "GitHub", "GitLab"]


def test_a_group_left_without_accounts_disappears(app, several, signed_in):
    post_edit(signed_in, several["gitlab"], issuer="GitLab")
    post_edit(signed_in, several["github"], name="alice@work.example", note="Company SSO")
    with app.app_context():
        assert list(db.session.scalars(select(Group.name))) == []


def test_orders_favorites_and_the_remembered_choice(app, several, signed_in):
    token = csrf_from(signed_in.get("/").get_data(as_text=True))
    assert listed(signed_in.get("/?sort=manual", headers=HTMX).get_data(as_text=True)) == [
        "GitHub", "GitLab", "Bank_of_100%", "AWS"]
    assert listed(signed_in.get("/?sort=issuer", headers=HTMX).get_data(as_text=True)) == [
        "AWS", "Bank_of_100%", "GitHub", "GitLab"]
    # The order chosen last is remembered.
    assert listed(signed_in.get("/", headers=HTMX).get_data(as_text=True))[0] == "AWS"
    signed_in.post(f"/accounts/{several['bank']}/used", data={"csrf_token": token})
    signed_in.post(f"/accounts/{several['gitlab']}/used", data={"csrf_token": token})
    recent = listed(signed_in.get("/?sort=recent", headers=HTMX).get_data(as_text=True))
    assert recent[:2] == ["GitLab", "Bank_of_100%"]
    favorite = signed_in.post(f"/accounts/{several['aws']}/favorite", data={"csrf_token": token, "favorite": "1"},
                              headers={**HTMX, "HX-Current-URL": "http://localhost/?sort=recent"})
    html = favorite.get_data(as_text=True)
    assert listed(html)[:3] == ["AWS", "GitLab", "Bank_of_100%"]  # pinned on top, in the page's order
    assert 'aria-pressed="true"' in html
    for sort in ("manual", "issuer"):
        assert listed(signed_in.get(f"/?sort={sort}", headers=HTMX).get_data(as_text=True))[0] == "AWS"
    assert signed_in.get("/?sort=nonsense", headers=HTMX).status_code == 200
    assert [e["favorite"] for e in events(app, "account.favorite")] == [True]


def test_the_lists_stars_post_to_one_url_with_the_account_as_their_value(app, several, signed_in):
    """The list's stars (issue 21: no URL of its own in every row): `star` or `unstar`, the uuid."""
    token = csrf_from(signed_in.get("/").get_data(as_text=True))
    starred = signed_in.post("/accounts/favorites", data={"csrf_token": token, "star": several["aws"]}, headers=HTMX)
    assert starred.status_code == 200 and listed(starred.get_data(as_text=True))[0] == "AWS"
    assert f'name="unstar" value="{several["aws"]}" aria-pressed="true"' in starred.get_data(as_text=True)
    unstarred = signed_in.post("/accounts/favorites", data={"csrf_token": token, "unstar": several["aws"]})
    assert unstarred.status_code == 302 and unstarred.headers["Location"] == "/"
    assert [e["favorite"] for e in events(app, "account.favorite")] == [True, False]
    before = account_state(app, several["aws"])
    assert signed_in.post("/accounts/favorites", data={"csrf_token": token}).status_code == 400
    assert signed_in.post("/accounts/favorites", data={"csrf_token": token, "star": "nope"}).status_code == 404
    assert signed_in.post("/accounts/favorites", data={"star": several["aws"]}).status_code == 400  # no CSRF token
    assert account_state(app, several["aws"]) == before


def test_using_a_code_is_no_change_of_the_account(app, several, signed_in):
    token = csrf_from(signed_in.get("/").get_data(as_text=True))
    before = len(events(app, "account.edit")) + len(events(app, "account.favorite"))
    response = signed_in.post(f"/accounts/{several['aws']}/used", data={"csrf_token": token})
    assert response.status_code == 204
    with app.app_context():
        account = db.session.scalar(select(Account).where(Account.uuid == several["aws"]))
        assert account.last_used_at is not None and account.revision == 1
    assert len(events(app, "account.edit")) + len(events(app, "account.favorite")) == before
    assert signed_in.post("/accounts/nope/used", data={"csrf_token": token}).status_code == 404
    assert signed_in.post(f"/accounts/{several['aws']}/used").status_code == 400  # CSRF


def test_the_order_is_stored_on_the_server(app, several, signed_in):
    token = csrf_from(signed_in.get("/").get_data(as_text=True))
    manual = {**HTMX, "HX-Current-URL": "http://localhost/?sort=manual"}
    response = signed_in.post(f"/accounts/{several['aws']}/move", data={"csrf_token": token,
                                                                          "before": several["github"]}, headers=manual)
    assert listed(response.get_data(as_text=True)) == ["AWS", "GitHub", "GitLab", "Bank_of_100%"]
    response = signed_in.post(f"/accounts/{several['github']}/move", data={"csrf_token": token, "before": ""},
                              headers=manual)
    assert listed(response.get_data(as_text=True)) == ["AWS", "GitLab", "Bank_of_100%", "GitHub"]
    assert listed(signed_in.get("/?sort=manual").get_data(as_text=True)) == ["AWS", "GitLab", "Bank_of_100%", "GitHub"]
    with app.app_context():
        positions = list(db.session.scalars(select(Account.position).order_by(Account.position)))
        assert positions == [1, 2, 3, 4]
    assert len(events(app, "account.move")) == 2
    assert signed_in.post(f"/accounts/{several['aws']}/move", data={"csrf_token": token,
                                                                      "before": "nope"}).status_code == 404


def test_reordering_is_offered_only_in_the_users_own_order(several, signed_in):
    assert "data-reorder" in signed_in.get("/?sort=manual", headers=HTMX).get_data(as_text=True)
    html = signed_in.get("/?sort=issuer", headers=HTMX).get_data(as_text=True)
    assert "data-reorder" not in html and "data-move-url" not in html


def test_other_users_cannot_touch_an_account(app, signed_in, make_user):
    make_user("bob")
    uuid = add(app, link("Bank", "bob"), username="bob")
    before = account_state(app, uuid)
    token = csrf_from(signed_in.get("/").get_data(as_text=True))
    for action in ("favorite", "move", "used", "purge"):
        assert signed_in.post(f"/accounts/{uuid}/{action}", data={"csrf_token": token}).status_code == 404
    assert account_state(app, uuid) == before
    assert "Bank" not in signed_in.get("/?q=bank").get_data(as_text=True).split('id="codes"')[1]


def test_the_list_is_accessible(app, several, signed_in):
    html = signed_in.get("/").get_data(as_text=True)
    row = re.search(rf'<li class="account" id="account-{several["github"]}" data-period="30">(.*?)</li>', html,
                    re.DOTALL).group(1)
    key = re.search(r'<span id="c(\d+)">', row).group(1)
    # The copy button is named by what it does and the code it shows (Lighthouse's
    # label-content-name-mismatch: the name holds the visible text), and described by the seconds
    # left, which the clock says once for every account of the period.
    # The words are its content, visually hidden; the id keeps the focus across refreshes.
    assert re.search(rf'<button class="code" type="button" id="copy-{key}" aria-describedby="left-30">'
                     rf'<span class="visually-hidden">Copy the code for GitHub</span> <span id="c{key}">', row)
    assert re.search(r'<span id="left-30">\d+ seconds? left</span>', html)  # "1 second left" in the last second
    assert 'aria-label="Favorite: GitHub"' in row and 'aria-pressed="false"' in row
    assert 'aria-label="Delete GitHub"' in row
    # The time left is shown once for the page, hidden from screen readers (the clock says it).
    countdown = (r'<p class="countdown( countdown-ending)?" data-period="30"><span class="countdown-ring">'
                 r'<span class="countdown-seconds">\d+</span></span></p>')
    assert re.search(r'<div id="codes-countdown" class="countdowns" aria-hidden="true">\s*' + countdown, html)
    assert '<ul class="account-list" aria-label="Accounts">' in html
    assert '<label for="list-sort">Order</label>' in html
    assert 'role="status" aria-live="polite"' in html


# The detail page and its reveals -------------------------------------------------------------------


def test_the_detail_page_shows_every_parameter_and_the_dates(app, signed_in):
    uuid = add(app, link("Bank", "carol", OTHER, algorithm="SHA256", digits="8", period="60"), note="Branch 12")
    token = csrf_from(signed_in.get("/").get_data(as_text=True))
    signed_in.post(f"/accounts/{uuid}/used", data={"csrf_token": token})
    html = signed_in.get(f"/accounts/{uuid}").get_data(as_text=True)
    for text in ("Bank", "carol", "Time-based (TOTP)", "SHA256", "<dd>8</dd>", "60 seconds", "Branch 12",
                 "Created", "Modified", "Last used", 'id="sync-state"'):
        assert text in html, text
    assert html.count(" UTC</time>") == 3
    assert OTHER not in html and "reveal/secret" in html


@pytest.mark.parametrize("what", ["secret", "qr", "uri"])
def test_each_reveal_needs_a_recent_password_and_is_audited(app, signed_in, what):
    uuid = add(app, link("Bank", "carol", OTHER))
    age_reauth(app)
    response = signed_in.get(f"/accounts/{uuid}/reveal/{what}")
    assert response.status_code == 302 and "/reauth?next=" in response.headers["Location"]
    assert events(app, "account.reveal") == []
    post_form(signed_in, "/reauth", f"/reauth?next=/accounts/{uuid}/reveal/{what}", {"password": TEST_PASSWORD})
    response = signed_in.get(f"/accounts/{uuid}/reveal/{what}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    expected = parse_uri(link("Bank", "carol", OTHER))
    if what == "secret":
        assert "GEZD GNBV GY3T QOJQ" in html
    elif what == "uri":
        assert "otpauth://totp/Bank:carol?secret=GEZDGNBVGY3TQOJQ&amp;issuer=Bank" in html
    else:
        data = re.search(r'src="data:image/png;base64,([^"]+)"', html).group(1)
        [code] = zxingcpp.read_barcodes(Image.open(io.BytesIO(base64.b64decode(data))), formats=QR_ONLY)
        assert parse_uri(code.text) == expected
        assert OTHER not in html
    assert events(app, "account.reveal") == [{"account": uuid, "what": what}]
    assert signed_in.get(f"/accounts/{uuid}/reveal/everything").status_code == 404


# The command line ----------------------------------------------------------------------------------


def test_the_cli_lists_groups_favorites_and_notes(app, user):
    uuid = add(app, link("GitHub", "alice"), note="work laptop", favorite=True, groups=("Work", "Code"))
    result = app.test_cli_runner().invoke(args=["accounts", "list", "--user", "alice", "--json"])
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.output)
    assert row["id"] == uuid and row["groups"] == ["Code", "Work"] and row["favorite"] is True
    assert row["note"] == "work laptop" and SECRET not in result.output
    result = app.test_cli_runner().invoke(args=["accounts", "rm", "--user", "alice", uuid])
    assert result.exit_code == 0 and stored(app) == []


