"""Issue 13.2: two identical adds at the same instant keep one account, and positions stay apart.

Both used to find no duplicate and both insert (12 of 15 races on SQLite). Now the vault
takes its lock before it looks, and the database refuses a second live copy (a partial unique
index); either way the second add answers "already in your vault".
"""

from __future__ import annotations

import base64
import os
from functools import partial

from sqlalchemy import func, select

from tests.support.accounts import link
from tests.support.server import race, sign_in, token
from webauth.extensions import db
from webauth.models import Account

ROUNDS = 10


def _add(browser, base: str, csrf: str, uri: str):
    return browser.post(f"{base}/accounts/new/uri", data={"csrf_token": csrf, "uri-uri": uri, "uri-origin": "link"},
                        allow_redirects=False, timeout=60)


def test_two_identical_adds_at_once_keep_one(app, user, served):
    first, second = sign_in(served), sign_in(served)
    for round_number in range(ROUNDS):
        uri = link(f"Race{round_number}", "alice", base64.b32encode(os.urandom(20)).decode())
        tokens = token(first, f"{served}/accounts/new"), token(second, f"{served}/accounts/new")
        answers = race(partial(_add, first, served, tokens[0], uri), partial(_add, second, served, tokens[1], uri))
        assert sorted(answer.status_code for answer in answers) == [302, 409], [a.text[:300] for a in answers]
        refused = next(answer for answer in answers if answer.status_code == 409)
        assert "already in your vault" in refused.text
        with app.app_context():
            copies = db.session.scalar(select(func.count(Account.id)).where(
                Account.issuer == f"Race{round_number}", Account.deleted_at.is_(None)
            ))
        assert copies == 1, f"round {round_number}: {copies} copies"


def test_different_adds_at_once_get_their_own_positions(app, user, served):
    first, second = sign_in(served), sign_in(served)
    for round_number in range(ROUNDS):
        tokens = token(first, f"{served}/accounts/new"), token(second, f"{served}/accounts/new")
        answers = race(
            partial(_add, first, served, tokens[0], link(f"Left{round_number}", "a")),
            partial(_add, second, served, tokens[1], link(f"Right{round_number}", "b")),
        )
        assert [answer.status_code for answer in answers] == [302, 302]
    with app.app_context():
        positions = db.session.scalars(select(Account.position).where(Account.deleted_at.is_(None))).all()
    assert len(positions) == 2 * ROUNDS
    assert len(set(positions)) == len(positions), sorted(positions)
