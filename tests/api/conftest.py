"""What the API's tests share: a user with a token of each scope, and calls that carry one."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient

from webauth import tokens
from webauth.extensions import db
from webauth.models import User

TOTP_URI = "otpauth://totp/ACME:alice@example.com?secret=JBSWY3DPEHPK3PXP&issuer=ACME"
HOTP_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


@dataclass
class Api:
    """A test client that sends one token with every call."""

    client: FlaskClient
    token: str

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **(extra or {})}

    def get(self, path: str, **kwargs):
        return self.client.get(f"/api/v1{path}", headers=self.headers(kwargs.pop("headers", None)), **kwargs)

    def post(self, path: str, **kwargs):
        return self.client.post(f"/api/v1{path}", headers=self.headers(kwargs.pop("headers", None)), **kwargs)

    def patch(self, path: str, **kwargs):
        return self.client.patch(f"/api/v1{path}", headers=self.headers(kwargs.pop("headers", None)), **kwargs)

    def delete(self, path: str, **kwargs):
        return self.client.delete(f"/api/v1{path}", headers=self.headers(kwargs.pop("headers", None)), **kwargs)


def make_token(
    app: Flask, username: str = "alice", name: str = "script", *, user_id: int | None = None, **options
) -> str:
    """A new token of the user (by name, or by id), as `tokens create` makes it."""
    with app.app_context():
        if user_id is not None:
            user = db.session.get(User, user_id)
        else:
            user = db.session.scalar(db.select(User).where(User.username == username))
        _token, raw = tokens.create(user, name, **options)
        db.session.commit()
        return raw


@pytest.fixture
def api(app, client, user) -> Api:
    """alice (an administrator) with a read and write token."""
    return Api(client, make_token(app))


@pytest.fixture
def read_only(app, client, user) -> Api:
    return Api(client, make_token(app, name="read-only", scope="read"))
