"""Sharing an account with people and teams, through the pages: the owner shares and removes,
the recipient sees the live code marked with who shared it, and never the secret."""

from __future__ import annotations

import html
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.conftest import post_form, sign_in
from tests.support.accounts import HTMX, SECRET, add, events, link
from webauth import clock
from webauth.extensions import db
from webauth.models import Account, User
from webauth.otp import OtpParams, OtpType, code_at
from webauth.otpauth import decode_secret
from webauth.sharing import teams
from webauth.sharing.models import Share

pytestmark = pytest.mark.usefixtures("frozen_clock")

HOTP_SECRET = "GEZDGNBVGY3TQOJQ"


def totp_code(secret: str = SECRET, at: float | None = None) -> str:
    params = OtpParams(type=OtpType.TOTP, secret=decode_secret(secret))
    return code_at(params, clock.now() if at is None else at)


def hotp_code(counter: int, secret: str = HOTP_SECRET) -> str:
    return code_at(OtpParams(type=OtpType.HOTP, secret=decode_secret(secret), counter=counter))


@pytest.fixture
def people(app: Flask, make_user) -> dict[str, User]:
    return {name: make_user(name, admin=name == "alice") for name in ("alice", "bob", "carol")}


@pytest.fixture
def owner(app: Flask, people) -> FlaskClient:
    client = app.test_client()
    sign_in(client, "alice")
    return client


@pytest.fixture
def bob(app: Flask, people) -> FlaskClient:
    client = app.test_client()
    sign_in(client, "bob")
    return client


def share(client: FlaskClient, uuid: str, name: str, kind: str = "user", headers: dict | None = None, **extra):
    page = f"/accounts/{uuid}"
    data = {"with": name, "kind": kind, **extra}
    return post_form(client, page, f"/accounts/{uuid}/share", data, headers=headers or {})


def shares_of(app: Flask, uuid: str) -> int:
    with app.app_context():
        account = db.session.scalar(select(Account).where(Account.uuid == uuid))
        return len(db.session.scalars(select(Share).where(Share.account_id == account.id)).all())


def test_a_shared_account_shows_in_the_recipients_list_with_its_live_code(app, owner, bob):
    uuid = add(app, link("GitHub", "alice@example.com"))
    assert "Shared with me" not in bob.get("/").get_data(as_text=True)
    response = share(owner, uuid, "bob")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/accounts/{uuid}#share")
    page = owner.get(f"/accounts/{uuid}").get_data(as_text=True)
    assert "bob" in page and "Nobody else has access" not in page

    listed = bob.get("/").get_data(as_text=True)
    assert "Shared with me" in listed and "Shared by alice" in listed
    assert f'id="shared-{uuid}"' in listed
    assert totp_code().replace(" ", "") in listed.replace(" ", "")
    assert f"/shared/{uuid}" in listed
    # carol, with whom nothing is shared, sees nothing of it
    carol = app.test_client()
    sign_in(carol, "carol")
    assert "GitHub" not in carol.get("/").get_data(as_text=True)
    assert events(app, "share.add") == [{"account": uuid, "kind": "user", "with": "bob"}]


def test_search_and_the_shared_group_find_shared_accounts(app, owner, bob):
    uuid = add(app, link("GitHub", "alice@example.com"))
    add(app, link("Mine", "bob@example.com"), username="bob")
    share(owner, uuid, "bob")
    assert "GitHub" in bob.get("/?q=git").get_data(as_text=True)
    assert "GitHub" in bob.get("/?q=alice").get_data(as_text=True)  # the owner's name
    assert "GitHub" not in bob.get("/?q=gitlab").get_data(as_text=True)
    grouped = bob.get("/?group=:shared").get_data(as_text=True)
    assert "GitHub" in grouped and '<span class="issuer">Mine</span>' not in grouped
    assert '<option value=":shared"' in bob.get("/").get_data(as_text=True)


def test_the_recipients_clock_brings_the_shared_accounts_next_codes(app, owner, bob, frozen_clock):
    uuid = add(app, link("GitHub", "alice@example.com"))
    share(owner, uuid, "bob")
    with app.app_context():
        key = db.session.scalar(select(Account.id).where(Account.uuid == uuid))
    fragment = bob.get("/", headers=HTMX).get_data(as_text=True)
    tick = html.unescape(re.search(r'id="codes-clock" hidden hx-get="([^"]+)"', fragment).group(1))
    frozen_clock.advance(30)
    answer = bob.get(tick, headers=HTMX)
    assert answer.status_code == 200 and "HX-Retarget" not in answer.headers
    codes = dict(re.findall(r'<span id="c(\d+)" hx-swap-oob="innerHTML">([^<]+)</span>', answer.get_data(as_text=True)))
    assert codes[str(key)].replace(" ", "") == totp_code()


def test_a_new_share_redraws_the_recipients_list_at_the_next_tick(app, owner, bob):
    uuid = add(app, link("GitHub", "alice@example.com"))
    add(app, link("Own", "bob@example.com"), username="bob")
    fragment = bob.get("/", headers=HTMX).get_data(as_text=True)
    tick = html.unescape(re.search(r'id="codes-clock" hidden hx-get="([^"]+)"', fragment).group(1))
    share(owner, uuid, "bob")
    answer = bob.get(tick, headers=HTMX)
    assert answer.headers.get("HX-Retarget") == "#codes" and "Shared by alice" in answer.get_data(as_text=True)


def test_the_owner_removes_a_recipient_who_then_loses_the_account(app, owner, bob):
    uuid = add(app, link("GitHub", "alice@example.com"))
    share(owner, uuid, "bob")
    with app.app_context():
        share_id = db.session.scalar(select(Share.id))
    response = post_form(owner, f"/accounts/{uuid}", f"/accounts/{uuid}/share/{share_id}/remove", {})
    assert response.status_code == 302
    assert "GitHub" not in bob.get("/").get_data(as_text=True)
    assert bob.get(f"/shared/{uuid}").status_code == 404
    assert events(app, "share.remove") == [{"account": uuid, "kind": "user", "with": "bob"}]


@pytest.mark.parametrize("name", ["nobody", "alice", ""])
def test_a_share_with_nobody_or_oneself_is_refused_with_a_reason(app, owner, people, name):
    uuid = add(app, link("GitHub", "alice@example.com"))
    response = share(owner, uuid, name)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="share-errors"' in page
    assert shares_of(app, uuid) == 0 and events(app, "share.add") == []


def test_only_the_owner_can_share_or_unshare(app, owner, bob):
    uuid = add(app, link("GitHub", "alice@example.com"))
    share(owner, uuid, "bob")
    # bob sees the account but it is not his to share: the owner's routes answer 404
    assert share(bob, uuid, "carol").status_code == 404
    with app.app_context():
        share_id = db.session.scalar(select(Share.id))
    assert post_form(bob, "/", f"/accounts/{uuid}/share/{share_id}/remove", {}).status_code == 404
    assert shares_of(app, uuid) == 1


def test_sharing_twice_keeps_one_share(app, owner, bob):
    uuid = add(app, link("GitHub", "alice@example.com"))
    share(owner, uuid, "bob")
    share(owner, uuid, "bob")
    assert shares_of(app, uuid) == 1
    assert bob.get("/").get_data(as_text=True).count(f'id="shared-{uuid}"') == 1


def test_trashing_the_account_ends_every_share(app, owner, bob):
    uuid = add(app, link("GitHub", "alice@example.com"))
    share(owner, uuid, "bob")
    post_form(owner, "/", f"/accounts/{uuid}/delete", {})
    assert shares_of(app, uuid) == 0
    assert "GitHub" not in bob.get("/").get_data(as_text=True)
    assert events(app, "share.end") == [{"account": uuid, "reason": "trash", "shares": 1}]
    # restoring it does not share it again
    post_form(owner, "/accounts/trash", f"/accounts/{uuid}/restore", {})
    assert "GitHub" not in bob.get("/").get_data(as_text=True)


def test_the_recipient_may_take_a_shared_account_off_their_list(app, owner, bob):
    uuid = add(app, link("GitHub", "alice@example.com"))
    share(owner, uuid, "bob")
    response = post_form(bob, f"/shared/{uuid}", f"/shared/{uuid}/leave", {})
    assert response.status_code == 302
    assert f'id="shared-{uuid}"' not in bob.get("/").get_data(as_text=True)
    assert "Nobody else has access" in owner.get(f"/accounts/{uuid}").get_data(as_text=True)
    assert events(app, "share.leave") == [{"account": uuid, "kind": "user", "with": "bob"}]


def test_a_team_share_follows_the_teams_members(app, owner, bob, people):
    uuid = add(app, link("GitHub", "alice@example.com"))
    with app.app_context():
        teams.create_team("Ops")
        teams.add_member("Ops", db.session.scalar(select(User).where(User.username == "bob")))
        db.session.commit()
    response = share(owner, uuid, "Ops", kind="group")
    assert response.status_code == 302
    assert "Team Ops" in owner.get(f"/accounts/{uuid}").get_data(as_text=True)
    assert "Shared by alice" in bob.get("/").get_data(as_text=True)
    with app.app_context():
        teams.remove_member("Ops", db.session.scalar(select(User).where(User.username == "bob")))
        db.session.commit()
    assert "GitHub" not in bob.get("/").get_data(as_text=True)


def test_hotp_next_code_for_a_recipient_only_when_the_owner_allows_it(app, owner, bob):
    uuid = add(app, f"otpauth://hotp/Bank:alice?secret={HOTP_SECRET}&issuer=Bank&counter=5")
    share(owner, uuid, "bob")
    page = bob.get("/").get_data(as_text=True)
    assert hotp_code(5).replace(" ", "") in page.replace(" ", "")
    assert f"/shared/{uuid}/next" not in page
    assert post_form(bob, "/", f"/shared/{uuid}/next", {}).status_code == 404

    share(owner, uuid, "bob", allow_hotp_next="1")
    page = bob.get("/").get_data(as_text=True)
    assert f"/shared/{uuid}/next" in page
    assert post_form(bob, "/", f"/shared/{uuid}/next", {}).status_code == 302
    with app.app_context():
        assert db.session.scalar(select(Account.counter).where(Account.uuid == uuid)) == 6
    # From the list with htmx: the refreshed list, showing the next code at once
    token = re.search(r'name="csrf_token" value="([^"]+)"', bob.get("/").get_data(as_text=True)).group(1)
    fragment = bob.post(f"/shared/{uuid}/next", data={"csrf_token": token}, headers=HTMX)
    assert fragment.status_code == 200 and 'id="codes"' in fragment.get_data(as_text=True)
    assert hotp_code(7).replace(" ", "") in fragment.get_data(as_text=True).replace(" ", "")
    assert hotp_code(7).replace(" ", "") in bob.get(f"/shared/{uuid}").get_data(as_text=True).replace(" ", "")
    assert events(app, "account.hotp_next") == [{"account": uuid, "counter": 6}, {"account": uuid, "counter": 7}]


def test_the_recipients_page_asks_for_the_next_periods_code_like_the_owners(app, owner, bob, frozen_clock):
    uuid = add(app, link("GitHub", "alice@example.com"))
    share(owner, uuid, "bob")
    start = frozen_clock.now() - frozen_clock.now() % 30
    frozen_clock.set(start + 10)
    page = bob.get(f"/shared/{uuid}").get_data(as_text=True)
    assert f'data-copy="{totp_code(at=start + 10)}"' in page
    assert f'hx-get="/shared/{uuid}/code"' in page and 'hx-trigger="load delay:10' in page
    # Without JavaScript the page shows the code now and says to reload.
    assert "<noscript>" in page and "reload the page for the current one" in page
    frozen_clock.set(start + 31)
    fragment = bob.get(f"/shared/{uuid}/code", headers=HTMX).get_data(as_text=True)
    assert fragment.lstrip().startswith('<div id="detail-code"')
    assert f'data-copy="{totp_code(at=start + 31)}"' in fragment and 'hx-get="/shared/' in fragment
    assert "Copy the code for GitHub" in fragment and SECRET not in fragment
    # A plain request gets the page; someone the account is not shared with, nothing.
    assert bob.get(f"/shared/{uuid}/code").headers["Location"] == f"/shared/{uuid}"
    carol = app.test_client()
    sign_in(carol, "carol")
    assert carol.get(f"/shared/{uuid}/code", headers=HTMX).status_code == 404
    assert owner.get(f"/shared/{uuid}/code", headers=HTMX).status_code == 404


def test_with_htmx_the_share_section_answers_in_place(app, owner, bob):
    """A share refused, made, or ended from htmx: the "Share" section alone, saying what happened;
    the plain forms (302 and the whole page) are the tests above."""
    uuid = add(app, link("GitHub", "alice@example.com"))
    refused = share(owner, uuid, "nobody", headers=HTMX)
    fragment = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert fragment.lstrip().startswith('<section class="card detail-card share-section" id="share"')
    assert "<html" not in fragment and "There is no user named nobody." in fragment and 'role="alert"' in fragment

    made = share(owner, uuid, "bob", headers=HTMX)
    fragment = made.get_data(as_text=True)
    assert made.status_code == 200 and 'id="share"' in fragment and "<html" not in fragment
    assert "Shared GitHub with bob: they see its codes, never its secret." in fragment
    assert 'aria-label="Remove bob"' in fragment and shares_of(app, uuid) == 1
    # The message was said in place, not kept for the next page too.
    assert "Shared GitHub with bob" not in owner.get(f"/accounts/{uuid}").get_data(as_text=True)

    with app.app_context():
        share_id = db.session.scalar(select(Share.id))
    remove = f"/accounts/{uuid}/share/{share_id}/remove"
    ended = post_form(owner, f"/accounts/{uuid}", remove, {}, headers=HTMX)
    fragment = ended.get_data(as_text=True)
    assert ended.status_code == 200 and "bob no longer has access to GitHub." in fragment
    assert "Nobody else has access." in fragment and "<html" not in fragment
    again = post_form(owner, f"/accounts/{uuid}", remove, {}, headers=HTMX)
    assert again.status_code == 200 and "That share had ended already." in again.get_data(as_text=True)


def test_htmx_swaps_the_share_sections_refusals_in_place():
    """htmx 2 swaps no 4xx by default: base.html's config lets 422 swap (the share section's
    refusals), and no other error status."""
    import json
    from pathlib import Path

    base = (Path(__file__).parents[2] / "templates" / "base.html").read_text()
    config = json.loads(re.search(r'name="htmx-config" content=\'([^\']+)\'', base).group(1))
    swapped = [rule for rule in config["responseHandling"] if rule["swap"]]
    assert [rule["code"] for rule in swapped] == ["[23]..", "422"]


def _user(name: str) -> User:
    return db.session.scalar(select(User).where(User.username == name))


@pytest.mark.parametrize("kind", ["team", "group"])
def test_a_recipient_leaves_a_group_share_which_stays_for_the_others_until_shared_again(app, owner, bob, kind):
    uuid = add(app, link("GitHub", "alice@example.com"))
    with app.app_context():
        if kind == "team":
            teams.create_team("Ops")
        for name in ("bob", "carol"):
            if kind == "team":
                teams.add_member("Ops", _user(name))
            else:
                teams.store_casdoor_groups(_user(name), ["Ops"])
        db.session.commit()
    assert share(owner, uuid, "Ops", kind="group").status_code == 302
    carol = app.test_client()
    sign_in(carol, "carol")
    page = bob.get(f"/shared/{uuid}").get_data(as_text=True)
    assert "removing it hides it from you only, until its owner shares it with you again" in page

    assert post_form(bob, f"/shared/{uuid}", f"/shared/{uuid}/leave", {}).status_code == 302
    assert f'id="shared-{uuid}"' not in bob.get("/").get_data(as_text=True)
    assert bob.get(f"/shared/{uuid}").status_code == 404
    assert post_form(bob, "/", f"/shared/{uuid}/leave", {}).status_code == 404
    assert f'id="shared-{uuid}"' in carol.get("/").get_data(as_text=True)  # the others keep it
    assert shares_of(app, uuid) == 1
    assert "removed from their list by bob" in owner.get(f"/accounts/{uuid}").get_data(as_text=True)
    assert events(app, "share.leave") == [{"account": uuid, "kind": kind, "with": "Ops", "who": "bob"}]
    # A sign-in that says bob is in the group again changes nothing: he left.
    if kind == "group":
        with app.app_context():
            teams.store_casdoor_groups(_user("bob"), ["Ops", "More"])
            db.session.commit()
        assert f'id="shared-{uuid}"' not in bob.get("/").get_data(as_text=True)

    # The owner shares with the group again: it is back for bob.
    assert share(owner, uuid, "Ops", kind="group").status_code == 302
    assert f'id="shared-{uuid}"' in bob.get("/").get_data(as_text=True)
    assert events(app, "share.add")[-1]["again"] == ["bob"]
    # Or shares with bob by name after he left the group's share: bob sees it, and leaving it
    # then ends that share and keeps the group's hidden.
    post_form(bob, f"/shared/{uuid}", f"/shared/{uuid}/leave", {})
    share(owner, uuid, "bob")
    assert f'id="shared-{uuid}"' in bob.get("/").get_data(as_text=True)
    post_form(bob, f"/shared/{uuid}", f"/shared/{uuid}/leave", {})
    assert f'id="shared-{uuid}"' not in bob.get("/").get_data(as_text=True) and shares_of(app, uuid) == 1
