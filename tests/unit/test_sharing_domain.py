"""The sharing domain without HTTP (webauth/sharing/): the owner's rules, teams and Casdoor
groups, and the recipient's side, inside one app context as the pages and the CLI use them."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from webauth import clock
from webauth.crypto import DecryptionError
from webauth.extensions import db
from webauth.keys import keyring
from webauth.listing import ListQuery
from webauth.models import User
from webauth.otp import OtpParams, OtpType, code_at
from webauth.otpauth import AccountSpec
from webauth.sharing import rules, teams
from webauth.sharing.received import SHARED_GROUP, Received, SharedAccount, SharedView, matches
from webauth.vault import AccountNotFound, Vault

SECRET = b"12345678901234567890"


def spec(issuer: str, kind: OtpType = OtpType.TOTP, counter: int = 0) -> AccountSpec:
    return AccountSpec(issuer, "alice", OtpParams(kind, SECRET + issuer.encode(), counter=counter))


@pytest.fixture
def people(app, make_user) -> Iterator[dict[str, User]]:
    made = {name: make_user(name) for name in ("alice", "bob", "carol")}
    with app.app_context():
        yield {name: db.session.get(User, user.id) for name, user in made.items()}


def vault(user: User) -> Vault:
    return Vault(user, keyring())


def received(user: User) -> Received:
    return Received(user, keyring())


def test_what_a_recipient_is_handed_has_no_secret_field_at_all():
    for kind in (SharedAccount, SharedView):
        names = {field.name for field in dataclasses.fields(kind)}
        assert not names & {"secret", "secret_sealed", "pin", "pin_sealed", "secret_digest", "note"}, kind


def test_a_recipients_code_is_the_owners_code(people, frozen_clock):
    account = vault(people["alice"]).add(spec("GitHub"))
    rules.share(people["alice"], account, username="bob")
    [view] = received(people["bob"]).views(ListQuery())
    assert view.code == code_at(vault(people["alice"]).params(account), clock.now())
    assert view.account.owner == "alice" and view.account.direct and not view.account.allow_hotp_next
    assert received(people["carol"]).views(ListQuery()) == []


def test_the_recipients_clock_opens_shared_rows_with_the_owners_vault(people, frozen_clock):
    account = vault(people["alice"]).add(spec("GitHub"))
    rules.share(people["alice"], account, username="bob")
    bob = vault(people["bob"])
    shared = received(people["bob"]).clock(ListQuery())
    state, rows = bob.clock_rows(ListQuery())
    tick = bob.clock_tick([*rows, *shared.rows], None, received(people["bob"]).step_code(bob, shared.owners))
    assert dict(tick.codes) == {account.id: code_at(vault(people["alice"]).params(account), clock.now())}
    assert shared.signed(state.signature) != state.signature
    # bob's own vault cannot open alice's row: secrets are sealed for their owner
    with pytest.raises(DecryptionError):
        bob.step_code(shared.rows[0])(0)


def test_no_share_leaves_the_list_signature_as_it_was(people):
    shared = received(people["bob"]).clock(ListQuery())
    assert shared.signature == "" and shared.signed("abc") == "abc" and shared.rows == []


def test_a_user_an_account_reaches_twice_sees_it_once_with_the_widest_permission(people):
    account = vault(people["alice"]).add(spec("Bank", OtpType.HOTP, counter=3))
    teams.create_team("Ops")
    teams.add_member("Ops", people["bob"])
    rules.share(people["alice"], account, group="Ops", allow_hotp_next=True)
    rules.share(people["alice"], account, username="bob")
    [shared] = received(people["bob"]).accounts()
    assert shared.allow_hotp_next and shared.direct
    assert [(item.kind, item.name) for item in rules.recipients(account)] == [("user", "bob"), ("team", "Ops")]


def test_hotp_next_is_refused_unless_allowed_and_moves_the_owners_counter(people):
    account = vault(people["alice"]).add(spec("Bank", OtpType.HOTP, counter=3))
    rules.share(people["alice"], account, username="bob")
    with pytest.raises(AccountNotFound):
        received(people["bob"]).advance_hotp(account.uuid)
    rules.share(people["alice"], account, username="bob", allow_hotp_next=True)
    assert received(people["bob"]).advance_hotp(account.uuid).counter == 4
    assert vault(people["alice"]).get(account.uuid, fresh=True).counter == 4


def test_allowing_the_next_code_means_nothing_for_a_time_based_account(people):
    account = vault(people["alice"]).add(spec("GitHub"))
    made, _new = rules.share(people["alice"], account, username="bob", allow_hotp_next=True)
    assert made.allow_hotp_next is False


def test_a_trashed_account_ends_its_shares_and_a_shared_account_is_not_the_recipients_to_share(people):
    account = vault(people["alice"]).add(spec("GitHub"))
    rules.share(people["alice"], account, username="bob")
    with pytest.raises(rules.ShareError):
        rules.share(people["bob"], account, username="carol")
    vault(people["alice"]).delete(account.uuid)
    assert rules.recipients(account) == [] and received(people["bob"]).accounts() == []
    with pytest.raises(rules.ShareError):
        rules.share(people["alice"], account, username="bob")  # in the trash: nothing to share


def test_casdoor_groups_are_replaced_at_each_sign_in_and_kept_when_the_claim_is_missing(people):
    bob = people["bob"]
    assert teams.store_casdoor_groups(bob, ["acme/devs", " acme/ops ", "", 7, "x" * 300]) is True
    assert teams.casdoor_groups_of(bob) == ["acme/devs", "acme/ops"]
    assert teams.store_casdoor_groups(bob, None) is False and teams.store_casdoor_groups(bob, "acme/devs") is False
    assert teams.casdoor_groups_of(bob) == ["acme/devs", "acme/ops"]
    assert teams.store_casdoor_groups(bob, ["acme/ops", "acme/devs"]) is False  # the same groups: no write
    assert teams.store_casdoor_groups(bob, []) is True and teams.casdoor_groups_of(bob) == []


def test_a_group_name_is_a_team_first_then_a_known_casdoor_group(people):
    account = vault(people["alice"]).add(spec("GitHub"))
    with pytest.raises(rules.ShareError):
        rules.share(people["alice"], account, group="acme/devs")  # nobody here is in it
    teams.store_casdoor_groups(people["carol"], ["acme/devs"])
    rules.share(people["alice"], account, group="acme/devs")
    assert [shared.uuid for shared in received(people["carol"]).accounts()] == [account.uuid]
    assert rules.unshare(people["alice"], account, group="acme/devs") is True
    assert received(people["carol"]).accounts() == []


def test_search_matches_issuer_name_and_owner_and_the_shared_group():
    assert matches(ListQuery(text="git ALICE"), "GitHub", "me@example.com", "alice")
    assert not matches(ListQuery(text="gitlab"), "GitHub", "me", "alice")
    assert matches(ListQuery(group=SHARED_GROUP), "GitHub", "me", "alice")
    assert not matches(ListQuery(group="Work"), "GitHub", "me", "alice")


def test_leaving_ends_a_share_by_name_and_hides_a_teams_from_the_leaver_only(people):
    account = vault(people["alice"]).add(spec("GitHub"))
    teams.create_team("Ops")
    teams.add_member("Ops", people["bob"])
    teams.add_member("Ops", people["carol"])
    rules.share(people["alice"], account, group="Ops")
    rules.share(people["alice"], account, username="bob")
    # Both of bob's ways to the account go: his share ends, the team's is hidden from him.
    assert rules.leave(people["bob"], account.uuid) is True
    assert [(item.kind, item.left) for item in rules.recipients(account)] == [("team", ("bob",))]
    assert received(people["bob"]).accounts() == []
    assert [shared.uuid for shared in received(people["carol"]).accounts()] == [account.uuid]
    assert rules.leave(people["bob"], account.uuid) is False  # nothing left to leave
    # Sharing with the team again brings it back to him.
    assert rules.share(people["alice"], account, group="Ops")[1] is True
    assert [shared.uuid for shared in received(people["bob"]).accounts()] == [account.uuid]
    assert rules.share(people["alice"], account, group="Ops")[1] is False
