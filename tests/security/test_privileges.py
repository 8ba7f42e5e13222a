"""Who becomes an administrator, and who can claim an administrator's name (issue 12, item 7).

- Casdoor's `isAdmin` speaks for one organization. With WEBAUTH_CASDOOR_ORGANIZATION empty,
  users of every organization on that Casdoor may sign in, and an admin of any of them became
  an administrator here. Now `isAdmin` counts only from the admin organizations: the
  configured organization, or those named in WEBAUTH_CASDOOR_ADMIN_ORGANIZATIONS.
- A name in WEBAUTH_ADMINS makes its holder an administrator, so nobody may pick it: not open
  registration, not the proxy creating users (also in another letter case). A Casdoor name
  `organization/name` in it counts only from an admin organization, like `isAdmin`.
"""

from __future__ import annotations

from ipaddress import ip_network

import pytest

from tests.conftest import TEST_PASSWORD, post_form
from tests.support.fixtures import casdoor_sign_in
from webauth import create_app
from webauth.extensions import db
from webauth.models import AuditEvent, User


def _is_admin_here(client) -> bool:
    """Whether the signed-in user may open the admin console."""
    status = client.get("/admin/users").status_code
    assert status in (200, 403), status
    return status == 200


def _user(app, username: str) -> User | None:
    with app.app_context():
        found = db.session.scalar(db.select(User).where(User.username == username))
        if found is not None:
            db.session.expunge(found)
        return found


@pytest.fixture
def other_organization(casdoor) -> None:
    """An organization beside `acme` on the same Casdoor, with its own admin."""
    casdoor.add_user("evil", "boss", "boss-pw", is_admin=True)


@pytest.mark.parametrize(
    ("settings", "admin"),
    [
        pytest.param({"WEBAUTH_CASDOOR_ORGANIZATION": ""}, False, id="no-organization"),
        pytest.param(
            {"WEBAUTH_CASDOOR_ORGANIZATION": "", "WEBAUTH_CASDOOR_ADMIN_ORGANIZATIONS": frozenset({"acme"})},
            False,
            id="another-admin-organization",
        ),
        pytest.param(
            {"WEBAUTH_CASDOOR_ORGANIZATION": "", "WEBAUTH_CASDOOR_ADMIN_ORGANIZATIONS": frozenset({"evil"})},
            True,
            id="named-admin-organization",
        ),
    ],
)
def test_is_admin_counts_only_from_an_admin_organization(
    casdoor_app_with, other_organization, settings, admin
) -> None:
    app = casdoor_app_with(**settings)
    client = app.test_client()

    assert casdoor_sign_in(client, "evil/boss", "boss-pw").status_code == 302

    assert _is_admin_here(client) is admin
    assert _user(app, "evil/boss").is_admin is admin


def test_is_admin_of_the_configured_organization_still_counts(casdoor_app, casdoor_client) -> None:
    assert casdoor_sign_in(casdoor_client, "admin", "admin-pw").status_code == 302
    assert _is_admin_here(casdoor_client)


def test_a_casdoor_name_in_webauth_admins_counts_only_from_an_admin_organization(casdoor_app_with) -> None:
    names = frozenset({"acme/alice"})
    open_app = casdoor_app_with(WEBAUTH_CASDOOR_ORGANIZATION="", WEBAUTH_ADMINS=names)
    client = open_app.test_client()
    assert casdoor_sign_in(client).status_code == 302
    assert not _is_admin_here(client), "any organization's user named alice in acme became an administrator"

    trusted = casdoor_app_with(
        WEBAUTH_CASDOOR_ORGANIZATION="", WEBAUTH_ADMINS=names, WEBAUTH_CASDOOR_ADMIN_ORGANIZATIONS=frozenset({"acme"})
    )
    again = trusted.test_client()
    assert casdoor_sign_in(again).status_code == 302
    assert _is_admin_here(again)


# Open registration -----------------------------------------------------------------------------


@pytest.fixture
def registration_app(app_config):
    app = create_app({**app_config, "WEBAUTH_OPEN_REGISTRATION": True, "WEBAUTH_ADMINS": frozenset({"root"})})
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.mark.parametrize("name", ["root", "Root", " ROOT "])
def test_open_registration_cannot_claim_an_administrator_name(registration_app, make_user, name) -> None:
    make_user("operator", admin=True)  # registration is offered once the instance is set up
    visitor = registration_app.test_client()

    answer = post_form(
        visitor, "/register", "/register", {"username": name, "password": TEST_PASSWORD, "confirm": TEST_PASSWORD}
    )

    assert answer.status_code == 422
    assert "This username is taken." in answer.get_data(as_text=True)
    with registration_app.app_context():
        assert db.session.scalar(db.select(db.func.count(User.id))) == 1
    assert post_form(
        visitor, "/register", "/register", {"username": "rooted", "password": TEST_PASSWORD, "confirm": TEST_PASSWORD}
    ).status_code == 302


# Single sign-on from the proxy -----------------------------------------------------------------

PROXY = {"REMOTE_ADDR": "127.0.0.1"}
PAGE = {"Sec-Fetch-Mode": "navigate"}


@pytest.fixture
def sso_app(app_config):
    app = create_app(
        {
            **app_config,
            "WEBAUTH_TRUSTED_PROXIES": (ip_network("127.0.0.1/32"),),
            "WEBAUTH_REMOTE_USER_HEADER": "Remote-User",
            "WEBAUTH_REMOTE_USER_CREATE": True,
            "WEBAUTH_ADMINS": frozenset({"root"}),
        }
    )
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.mark.parametrize("name", ["root", "ROOT"])
def test_the_proxy_cannot_create_an_administrator_name(sso_app, make_user, name) -> None:
    make_user("operator", admin=True)
    client = sso_app.test_client()

    answer = client.get("/", environ_base=PROXY, headers={**PAGE, "Remote-User": name})

    assert answer.status_code == 302 and answer.headers["Location"].startswith("/login")
    assert _user(sso_app, name) is None
    with sso_app.app_context():
        refusal = db.session.scalar(db.select(AuditEvent).where(AuditEvent.event == "signin.failure"))
        assert refusal.details == {"method": "proxy", "reason": "admin-name"}
    # Another name is created as before.
    assert sso_app.test_client().get("/", environ_base=PROXY, headers={**PAGE, "Remote-User": "bob"}).status_code == 200


def test_the_proxy_vouches_for_an_administrator_an_operator_made(sso_app, make_user) -> None:
    make_user("root")
    client = sso_app.test_client()
    assert client.get("/", environ_base=PROXY, headers={**PAGE, "Remote-User": "root"}).status_code == 200
    assert client.get("/admin/users", environ_base=PROXY, headers={**PAGE, "Remote-User": "root"}).status_code == 200
