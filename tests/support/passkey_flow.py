"""The steps of the passkey ceremonies through the Flask test client, as static/js/passkeys.js
takes them: fetch the page for its CSRF token, ask for options, answer with the software
authenticator, post the answer."""

from __future__ import annotations

from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy import select, update
from werkzeug.test import TestResponse

from tests.conftest import csrf_from
from tests.support.soft_authenticator import SoftAuthenticator
from webauth.extensions import db
from webauth.models import AuditEvent, PasskeyChallenge, SessionRecord, utcnow


def token(client: FlaskClient, page: str) -> str:
    return csrf_from(client.get(page).get_data(as_text=True))


def post_json(client: FlaskClient, url: str, body: dict, csrf: str) -> TestResponse:
    return client.post(url, json=body, headers={"X-CSRFToken": csrf, "Accept": "application/json"})


def add_passkey(client: FlaskClient, authenticator: SoftAuthenticator, name: str = "Phone", **answer) -> TestResponse:
    csrf = token(client, "/me/")
    options = post_json(client, "/passkeys/register/options", {}, csrf)
    assert options.status_code == 200, options.get_json()
    credential = authenticator.create(options.get_json(), **answer)
    return post_json(client, "/passkeys/register", {"credential": credential, "name": name}, csrf)


def signin_options(client: FlaskClient) -> tuple[dict, str]:
    csrf = token(client, "/login")
    options = post_json(client, "/passkeys/signin/options", {}, csrf)
    assert options.status_code == 200, options.get_json()
    return options.get_json(), csrf


def passkey_sign_in(client: FlaskClient, authenticator: SoftAuthenticator, next_url: str = "", **answer):
    options, csrf = signin_options(client)
    url = "/passkeys/signin" + (f"?next={next_url}" if next_url else "")
    return post_json(client, url, {"credential": authenticator.get(options, **answer)}, csrf)


def passkey_reauth(client: FlaskClient, authenticator: SoftAuthenticator, **answer) -> TestResponse:
    csrf = token(client, "/reauth")
    options = post_json(client, "/passkeys/reauth/options", {}, csrf)
    assert options.status_code == 200, options.get_json()
    answer_json = authenticator.get(options.get_json(), **answer)
    return post_json(client, "/passkeys/reauth?next=/me/", {"credential": answer_json}, csrf)


def age_reauth(app, seconds: int = 3600) -> None:
    with app.app_context():
        db.session.execute(update(SessionRecord).values(reauth_at=utcnow() - timedelta(seconds=seconds)))
        db.session.commit()


def age_challenges(app, seconds: int) -> None:
    """Move every challenge `seconds` into the past, as if the browser took that long to answer."""
    with app.app_context():
        for challenge in db.session.scalars(select(PasskeyChallenge)):
            challenge.created_at -= timedelta(seconds=seconds)
            challenge.expires_at -= timedelta(seconds=seconds)
        db.session.commit()


def audited(app, prefix: str) -> list[AuditEvent]:
    with app.app_context():
        found = list(
            db.session.scalars(select(AuditEvent).where(AuditEvent.event.like(f"{prefix}%")).order_by(AuditEvent.id))
        )
        db.session.expunge_all()
        return found
