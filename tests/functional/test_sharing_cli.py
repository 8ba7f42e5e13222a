"""Sharing from the command line (`flask accounts share | unshare | shares`, `flask teams ...`),
and `flask accounts list --json` of a recipient: the account with `shared_by` and its code."""

from __future__ import annotations

import json

import pytest

from tests.functional.test_sharing import HOTP_SECRET, hotp_code, totp_code
from tests.support.accounts import add, events, link

pytestmark = pytest.mark.usefixtures("frozen_clock")


@pytest.fixture
def cli(app, make_user):
    for name in ("alice", "bob", "carol"):
        make_user(name)
    runner = app.test_cli_runner()

    def run(*args: str):
        return runner.invoke(args=list(args))

    return run


def listed(cli, user: str) -> list[dict]:
    result = cli("accounts", "list", "--user", user, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_share_list_and_unshare_from_the_command_line(app, cli):
    uuid = add(app, link("GitHub", "alice@example.com"))
    result = cli("accounts", "share", "--user", "alice", uuid, "--with", "bob")
    assert result.exit_code == 0 and f"shared {uuid} with bob" in result.output

    [row] = listed(cli, "bob")
    assert row["id"] == uuid and row["shared_by"] == "alice" and row["code"] == totp_code()
    assert "secret" not in json.dumps(row).lower() and "note" not in row
    assert cli("accounts", "shares", "--user", "alice", uuid).output.split() == ["user", "bob"]
    plain = cli("accounts", "list", "--user", "bob")
    assert "(shared by alice)" in plain.output

    result = cli("accounts", "unshare", "--user", "alice", uuid, "--with", "bob")
    assert result.exit_code == 0
    assert listed(cli, "bob") == []
    assert [event["with"] for event in events(app, "share.remove")] == ["bob"]


def test_share_with_a_team_made_from_the_command_line(app, cli):
    uuid = add(app, link("GitHub", "alice@example.com"))
    assert cli("teams", "create", "Ops").exit_code == 0
    assert cli("teams", "add", "Ops", "bob", "carol").exit_code == 0
    assert cli("teams", "list").output.strip() == "Ops: bob, carol"
    assert cli("accounts", "share", "--user", "alice", uuid, "--with-group", "Ops").exit_code == 0
    assert [row["id"] for row in listed(cli, "carol")] == [uuid]
    assert cli("teams", "remove", "Ops", "carol").exit_code == 0
    assert listed(cli, "carol") == [] and [row["id"] for row in listed(cli, "bob")] == [uuid]
    assert cli("teams", "delete", "Ops").exit_code == 0
    assert listed(cli, "bob") == []  # the team's shares went with it
    assert cli("accounts", "shares", "--user", "alice", uuid).output == ""
    assert [event["team"] for event in events(app, "team.member.add")] == ["Ops", "Ops"]


def test_a_shared_hotp_account_lists_its_current_code(app, cli):
    uuid = add(app, f"otpauth://hotp/Bank:alice?secret={HOTP_SECRET}&issuer=Bank&counter=3")
    cli("accounts", "share", "--user", "alice", uuid, "--with", "bob")
    [row] = listed(cli, "bob")
    assert row["code"] == hotp_code(3) and row["counter"] == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--with", "nobody"], "no user named nobody"),
        (["--with", "alice"], "yours already"),
        (["--with-group", "nothing"], "no team or casdoor group named nothing"),
        ([], "exactly one of"),
        (["--with", "bob", "--with-group", "Ops"], "exactly one of"),
    ],
)
def test_bad_shares_are_refused_with_a_reason(app, cli, args, message):
    uuid = add(app, link("GitHub", "alice@example.com"))
    result = cli("accounts", "share", "--user", "alice", uuid, *args)
    assert result.exit_code != 0 and message in result.output.lower()
    assert events(app, "share.add") == []


def test_only_the_owner_shares_an_account(app, cli):
    uuid = add(app, link("GitHub", "alice@example.com"))
    result = cli("accounts", "share", "--user", "bob", uuid, "--with", "carol")
    assert result.exit_code != 0 and "bob has no account" in result.output
    assert cli("accounts", "unshare", "--user", "alice", uuid, "--with", "bob").exit_code != 0


def test_team_mistakes_are_refused(cli):
    assert cli("teams", "create", " ").exit_code != 0
    assert cli("teams", "create", "Ops").exit_code == 0
    assert cli("teams", "create", "Ops").exit_code != 0
    assert cli("teams", "add", "Nope", "bob").exit_code != 0
    assert cli("teams", "add", "Ops", "nobody").exit_code != 0
    assert cli("teams", "delete", "Nope").exit_code != 0
