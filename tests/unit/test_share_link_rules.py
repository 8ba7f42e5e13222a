"""Share links' rules, without HTTP (webauth/sharelinks/): what may be shared, for how long, by
whom, and what a holder sees at each moment, on a real database inside one app context."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from tests.conftest import FROZEN_AT
from webauth.extensions import db
from webauth.keys import keyring
from webauth.models import AuditEvent, ShareLink, User
from webauth.otp import OtpParams, OtpType, code_at
from webauth.otpauth import AccountSpec
from webauth.sharelinks import links, viewing
from webauth.vault import AccountNotFound, Vault

SECRET = b"12345678901234567890"


def spec(issuer: str, kind: OtpType = OtpType.TOTP, period: int = 30, pin: str | None = None) -> AccountSpec:
    secret = SECRET[:16] if kind is OtpType.YANDEX else SECRET  # a Yandex secret is 16 bytes
    return AccountSpec(issuer, "alice@example.com", OtpParams(kind, secret, period=period, pin=pin))


@pytest.fixture
def vault(app, make_user) -> Iterator[Vault]:
    alice = make_user("alice")
    with app.app_context():
        yield Vault(db.session.get(User, alice.id), keyring())


def test_a_link_shows_the_code_of_each_moment_until_its_end(vault, frozen_clock):
    account = vault.add(spec("Steam", OtpType.STEAM))
    link, token = links.create(vault, account.uuid, 2)
    params = vault.params(account)
    for offset in (0, 30, 119):
        frozen_clock.set(FROZEN_AT + offset)
        shown = viewing.show(token, keyring())
        assert shown is not None and shown.code == code_at(params, FROZEN_AT + offset)
        assert shown.link_left == 120 - offset and shown.name == ""
    frozen_clock.set(FROZEN_AT + 120)
    assert viewing.show(token, keyring()) is None
    assert links.links_of(vault.user) == [] and not links.is_live(link)


@pytest.mark.parametrize("kind", [OtpType.MOTP, OtpType.YANDEX])
def test_pin_accounts_can_be_shared(vault, frozen_clock, kind):
    account = vault.add(spec("Bank", kind, period=10 if kind is OtpType.MOTP else 30, pin="1234"))
    _link, token = links.create(vault, account.uuid, 10, show_name=True)
    shown = viewing.show(token, keyring())
    assert shown.code == code_at(vault.params(account), FROZEN_AT) and shown.name == "alice@example.com"


def test_what_cannot_be_shared(vault, frozen_clock):
    hotp = vault.add(spec("Bank", OtpType.HOTP))
    with pytest.raises(links.ShareLinkError):
        links.create(vault, hotp.uuid, 10)
    totp = vault.add(spec("GitHub"))
    for minutes in (0, 1, 5, 61, -2):
        with pytest.raises(links.ShareLinkError):
            links.create(vault, totp.uuid, minutes)
    vault.delete(totp.uuid)
    with pytest.raises(AccountNotFound):
        links.create(vault, totp.uuid, 10)
    assert db.session.scalar(select(ShareLink)) is None


def test_purging_the_account_deletes_its_links(vault, frozen_clock):
    account = vault.add(spec("GitHub"))
    links.create(vault, account.uuid, 60)
    db.session.commit()
    vault.delete(account.uuid)
    vault.purge(account.uuid)
    db.session.commit()
    assert db.session.scalar(select(ShareLink)) is None


def test_revoking_twice_records_once(vault, frozen_clock):
    account = vault.add(spec("GitHub"))
    link, token = links.create(vault, account.uuid, 10)
    links.revoke(vault.user, link)
    links.revoke(vault.user, link)
    assert viewing.show(token, keyring()) is None and link.ended == "revoked"
    revocations = db.session.scalars(select(AuditEvent).where(AuditEvent.event == "sharelink.revoke")).all()
    assert [event.details for event in revocations] == [{"account": account.uuid, "link": link.id, "by": "user"}]


def test_another_users_link_is_none_of_mine(vault, make_user, frozen_clock):
    bob = make_user("bob")  # before this context writes: SQLite has one writer at a time
    account = vault.add(spec("GitHub"))
    link, _token = links.create(vault, account.uuid, 10)
    with pytest.raises(LookupError):
        links.get(db.session.get(User, bob.id), link.id)
