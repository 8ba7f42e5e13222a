"""Issue 12.5: an edit cannot show codes of a future time without a recent password entry.

An HOTP code for counter c is the TOTP code of the time step c: turning a TOTP account into
HOTP with the counter of a step to come shows the code someone will be asked for then. So
changing the type, the secret or the counter of an account needs a password entry within
WEBAUTH_REAUTH_SECONDS, like revealing the secret; other fields do not.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from tests.conftest import TEST_PASSWORD, post_form
from tests.support.accounts import SECRET, add, link
from tests.support.forms import form_fields
from webauth.extensions import db
from webauth.models import Account, SessionRecord, utcnow

FUTURE_STEP = 60_000_000  # the 30-second step of some day in 2027


def _stale_password_entry(app) -> None:
    with app.app_context():
        db.session.execute(update(SessionRecord).values(reauth_at=utcnow() - timedelta(hours=1)))
        db.session.commit()


def _edit(client, uuid: str, **changes: str):
    page = client.get(f"/accounts/{uuid}/edit").get_data(as_text=True)
    return client.post(f"/accounts/{uuid}/edit", data={**form_fields(page, f"/accounts/{uuid}/edit"), **changes})


def _stored(app, uuid: str) -> tuple[str, int, str]:
    with app.app_context():
        account = db.session.scalar(select(Account).where(Account.uuid == uuid))
        return account.type, account.counter, account.note


def test_totp_into_hotp_with_a_future_counter_needs_the_password(app, signed_in):
    uuid = add(app, link("Bank", "alice"))
    _stale_password_entry(app)
    refused = _edit(signed_in, uuid, type="hotp", counter=str(FUTURE_STEP))
    assert refused.status_code == 403
    page = signed_in.get(f"/accounts/{uuid}/edit").get_data(as_text=True)
    assert "/reauth?next=" in page  # the page says what to do first
    assert "needs your password" in refused.get_data(as_text=True)
    assert _stored(app, uuid) == ("totp", 0, "")
    for changes in ({"secret": "GEZDGNBVGY3TQOJQ"}, {"type": "steam"}):
        assert _edit(signed_in, uuid, **changes).status_code == 403
    assert _stored(app, uuid) == ("totp", 0, "")

    # Other fields need no password.
    assert _edit(signed_in, uuid, note="my bank").status_code == 302
    assert _stored(app, uuid) == ("totp", 0, "my bank")

    assert post_form(signed_in, "/reauth", "/reauth", {"password": TEST_PASSWORD}).status_code == 303
    assert _edit(signed_in, uuid, type="hotp", counter=str(FUTURE_STEP)).status_code == 302
    assert _stored(app, uuid) == ("hotp", FUTURE_STEP, "my bank")


def test_an_hotp_counter_moved_on_by_a_stale_session_is_refused_too(app, signed_in):
    uuid = add(app, link("Door", "alice", SECRET).replace("totp", "hotp") + "&counter=3")
    _stale_password_entry(app)
    assert _edit(signed_in, uuid, counter="4000").status_code == 403
    assert _stored(app, uuid)[1] == 3
