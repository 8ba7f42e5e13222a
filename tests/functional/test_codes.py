"""The code list and the account actions, through the Flask test client."""

from __future__ import annotations

import hashlib
import re
from concurrent.futures import ThreadPoolExecutor

import pyotp
import pytest
from sqlalchemy import select

from tests.conftest import account_state, csrf_from, post_form
from webauth import create_app
from webauth.extensions import db
from webauth.keys import keyring
from webauth.listing import BOUNDARY_MARGIN_MS, PREVIEW_SECONDS
from webauth.models import Account, AuditEvent, User
from webauth.otpauth import parse_uri
from webauth.vault import Vault

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def add(app, uri: str, username: str = "alice") -> str:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        account = Vault(user, keyring()).add(parse_uri(uri))
        db.session.commit()
        return account.uuid


def codes_in(html: str) -> list[str]:
    return [code.replace(" ", "") for code in re.findall(r'<span id="c\d+">([^<]*)<', html)]


def test_the_page_and_the_fragment_come_from_one_template(app, signed_in):
    add(app, f"otpauth://totp/GitHub:alice?secret={SECRET}&issuer=GitHub")
    page = signed_in.get("/")
    fragment = signed_in.get("/", headers={"HX-Request": "true"})
    page_html, fragment_html = page.get_data(as_text=True), fragment.get_data(as_text=True)
    assert page_html.startswith("<!doctype html>") and not fragment_html.lstrip().startswith("<!doctype")
    assert fragment_html.lstrip().startswith('<section id="codes"')
    assert '<section id="codes"' in page_html
    for response in (page, fragment):
        assert "HX-Request" in response.headers["Vary"]
        assert response.headers["Cache-Control"] == "no-store"


def test_the_code_shown_is_pyotps(app, signed_in, frozen_clock):
    add(app, f"otpauth://totp/GitHub:alice?secret={SECRET}&issuer=GitHub")
    add(app, f"otpauth://totp/AWS:root?secret={SECRET}&issuer=AWS&algorithm=SHA256&digits=8&period=60")
    html = signed_in.get("/").get_data(as_text=True)
    at = frozen_clock.now()
    sha256 = pyotp.TOTP(SECRET, digits=8, interval=60, digest=hashlib.sha256).at(at)
    assert sorted(codes_in(html)) == sorted([sha256, pyotp.TOTP(SECRET).at(at)])


@pytest.mark.parametrize(
    ("into_period", "delay_s"),
    # Binary fractions of a second, so that float arithmetic gives these delays exactly.
    [
        pytest.param(0.0, 20.0, id="at the boundary: until the preview starts"),
        pytest.param(3.25, 16.75, id="before the preview: until it starts"),
        pytest.param(19.75, 0.25, id="just before the preview"),
        pytest.param(20.0, 10.0, id="as the preview starts: until the boundary"),
        pytest.param(25.5, 4.5, id="in the preview: until the boundary"),
        pytest.param(29.75, 0.25, id="just before the boundary"),
    ],
)
def test_the_list_asks_to_be_refreshed_just_after_the_next_boundary(app, signed_in, frozen_clock, into_period, delay_s):
    add(app, f"otpauth://totp/A:a?secret={SECRET}&period=30")
    frozen_clock.set(1_767_225_600 + into_period)  # 2026-01-01 00:00:00 UTC is a boundary of every 30 s period
    html = signed_in.get("/", headers={"HX-Request": "true"}).get_data(as_text=True)
    delay_ms = int(re.search(r"load delay:(\d+)ms", html).group(1))
    assert delay_ms == int(delay_s * 1000) + BOUNDARY_MARGIN_MS
    assert PREVIEW_SECONDS == 10 and "every 1s" not in html


def test_the_next_code_is_previewed_only_in_the_last_seconds(app, signed_in, frozen_clock):
    add(app, f"otpauth://totp/A:a?secret={SECRET}")
    totp = pyotp.TOTP(SECRET)
    late = 1_767_225_600 + 25  # the period's last 5 seconds
    # Only the codes' clock moves: the session cookie's signature has a timestamp of its own.
    frozen_clock.set(late)
    response = signed_in.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    preview = re.search(r'<span class="next-code" id="n\d+">Next <b>([^<]*)</b>', html).group(1)
    assert preview.replace(" ", "") == totp.at(late + 30)
    early = late - 20
    frozen_clock.set(early)
    response = signed_in.get("/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and len(codes_in(html)) == 1
    # The place stays, empty: the clock fills it in the last seconds.
    assert re.search(r'<span class="next-code" id="n\d+"></span>', html)


def test_hotp_next_code_advances_the_counter(app, signed_in):
    uuid = add(app, f"otpauth://hotp/Bank:alice?secret={SECRET}&counter=5")
    hotp = pyotp.HOTP(SECRET)
    assert codes_in(signed_in.get("/").get_data(as_text=True)) == [hotp.at(5)]
    token = csrf_from(signed_in.get("/").get_data(as_text=True))
    response = signed_in.post(f"/accounts/{uuid}/next", data={"csrf_token": token}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert codes_in(response.get_data(as_text=True)) == [hotp.at(6)]


def test_hotp_next_is_atomic_under_concurrent_clicks(app, app_config, user):
    uuid = add(app, f"otpauth://hotp/Bank:alice?secret={SECRET}&counter=0")
    # Another process's app, built before the threads start: each click runs in its own app
    # context, so with its own database session and connection, as requests do.
    other = create_app(dict(app_config))

    def click(_):
        with other.app_context():
            account_owner = db.session.get(User, user.id)
            counter = Vault(account_owner, keyring()).advance_hotp(uuid).counter
            db.session.commit()
            return counter

    with ThreadPoolExecutor(max_workers=4) as pool:
        counters = sorted(pool.map(click, range(8)))
    assert counters == list(range(1, 9))
    with app.app_context():
        assert db.session.scalar(select(Account.counter).where(Account.uuid == uuid)) == 8


def test_delete_moves_to_the_trash_and_undo_restores(app, signed_in):
    uuid = add(app, f"otpauth://totp/GitHub:alice?secret={SECRET}&issuer=GitHub")
    token = csrf_from(signed_in.get("/").get_data(as_text=True))
    response = signed_in.post(f"/accounts/{uuid}/delete", data={"csrf_token": token}, headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert "Moved GitHub to the trash." in html and f"/accounts/{uuid}/restore" in html
    assert codes_in(html) == []
    with app.app_context():
        assert db.session.scalar(select(Account.deleted_at).where(Account.uuid == uuid)) is not None
    response = signed_in.post(f"/accounts/{uuid}/restore", data={"csrf_token": token}, headers={"HX-Request": "true"})
    assert len(codes_in(response.get_data(as_text=True))) == 1
    with app.app_context():
        events = [e.event for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert events[-3:] == ["account.add", "account.delete", "account.restore"]


def test_delete_without_javascript_redirects_with_undo(app, signed_in):
    uuid = add(app, f"otpauth://totp/GitHub:alice?secret={SECRET}&issuer=GitHub")
    token = csrf_from(signed_in.get("/").get_data(as_text=True))
    response = signed_in.post(f"/accounts/{uuid}/delete", data={"csrf_token": token})
    assert response.status_code == 302
    assert "Undo" in signed_in.get(response.headers["Location"]).get_data(as_text=True)


def test_another_users_account_is_a_404(app, signed_in, make_user):
    make_user("bob")
    uuid = add(app, f"otpauth://hotp/Bank:bob?secret={SECRET}", username="bob")
    before = account_state(app, uuid)
    token = csrf_from(signed_in.get("/").get_data(as_text=True))
    for action in ("next", "delete", "restore"):
        assert signed_in.post(f"/accounts/{uuid}/{action}", data={"csrf_token": token}).status_code == 404
    assert signed_in.post("/accounts/not-a-uuid/delete", data={"csrf_token": token}).status_code == 404
    assert account_state(app, uuid) == before  # bob's counter did not move, nothing was trashed or audited


def test_pages_with_codes_need_a_session(client, user):
    page = client.get("/?sort=name")
    assert page.status_code == 302 and page.headers["Location"] == "/login?next=%2F%3Fsort%3Dname"
    # htmx would swap a followed redirect's sign-in page into the list: it is told to load the page instead.
    fragment = client.get("/", headers={"HX-Request": "true", "HX-Current-URL": "http://localhost/?sort=name"})
    assert fragment.status_code == 401 and fragment.get_data() == b""
    assert fragment.headers["HX-Redirect"] == "/login?next=%2F%3Fsort%3Dname"


def test_add_by_link(app, signed_in):
    uri = f"otpauth://totp/GitHub:alice?secret={SECRET}&issuer=GitHub"
    response = post_form(signed_in, "/accounts/new", "/accounts/new/uri", {"uri-uri": uri})
    assert response.status_code == 302
    assert "Added GitHub: alice." in signed_in.get("/").get_data(as_text=True)
    again = post_form(signed_in, "/accounts/new", "/accounts/new/uri", {"uri-uri": uri})
    assert again.status_code == 409
    assert "already in your vault" in again.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(Account).count() == 1


def test_the_same_name_with_another_secret_is_a_second_account(app, signed_in):
    post_form(signed_in, "/accounts/new", "/accounts/new/uri",
              {"uri-uri": f"otpauth://totp/GitHub:alice?secret={SECRET}&issuer=GitHub"})
    response = post_form(signed_in, "/accounts/new", "/accounts/new/uri",
                         {"uri-uri": "otpauth://totp/GitHub:alice?secret=GEZDGNBVGY3TQOJQ&issuer=GitHub"})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.query(Account).count() == 2


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        (
            "https://example.com",
            "This is not a two-factor link: such links start with otpauth:// (or motp://), and this one starts "
            "with &#39;https&#39;.",
        ),
        ("otpauth://totp/A:b?secret=NOT*BASE32", "The secret key holds &#39;*&#39;, which a secret key never does"),
        ("otpauth://totp/A:b?secret=JBSWY3DPEHPK3PXP&digits=3", "A code must have 5 to 10 digits, not 3."),
        ("otpauth://totp/A:b?secret=JBSWY3DPEHPK3PXP&algorithm=MD5", "The algorithm &#39;MD5&#39; is not supported"),
    ],
)
def test_a_bad_link_gets_a_precise_message(app, signed_in, uri, message):
    """Said in a sentence for people: no "uri:" or "digits:" of the parser's field names before it."""
    response = post_form(signed_in, "/accounts/new", "/accounts/new/uri", {"uri-uri": uri})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html
    assert not re.search(r"\b(uri|secret|digits|algorithm): ", html)
    with app.app_context():
        assert db.session.query(Account).count() == 0


def test_the_manual_form_offers_every_parameter(app, signed_in):
    data = {
        "manual-issuer": "Bank", "manual-name": "alice", "manual-secret": "jbsw y3dp ehpk 3pxp",
        "manual-type": "hotp", "manual-algorithm": "SHA512", "manual-digits": "8", "manual-period": "30",
        "manual-counter": "42",
    }
    assert post_form(signed_in, "/accounts/new", "/accounts/new/manual", data).status_code == 302
    with app.app_context():
        account = db.session.scalar(select(Account))
        assert (account.type, account.algorithm, account.digits, account.counter) == ("hotp", "SHA512", 8, 42)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("manual-secret", "0000", "which a secret key never does"),
        ("manual-digits", "4", "Enter a number from 5 to 10."),
        ("manual-period", "0", "Enter a number from 1 to"),
        ("manual-type", "yubikey", "Not a valid choice"),
    ],
)
def test_the_manual_form_refuses_bad_values_with_a_message(app, signed_in, field, value, message):
    data = {"manual-issuer": "Bank", "manual-name": "alice", "manual-secret": "JBSWY3DPEHPK3PXP",
            "manual-type": "totp", "manual-algorithm": "SHA1", "manual-digits": "6", "manual-period": "30",
            "manual-counter": "0", field: value}
    response = post_form(signed_in, "/accounts/new", "/accounts/new/manual", data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(Account).count() == 0




def test_without_javascript_every_row_action_is_a_button_of_the_lists_one_form(app, signed_in):
    """A browser without JavaScript submits `#list-actions` to the button's `formaction`, with
    the form's one CSRF token and the button's own name and value: favorite, next code and undo
    all work so, and each answers with the list. Delete asks on a page of its own first."""
    totp = add(app, f"otpauth://totp/GitHub:alice?secret={SECRET}&issuer=GitHub")
    hotp = add(app, f"otpauth://hotp/Bank:alice?secret={SECRET}&counter=1")
    page = signed_in.get("/").get_data(as_text=True)
    form = re.search(r'<form id="list-actions" method="post" action="([^"]+)"[^>]*>\s*<input type="hidden" '
                     r'name="csrf_token" value="([^"]+)">', page)
    listed = page[page.index('<section id="codes"') : page.index("</section>")]
    assert form and listed.count('name="csrf_token"') == 1  # the list's one form: none per row

    def press(html: str, label: str):
        """What a browser sends for a submit button of `#list-actions`: one inside it (the rows'),
        or one naming it (`form`); to its `formaction`, else to the form's `action`."""
        button = re.search(rf'<button ([^>]*)aria-label="{label}"[^>]*>', html) \
            or re.search(rf'<button ([^>]*)>{label}<', html)
        assert button, label
        attributes = button.group(1)
        start = html.index('<form id="list-actions"')
        inside = button.start() > start and button.end() < html.index("</form>", start)
        assert (inside or 'form="list-actions"' in attributes) and 'type="button"' not in attributes
        data = {"csrf_token": form.group(2)}
        named = re.search(r'name="(\w+)" value="([\w-]*)"', attributes)
        if named:
            data[named.group(1)] = named.group(2)
        own = re.search(r'formaction="([^"]+)"', attributes)
        response = signed_in.post(own.group(1) if own else form.group(1), data=data)
        assert response.status_code == 302
        return signed_in.get(response.headers["Location"]).get_data(as_text=True)

    page = press(page, "Favorite: GitHub")
    assert f'name="unstar" value="{totp}" aria-pressed="true" aria-label="Favorite: GitHub"' in page
    page = press(page, "Next code")
    assert pyotp.HOTP(SECRET).at(2) in codes_in(page)
    # Delete asks first: the row's trash button is a link to "Move GitHub to the trash?".
    asked = re.search(r'<a class="delete" href="([^"]+)"[^>]*aria-label="Delete GitHub"', page)
    question = signed_in.get(asked.group(1)).get_data(as_text=True)
    confirm = re.search(r'<form class="actions" method="post" action="([^"]+)">\s*<input type="hidden" '
                        r'name="csrf_token" value="([^"]+)">', question)
    response = signed_in.post(confirm.group(1), data={"csrf_token": confirm.group(2)})
    page = signed_in.get(response.headers["Location"]).get_data(as_text=True)
    assert "Moved GitHub to the trash." in page and len(codes_in(page)) == 1
    page = press(page, "Undo")
    assert len(codes_in(page)) == 2
    with app.app_context():
        counter, favorite = db.session.execute(
            select(Account.favorite, Account.counter).where(Account.uuid.in_([totp, hotp])).order_by(Account.type)
        ).all()
        assert counter == (False, 2) and favorite == (True, 0)
