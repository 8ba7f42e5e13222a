"""The fake Casdoor's REST API over real HTTP: userinfo, get-account, get-user and update-user
as Casdoor answers them (errors with HTTP 200, whole-user replacement, who may change whom)."""


from typing import Any

import pytest
from joserfc import jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import RSAKey

from tests.support.casdoor_calls import (
    account,
    rest,
    sign_in,
)
from tests.support.casdoor_server import CasdoorServer

# ---------------------------------------------------------------- REST


def test_userinfo_follows_the_token_scope(casdoor: CasdoorServer) -> None:
    full = rest(casdoor, "GET", "/api/userinfo", sign_in(casdoor, "alice", "alice-pw")["access_token"]).json()
    user = casdoor.user("acme", "alice")
    assert full["sub"] == user["id"] and full["iss"] == casdoor.issuer and full["aud"] == casdoor.client_id
    assert (full["preferred_username"], full["name"], full["email"]) == ("alice", "Alice", "alice@example.com")
    bare = rest(casdoor, "GET", "/api/userinfo", sign_in(casdoor, "alice", "alice-pw", scope="openid")["access_token"])
    assert set(bare.json()) == {"sub", "iss", "aud"}


def test_get_account_returns_the_caller_with_mfa_accounts(casdoor: CasdoorServer, github_entry: dict[str, str]) -> None:
    answer = account(casdoor, sign_in(casdoor, "alice", "alice-pw")["access_token"])
    assert answer["status"] == "ok"
    assert answer["data"]["mfaAccounts"] == [github_entry]
    assert answer["data"]["password"] == "***"
    assert answer["sub"] == answer["data"]["id"] and answer["name"] == "alice"
    item = {"name": "MFA accounts", "visible": True, "viewRule": "Self", "modifyRule": "Self"}
    assert item in answer["data2"]["accountItems"]


def test_update_user_replaces_the_whole_user_and_bumps_updated_time(
    casdoor: CasdoorServer, github_entry: dict[str, str]
) -> None:
    token = casdoor.issue_token("acme", "alice")["access_token"]
    user = rest(casdoor, "GET", "/api/get-user", token, params={"id": "acme/alice"}).json()["data"]
    new_entry = {"accountName": "a@b.c", "issuer": "GitLab", "secretKey": "KRSXG5CTMVRXEZLU", "origin": "webauth"}
    user["mfaAccounts"] = [*user["mfaAccounts"], {**new_entry, "colour": "ignored by Casdoor"}]
    del user["email"]
    answer = rest(casdoor, "POST", "/api/update-user", token, params={"id": "acme/alice"}, json=user)
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "msg": "", "data": "Affected"}
    stored = casdoor.user("acme", "alice")
    assert stored["mfaAccounts"] == [github_entry, new_entry]
    assert stored["email"] == ""  # missing from the body: reset, as Casdoor does
    assert stored["updatedTime"] > user["updatedTime"]
    again = rest(casdoor, "POST", "/api/update-user", token, params={"id": "acme/alice"}, json=stored)
    assert again.json()["data"] == "Affected"
    assert casdoor.user("acme", "alice")["updatedTime"] > stored["updatedTime"]


def test_update_user_keeps_fields_a_user_may_not_change(casdoor: CasdoorServer) -> None:
    token = casdoor.issue_token("acme", "bob")["access_token"]
    user = rest(casdoor, "GET", "/api/get-user", token, params={"id": "acme/bob"}).json()["data"]
    original_id = user["id"]
    user.update(isAdmin=True, id="forged", password="new-password")
    assert (
        rest(casdoor, "POST", "/api/update-user", token, params={"id": "acme/bob"}, json=user).json()["status"] == "ok"
    )
    stored = casdoor.user("acme", "bob")
    assert stored["isAdmin"] is False and stored["id"] == original_id


def test_update_user_errors_come_with_http_200(casdoor: CasdoorServer) -> None:
    token = casdoor.issue_token("acme", "alice")["access_token"]
    user = casdoor.user("acme", "alice")
    bad_type = rest(
        casdoor, "POST", "/api/update-user", token, params={"id": "acme/alice"}, json={**user, "score": "x"}
    )
    assert bad_type.status_code == 200 and bad_type.json()["status"] == "error"
    no_name = rest(
        casdoor, "POST", "/api/update-user", token, params={"id": "acme/alice"}, json={**user, "displayName": ""}
    )
    assert no_name.json() == {"status": "error", "msg": "Display name cannot be empty", "data": None}
    not_json = rest(casdoor, "POST", "/api/update-user", token, params={"id": "acme/alice"}, data=b"{")
    assert not_json.json()["status"] == "error"
    assert casdoor.user("acme", "alice") == user


def test_users_may_read_and_update_only_themselves(casdoor: CasdoorServer, github_entry: dict[str, str]) -> None:
    token = casdoor.issue_token("acme", "alice")["access_token"]
    bob = casdoor.user("acme", "bob")
    read = rest(casdoor, "GET", "/api/get-user", token, params={"id": "acme/bob"})
    assert read.status_code == 200 and read.json() == {"status": "error", "msg": "Unauthorized operation", "data": None}
    bob["mfaAccounts"] = [github_entry]
    write = rest(casdoor, "POST", "/api/update-user", token, params={"id": "acme/bob"}, json=bob)
    assert write.status_code == 200 and write.json()["status"] == "error"
    assert casdoor.mfa_accounts("acme", "bob") == []


def test_an_organization_admin_may_update_its_users(casdoor: CasdoorServer, github_entry: dict[str, str]) -> None:
    token = casdoor.issue_token("acme", "admin")["access_token"]
    bob = rest(casdoor, "GET", "/api/get-user", token, params={"id": "acme/bob"}).json()["data"]
    bob["mfaAccounts"] = [github_entry]
    assert (
        rest(casdoor, "POST", "/api/update-user", token, params={"id": "acme/bob"}, json=bob).json()["status"] == "ok"
    )
    assert casdoor.mfa_accounts("acme", "bob") == [github_entry]


def test_get_user_of_a_missing_user_is_an_error(casdoor: CasdoorServer) -> None:
    token = casdoor.issue_token("acme", "admin")["access_token"]
    answer = rest(casdoor, "GET", "/api/get-user", token, params={"id": "acme/nobody"}).json()
    assert answer == {"status": "error", "msg": "The user: acme/nobody doesn't exist", "data": None}


@pytest.mark.parametrize("path", ["/api/get-account", "/api/userinfo", "/api/get-user?id=acme/alice"])
def test_rest_calls_check_the_bearer_token(casdoor: CasdoorServer, signing_key: RSAKey, path: str) -> None:
    def status_of(token: str | None) -> tuple[int, dict[str, Any]]:
        answer = rest(casdoor, "GET", path, token)
        return answer.status_code, answer.json()

    assert status_of(None) == (200, {"status": "error", "msg": "Please login first", "data": None})
    assert status_of("not-a-jwt")[1]["status"] == "error"

    stranger = RSAKey.generate_key(2048, parameters={"kid": "cert-built-in"})
    claims = jwt.decode(casdoor.issue_token("acme", "alice")["access_token"], signing_key).claims
    forged = jwt.encode({"alg": "RS256", "kid": "cert-built-in"}, claims, stranger)
    with pytest.raises(BadSignatureError):
        jwt.decode(forged, signing_key)
    assert status_of(forged)[1]["msg"] == "Access token doesn't exist in database"

    casdoor.set_token_lifetime(0)
    expired = casdoor.issue_token("acme", "alice")["access_token"]
    assert status_of(expired)[1] == {"status": "error", "msg": "Access token has expired", "data": None}
    casdoor.set_token_lifetime(3600)

    revoked = casdoor.issue_token("acme", "alice")["access_token"]
    assert status_of(revoked)[1].get("status") != "error"
    assert casdoor.revoke_tokens("acme", "alice") >= 1
    assert status_of(revoked)[1]["msg"] == "Access token doesn't exist in database"

    orphan = casdoor.issue_token("acme", "alice")["access_token"]
    casdoor.delete_user("acme", "alice")
    assert status_of(orphan)[1] == {"status": "error", "msg": "The user: acme/alice doesn't exist", "data": None}


def test_mfa_accounts_item_off_hides_the_list_and_ignores_writes(
    casdoor: CasdoorServer, github_entry: dict[str, str]
) -> None:
    token = casdoor.issue_token("acme", "alice")["access_token"]
    casdoor.set_mfa_accounts_item(False)
    answer = account(casdoor, token)
    assert answer["status"] == "ok" and "mfaAccounts" not in answer["data"]
    assert all(item["name"] != "MFA accounts" for item in answer["data2"]["accountItems"])
    user = rest(casdoor, "GET", "/api/get-user", token, params={"id": "acme/alice"}).json()["data"]
    assert "mfaAccounts" not in user
    user["mfaAccounts"] = []
    written = rest(casdoor, "POST", "/api/update-user", token, params={"id": "acme/alice"}, json=user)
    assert written.json()["status"] == "ok"
    assert casdoor.mfa_accounts("acme", "alice") == [github_entry]
    casdoor.set_mfa_accounts_item(True)
    assert account(casdoor, token)["data"]["mfaAccounts"] == [github_entry]


def test_direct_changes_by_the_mobile_app_show_up_and_bump_updated_time(casdoor: CasdoorServer) -> None:
    token = casdoor.issue_token("acme", "alice")["access_token"]
    before = account(casdoor, token)["data"]["updatedTime"]
    casdoor.set_mfa_accounts("acme", "alice", [])
    after = account(casdoor, token)["data"]
    assert after["mfaAccounts"] == [] and after["updatedTime"] > before
