"""Sharing under concurrency, through gunicorn: two identical shares made at once keep one (the
database's unique constraints), and a recipient's "Next code" and the owner's at once each get
their own counter value (the owner's vault moves it in one UPDATE, whoever clicks)."""

from __future__ import annotations

from functools import partial

from sqlalchemy import func, select

from tests.support.accounts import SECRET, add, events, link
from tests.support.server import race, sign_in, token
from webauth.extensions import db
from webauth.models import Account
from webauth.sharing.models import Share

ROUNDS = 5


def _share(browser, base: str, uuid: str, csrf: str, name: str):
    data = {"csrf_token": csrf, "with": name, "kind": "user", "allow_hotp_next": "1"}
    return browser.post(f"{base}/accounts/{uuid}/share", data=data, allow_redirects=False, timeout=60)


def _next(browser, url: str, csrf: str):
    return browser.post(url, data={"csrf_token": csrf}, allow_redirects=False, timeout=60)


def test_two_identical_shares_at_once_keep_one(app, make_user, served):
    make_user("alice")
    for round_number in range(ROUNDS):
        make_user(f"bob{round_number}")
    uuid = add(app, link("Shop", "alice"))
    laptop, phone = sign_in(served), sign_in(served)
    page = f"{served}/accounts/{uuid}"
    laptop_csrf, phone_csrf = token(laptop, page), token(phone, page)
    for round_number in range(ROUNDS):
        name = f"bob{round_number}"
        answers = race(
            partial(_share, laptop, served, uuid, laptop_csrf, name),
            partial(_share, phone, served, uuid, phone_csrf, name),
        )
        assert [answer.status_code for answer in answers] == [302, 302], [a.text[:300] for a in answers]
        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(Share)) == round_number + 1
    assert len(events(app, "share.add")) == ROUNDS


def test_a_recipients_next_code_and_the_owners_at_once_each_get_their_own(app, make_user, served):
    make_user("alice")
    make_user("bob")
    uuid = add(app, link("Door", "alice", SECRET).replace("totp", "hotp", 1) + "&counter=5")
    owner, recipient = sign_in(served), sign_in(served, "bob")
    _share(owner, served, uuid, token(owner, f"{served}/accounts/{uuid}"), "bob")
    owner_csrf, recipient_csrf = token(owner, f"{served}/"), token(recipient, f"{served}/shared/{uuid}")
    for round_number in range(ROUNDS):
        answers = race(
            partial(_next, owner, f"{served}/accounts/{uuid}/next", owner_csrf),
            partial(_next, recipient, f"{served}/shared/{uuid}/next", recipient_csrf),
        )
        assert [answer.status_code for answer in answers] == [302, 302], [a.text[:300] for a in answers]
        with app.app_context():
            assert db.session.scalar(select(Account.counter).where(Account.uuid == uuid)) == 5 + 2 * (round_number + 1)
    counters = [event["counter"] for event in events(app, "account.hotp_next")]
    assert sorted(counters) == list(range(6, 6 + 2 * ROUNDS))
