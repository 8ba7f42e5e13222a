"""Issue 13.3: an edit page opened before another change does not undo it.

The edit form posts back every field; it used to write them all, so a page opened before
"Next code" moved the counter rewound it (codes already used showed again) and a rename made
meanwhile was undone. Now the page carries its revision and the values it showed: a save from
an older revision answers 409 with what changed, keeps the person's own changes, and a
counter never moves back through an edit.
"""

from __future__ import annotations

import re
from functools import partial

from sqlalchemy import select

from tests.support.accounts import SECRET, add, link
from tests.support.forms import form_fields
from tests.support.server import race, sign_in, token
from webauth.extensions import db
from webauth.models import Account

ROUNDS = 5


def _opened(browser, base: str, uuid: str) -> dict:
    """The edit page's fields, as the browser holds them until the person saves."""
    return form_fields(browser.get(f"{base}/accounts/{uuid}/edit", timeout=30).text, f"/accounts/{uuid}/edit")


def _save(browser, base: str, uuid: str, fields: dict):
    return browser.post(f"{base}/accounts/{uuid}/edit", data=fields, allow_redirects=False, timeout=60)


def _stored(app, uuid: str) -> Account:
    with app.app_context():
        account = db.session.scalar(select(Account).where(Account.uuid == uuid))
        db.session.expunge(account)
        return account


def test_a_stale_edit_page_neither_rewinds_the_counter_nor_undoes_a_rename(app, user, served):
    uuid = add(app, link("Door", "alice", SECRET).replace("totp", "hotp", 1) + "&counter=5")
    laptop, phone = sign_in(served), sign_in(served)
    opened = _opened(laptop, served, uuid)
    assert opened["counter"] == "5"

    csrf = token(phone, f"{served}/")
    for _step in range(3):
        assert phone.post(f"{served}/accounts/{uuid}/next", data={"csrf_token": csrf}, allow_redirects=False,
                          timeout=30).status_code in (200, 302)
    renamed = _save(phone, served, uuid, {**_opened(phone, served, uuid), "issuer": "Front door"})
    assert renamed.status_code == 302

    answer = _save(laptop, served, uuid, {**opened, "note": "spare key under the mat"})
    assert answer.status_code == 409
    assert "changed since you opened this page" in answer.text
    stored = _stored(app, uuid)
    assert (stored.counter, stored.issuer, stored.note) == (8, "Front door", "")

    # The page now shows the current values with the laptop's own change kept: saving it loses nothing.
    again = form_fields(answer.text, f"/accounts/{uuid}/edit")
    assert (again["counter"], again["issuer"], again["note"]) == ("8", "Front door", "spare key under the mat")
    assert re.search(r"Counter: now <strong>8</strong>", answer.text)
    assert _save(laptop, served, uuid, again).status_code == 302
    stored = _stored(app, uuid)
    assert (stored.counter, stored.issuer, stored.note) == (8, "Front door", "spare key under the mat")

    # A counter typed lower than the current one would show used codes again: refused.
    back = _save(laptop, served, uuid, {**_opened(laptop, served, uuid), "counter": "2"})
    assert back.status_code == 409 and "can only move forward" in back.text
    assert _stored(app, uuid).counter == 8


def test_two_saves_from_the_same_page_at_once_lose_neither(app, user, served):
    uuid = add(app, link("Shop", "alice"))
    laptop, phone = sign_in(served), sign_in(served)
    for round_number in range(ROUNDS):
        from_laptop, from_phone = _opened(laptop, served, uuid), _opened(phone, served, uuid)
        answers = race(
            partial(_save, laptop, served, uuid, {**from_laptop, "note": f"note {round_number}"}),
            partial(_save, phone, served, uuid, {**from_phone, "name": f"name {round_number}"}),
        )
        assert sorted(answer.status_code for answer in answers) == [302, 409], [a.text[:300] for a in answers]
        refused = answers[0] if answers[0].status_code == 409 else answers[1]
        assert _save(laptop if refused is answers[0] else phone, served, uuid,
                     form_fields(refused.text, f"/accounts/{uuid}/edit")).status_code == 302
        stored = _stored(app, uuid)
        assert (stored.note, stored.name) == (f"note {round_number}", f"name {round_number}")
