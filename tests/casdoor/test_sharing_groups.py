"""Sharing with a Casdoor group, against the Casdoor-compatible test server with real signed
tokens: the share follows the `groups` claim of each sign-in and the user object of each sync,
and a recipient's own sync never sends Casdoor an account shared with them."""

from __future__ import annotations

from sqlalchemy import select

from tests.support.casdoor_vault import add_local, link_user, norm, run_sync
from tests.support.fixtures import casdoor_sign_in
from webauth.extensions import db
from webauth.keys import keyring
from webauth.models import AuditEvent, User
from webauth.otpauth import parse_uri
from webauth.sharing import rules, teams
from webauth.vault import Vault

SHARED_SECRET = "KRSXG5CTMVRXEZLUKN2XAZLSKNSWG4TF"


def owner_shares_with_group(app, group: str) -> str:
    """A local user "owner" with an account shared with `group`; its uuid."""
    with app.app_context():
        from webauth import users

        owner = users.create_local_user("owner", "owner password 1", keyring())
        uri = f"otpauth://totp/Vault:team?secret={SHARED_SECRET}&issuer=Vault"
        account = Vault(owner, keyring()).add(parse_uri(uri))
        db.session.flush()
        # Someone here is in the group already (a known group), as the share form requires.
        teams.store_casdoor_groups(owner, [group])
        rules.share(owner, account, group=group)
        db.session.commit()
        return account.uuid


def test_a_group_share_follows_membership_at_each_sign_in(casdoor_app, casdoor) -> None:
    uuid = owner_shares_with_group(casdoor_app, "acme/devs")
    casdoor.set_groups("acme", "bob", ["acme/devs"])
    bob = casdoor_app.test_client()
    assert casdoor_sign_in(bob, "bob", "bob-pw").status_code == 302
    page = bob.get("/").get_data(as_text=True)
    assert f'id="shared-{uuid}"' in page and "Shared by owner" in page

    # Casdoor takes bob out of the group: his next sign-in takes the account off his list.
    casdoor.set_groups("acme", "bob", ["acme/ops"])
    bob = casdoor_app.test_client()
    casdoor_sign_in(bob, "bob", "bob-pw")
    assert f'id="shared-{uuid}"' not in bob.get("/").get_data(as_text=True)
    with casdoor_app.app_context():
        user = db.session.scalar(select(User).where(User.username == "acme/bob"))
        assert teams.casdoor_groups_of(user) == ["acme/ops"]


def test_a_sync_refreshes_the_groups_too(casdoor_app, casdoor) -> None:
    uuid = owner_shares_with_group(casdoor_app, "acme/devs")
    bob = casdoor_app.test_client()
    casdoor_sign_in(bob, "bob", "bob-pw")
    assert f'id="shared-{uuid}"' not in bob.get("/").get_data(as_text=True)
    casdoor.set_groups("acme", "bob", ["acme/devs"])
    with casdoor_app.app_context():
        bob_id = db.session.scalar(select(User.id).where(User.username == "acme/bob"))
    run_sync(casdoor_app, bob_id)
    assert f'id="shared-{uuid}"' in bob.get("/").get_data(as_text=True)


def test_a_recipients_sync_never_sends_casdoor_a_shared_account(casdoor_app, casdoor) -> None:
    casdoor.set_groups("acme", "bob", ["acme/devs"])
    uuid = owner_shares_with_group(casdoor_app, "acme/devs")
    bob_id = link_user(casdoor_app, casdoor, "acme", "bob")
    with casdoor_app.app_context():
        teams.store_casdoor_groups(db.session.get(User, bob_id), ["acme/devs"])
        db.session.commit()
    add_local(casdoor_app, bob_id, "Own", "bob@example.com", "JBSWY3DPEHPK3PXP")
    report = run_sync(casdoor_app, bob_id)
    assert report.error is None
    remote = casdoor.mfa_accounts("acme", "bob") or []
    assert [entry["issuer"] for entry in remote] == ["Own"]  # the sync ran, and sent bob's own account only
    assert norm(SHARED_SECRET) not in {norm(entry["secretKey"]) for entry in remote}
    with casdoor_app.app_context():
        # bob still sees it: the sync did not take it off his list either
        assert uuid in {account.uuid for account in _received(bob_id)}
        assert db.session.scalar(select(AuditEvent).where(AuditEvent.event == "sync.ok")) is not None


def _received(user_id: int):
    from webauth.sharing.received import Received

    return Received(db.session.get(User, user_id), keyring()).accounts()
