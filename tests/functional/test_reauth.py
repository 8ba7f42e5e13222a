"""Re-authentication before revealing or exporting secrets."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from tests.conftest import TEST_PASSWORD, csrf_from, post_form, sign_in
from webauth import create_app
from webauth.auth_session import reauth_required
from webauth.extensions import db
from webauth.models import AuditEvent, SessionRecord, utcnow


@pytest.fixture
def app(app_config):
    """The app with one guarded page, standing for reveal and export."""
    app = create_app(dict(app_config))
    app.add_url_rule("/guarded", "guarded", reauth_required(lambda: "the secret page"))
    yield app


def age_reauth(app, seconds: int) -> None:
    with app.app_context():
        db.session.execute(update(SessionRecord).values(reauth_at=utcnow() - timedelta(seconds=seconds)))
        db.session.commit()


def test_right_after_sign_in_no_password_is_asked(client, user):
    sign_in(client)
    assert client.get("/guarded").get_data(as_text=True) == "the secret page"


def test_after_a_while_the_password_is_asked_again(app, client, user):
    sign_in(client)
    age_reauth(app, 600)
    response = client.get("/guarded")
    assert response.status_code == 302 and "/reauth?next=/guarded" in response.headers["Location"]
    htmx = client.get("/guarded", headers={"HX-Request": "true"})
    assert htmx.status_code == 401 and "/reauth" in htmx.headers["HX-Redirect"]

    wrong = post_form(client, "/reauth", "/reauth?next=/guarded", {"password": "not it at all"})
    assert wrong.status_code == 401 and "Wrong password." in wrong.get_data(as_text=True)
    assert client.get("/guarded").status_code == 302

    right = post_form(client, "/reauth", "/reauth?next=/guarded", {"password": TEST_PASSWORD})
    assert right.status_code == 303 and right.headers["Location"] == "/guarded"
    assert client.get("/guarded").get_data(as_text=True) == "the secret page"
    with app.app_context():
        events = list(db.session.scalars(select(AuditEvent.event).where(AuditEvent.event.like("reauth.%"))))
    assert events == ["reauth.failure", "reauth.success"]


def test_reauth_needs_a_session_and_a_csrf_token(client, user):
    assert client.get("/reauth").status_code == 302
    sign_in(client)
    token = csrf_from(client.get("/reauth").get_data(as_text=True))
    assert token
    assert client.post("/reauth", data={"password": TEST_PASSWORD}).status_code == 400
