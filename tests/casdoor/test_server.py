"""The fake Casdoor, driven over real HTTP the way a browser and webauth would drive Casdoor."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
import socket
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import KeySet, RSAKey

from tests.support.casdoor_server import CasdoorServer

ROOT = Path(__file__).resolve().parents[2]
REDIRECT_URI = "http://127.0.0.1:5999/auth/casdoor/callback"  # the one the `casdoor` fixture allows


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize_params(server: CasdoorServer, challenge: str, **overrides: str) -> dict[str, str]:
    params = {
        "client_id": server.client_id,
        "response_type": "code",
        "redirect_uri": REDIRECT_URI,
        "scope": "openid profile email",
        "state": "state-123",
        "nonce": "nonce-456",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return params


class FormReader(HTMLParser):
    """The inputs and buttons of the login page, as a browser test would find them."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: dict[str, str] = {}
        self.buttons: list[str] = []
        self.form_method = ""
        self._in_button = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "form":
            self.form_method = (attributes.get("method") or "").lower()
        elif tag == "input":
            self.inputs[attributes.get("name") or ""] = attributes.get("type") or "text"
        elif tag == "button":
            self._in_button = True
            self.buttons.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "button":
            self._in_button = False

    def handle_data(self, data: str) -> None:
        if self._in_button:
            self.buttons[-1] += data.strip()


def get_code(
    server: CasdoorServer, username: str, password: str, browser: requests.Session | None = None, **overrides: str
) -> tuple[str, str]:
    """Open the authorize page, post the login form; return (code, verifier)."""
    browser = browser or requests.Session()
    verifier, challenge = pkce_pair()
    page = browser.get(f"{server.url}/login/oauth/authorize", params=authorize_params(server, challenge, **overrides))
    assert page.status_code == 200, page.text
    answer = browser.post(page.url, data={"username": username, "password": password}, allow_redirects=False)
    assert answer.status_code == 302, answer.text
    location = urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    query = parse_qs(location.query)
    assert query["state"] == ["state-123"]
    return query["code"][0], verifier


def exchange(server: CasdoorServer, code: str, verifier: str, **extra: str) -> requests.Response:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
        "client_id": server.client_id,
    }
    data.update(extra)
    return requests.post(f"{server.url}/api/login/oauth/access_token", data=data, timeout=5)


def sign_in(server: CasdoorServer, username: str, password: str, **overrides: str) -> dict[str, Any]:
    code, verifier = get_code(server, username, password, **overrides)
    answer = exchange(server, code, verifier)
    assert answer.status_code == 200, answer.text
    return answer.json()


def rest(server: CasdoorServer, method: str, path: str, token: str | None, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return requests.request(method, f"{server.url}{path}", headers=headers, timeout=5, **kwargs)


def account(server: CasdoorServer, token: str) -> dict[str, Any]:
    answer = rest(server, "GET", "/api/get-account", token)
    assert answer.status_code == 200
    return answer.json()


# ---------------------------------------------------------------- discovery and keys


def test_discovery_names_casdoor_endpoints_and_only_s256(casdoor: CasdoorServer) -> None:
    config = requests.get(f"{casdoor.url}/.well-known/openid-configuration", timeout=5).json()
    origin = casdoor.url
    assert config["issuer"] == origin
    assert config["authorization_endpoint"] == f"{origin}/login/oauth/authorize"
    assert config["token_endpoint"] == f"{origin}/api/login/oauth/access_token"
    assert config["userinfo_endpoint"] == f"{origin}/api/userinfo"
    assert config["jwks_uri"] == f"{origin}/.well-known/jwks"
    assert config["end_session_endpoint"] == f"{origin}/api/logout"
    assert config["code_challenge_methods_supported"] == ["S256"]
    per_app = requests.get(f"{origin}/.well-known/webauth/openid-configuration", timeout=5).json()
    assert per_app == config


def test_jwks_publishes_the_rsa_signing_key(casdoor: CasdoorServer) -> None:
    keys = requests.get(f"{casdoor.url}/.well-known/jwks", timeout=5).json()["keys"]
    assert len(keys) == 1
    assert keys[0]["kty"] == "RSA" and keys[0]["alg"] == "RS256" and keys[0]["kid"]
    assert "d" not in keys[0]


# ---------------------------------------------------------------- sign-in


def test_login_form_is_a_real_form_with_username_password_and_sign_in_button(casdoor: CasdoorServer) -> None:
    _, challenge = pkce_pair()
    page = requests.get(f"{casdoor.url}/login/oauth/authorize", params=authorize_params(casdoor, challenge), timeout=5)
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    form = FormReader()
    form.feed(page.text)
    assert form.form_method == "post"
    assert form.inputs == {"username": "text", "password": "password"}
    assert form.buttons == ["Sign in"]


def test_full_code_flow_with_pkce_gives_a_casdoor_shaped_token(casdoor: CasdoorServer) -> None:
    tokens = sign_in(casdoor, "alice", "alice-pw")
    assert tokens["id_token"] == tokens["access_token"]
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 3600
    assert tokens["scope"] == "openid profile email"
    assert tokens["refresh_token"] and tokens["refresh_token"] != tokens["access_token"]

    keys = KeySet.import_key_set(requests.get(f"{casdoor.url}/.well-known/jwks", timeout=5).json())
    token = jwt.decode(tokens["id_token"], keys, algorithms=["RS256"])
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": casdoor.issuer},
        aud={"essential": True, "value": casdoor.client_id},
        nonce={"essential": True, "value": "nonce-456"},
    ).validate(token.claims)
    claims = token.claims
    user = casdoor.user("acme", "alice")
    assert token.header["alg"] == "RS256"
    assert claims["sub"] == user["id"] and re.fullmatch(r"[0-9a-f-]{36}", claims["sub"])
    assert claims["aud"] == [casdoor.client_id]
    assert claims["azp"] == casdoor.client_id
    assert claims["tokenType"] == "access-token"
    assert claims["scope"] == "openid profile email"
    assert claims["exp"] - claims["iat"] == 3600 and claims["nbf"] == claims["iat"]
    assert (claims["owner"], claims["name"], claims["displayName"]) == ("acme", "alice", "Alice")
    assert claims["email"] == "alice@example.com" and claims["isAdmin"] is False
    assert "password" not in claims and "mfaAccounts" not in claims


def test_user_of_another_organization_signs_in_as_owner_slash_name(casdoor: CasdoorServer) -> None:
    casdoor.add_user("other-org", "carol", "carol-pw")
    tokens = sign_in(casdoor, "other-org/carol", "carol-pw")
    assert account(casdoor, tokens["access_token"])["data"]["owner"] == "other-org"


def test_wrong_password_shows_the_form_again_without_a_code(casdoor: CasdoorServer) -> None:
    _, challenge = pkce_pair()
    browser = requests.Session()
    page = browser.get(f"{casdoor.url}/login/oauth/authorize", params=authorize_params(casdoor, challenge), timeout=5)
    answer = browser.post(page.url, data={"username": "alice", "password": "nope"}, allow_redirects=False)
    assert answer.status_code == 401
    assert "Location" not in answer.headers
    assert "Invalid username or password" in answer.text and "Sign in" in answer.text


def test_wrong_verifier_is_rejected(casdoor: CasdoorServer) -> None:
    code, _ = get_code(casdoor, "alice", "alice-pw")
    answer = exchange(casdoor, code, pkce_pair()[0])
    assert answer.status_code == 400
    assert answer.json() == {"error": "invalid_grant", "error_description": "verifier is invalid"}


def test_code_is_single_use_and_bound_to_its_redirect_uri(casdoor: CasdoorServer) -> None:
    code, verifier = get_code(casdoor, "alice", "alice-pw")
    wrong_redirect = exchange(casdoor, code, verifier, redirect_uri="http://127.0.0.1:5999/elsewhere")
    assert wrong_redirect.json()["error"] == "invalid_grant"
    assert exchange(casdoor, code, verifier).status_code == 200
    again = exchange(casdoor, code, verifier)
    assert again.status_code == 400
    assert again.json() == {"error": "invalid_grant", "error_description": "authorization code has been used"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"code_challenge_method": "plain"}, "code_challenge_method must be S256"),
        ({"code_challenge_method": ""}, "code_challenge_method must be S256"),
        ({"code_challenge": "short"}, "code_challenge must be"),
        ({"client_id": "someone-else"}, "Invalid client_id"),
        ({"redirect_uri": "http://127.0.0.1:5999/not-listed"}, "doesn't exist in the allowed Redirect URI list"),
        ({"response_type": "token"}, "is not supported"),
    ],
)
def test_authorize_rejects_bad_requests(casdoor: CasdoorServer, overrides: dict[str, str], message: str) -> None:
    _, challenge = pkce_pair()
    params = authorize_params(casdoor, challenge, **overrides)
    page = requests.get(f"{casdoor.url}/login/oauth/authorize", params=params, timeout=5)
    assert page.status_code == 400
    assert message in html.unescape(page.text)
    login = {"username": "alice", "password": "alice-pw"}
    posted = requests.post(page.url, data=login, allow_redirects=False, timeout=5)
    assert posted.status_code == 400


@pytest.mark.parametrize("style", ["form", "query", "basic", "json"])
def test_token_endpoint_reads_every_request_style(casdoor: CasdoorServer, style: str) -> None:
    code, verifier = get_code(casdoor, "alice", "alice-pw")
    fields = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": verifier}
    url = f"{casdoor.url}/api/login/oauth/access_token"
    client = {"client_id": casdoor.client_id, "client_secret": casdoor.client_secret}
    if style == "form":
        answer = requests.post(url, data=fields | client, timeout=5)
    elif style == "query":
        answer = requests.post(url, params=fields | client, timeout=5)
    elif style == "basic":
        answer = requests.post(url, data=fields, auth=(casdoor.client_id, casdoor.client_secret), timeout=5)
    else:
        answer = requests.post(url, json=fields | client, timeout=5)
    assert answer.status_code == 200, answer.text
    assert answer.json()["access_token"]


def test_a_client_secret_if_sent_must_be_right(casdoor: CasdoorServer) -> None:
    code, verifier = get_code(casdoor, "alice", "alice-pw")
    answer = exchange(casdoor, code, verifier, client_secret="wrong")
    assert answer.status_code == 401
    assert answer.json() == {"error": "invalid_client", "error_description": "client_secret is invalid"}
    assert exchange(casdoor, code, verifier, client_secret=casdoor.client_secret).status_code == 200


def test_refresh_grant_issues_new_tokens_and_retires_the_old_ones(casdoor: CasdoorServer) -> None:
    first = sign_in(casdoor, "alice", "alice-pw")
    url = f"{casdoor.url}/api/login/oauth/access_token"
    refresh = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"], "client_id": casdoor.client_id}
    answer = requests.post(url, data=refresh, timeout=5)
    assert answer.status_code == 200, answer.text
    second = answer.json()
    assert second["access_token"] != first["access_token"]
    assert second["scope"] == first["scope"]
    assert account(casdoor, second["access_token"])["status"] == "ok"
    assert account(casdoor, first["access_token"])["status"] == "error"
    reused = requests.post(url, data=refresh, timeout=5)
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"


def test_refresh_grant_can_be_disallowed_like_an_application_setting(signing_key: RSAKey) -> None:
    with CasdoorServer(redirect_uris=[REDIRECT_URI], allow_refresh_grant=False, signing_key=signing_key) as server:
        server.add_user("built-in", "dave", "pw")
        tokens = server.issue_token("built-in", "dave")
        answer = requests.post(
            f"{server.url}/api/login/oauth/access_token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": tokens["refresh_token"],
                "client_id": server.client_id,
            },
            timeout=5,
        )
        assert answer.json()["error"] == "unsupported_grant_type"


def test_sign_in_bumps_updated_time(casdoor: CasdoorServer) -> None:
    before = casdoor.user("acme", "alice")["updatedTime"]
    sign_in(casdoor, "alice", "alice-pw")
    assert casdoor.user("acme", "alice")["updatedTime"] > before


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


# ---------------------------------------------------------------- faults and counts


def test_injected_5xx_then_recovery_and_counts(casdoor: CasdoorServer) -> None:
    token = casdoor.issue_token("acme", "alice")["access_token"]
    casdoor.inject_fault("5xx", count=2, status=502)
    assert [rest(casdoor, "GET", "/api/get-account", token).status_code for _ in range(3)] == [502, 502, 200]
    assert casdoor.request_count("/api/get-account") == 3
    casdoor.reset_counts()
    assert casdoor.request_counts() == {}


def test_injected_status_error_and_malformed_json(casdoor: CasdoorServer) -> None:
    token = casdoor.issue_token("acme", "alice")["access_token"]
    casdoor.inject_fault("error", message="Something broke")
    casdoor.inject_fault("malformed")
    first = rest(casdoor, "GET", "/api/get-user", token, params={"id": "acme/alice"})
    assert first.status_code == 200 and first.json() == {"status": "error", "msg": "Something broke", "data": None}
    second = rest(casdoor, "GET", "/api/get-account", token)
    assert second.status_code == 200
    with pytest.raises(ValueError):
        second.json()
    assert rest(casdoor, "GET", "/api/get-account", token).json()["status"] == "ok"


def test_injected_hang_delays_the_answer_and_targets_endpoints(casdoor: CasdoorServer) -> None:
    token = casdoor.issue_token("acme", "alice")["access_token"]
    casdoor.inject_fault("hang", seconds=0.4, endpoints=["/api/update-user"])
    started = time.monotonic()
    assert rest(casdoor, "GET", "/api/get-account", token).json()["status"] == "ok"
    assert time.monotonic() - started < 0.3
    with pytest.raises(requests.ReadTimeout):
        requests.post(
            f"{casdoor.url}/api/update-user",
            headers={"Authorization": f"Bearer {token}"},
            json=casdoor.user("acme", "alice"),
            timeout=(2, 0.1),
        )


def test_unknown_fault_kind_is_refused(casdoor: CasdoorServer) -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        casdoor.inject_fault("explode")


# ---------------------------------------------------------------- logout and sessions


def test_session_signs_in_again_without_the_form_until_logout(casdoor: CasdoorServer) -> None:
    browser = requests.Session()
    code, verifier = get_code(casdoor, "alice", "alice-pw", browser=browser)
    tokens = exchange(casdoor, code, verifier).json()
    _, challenge = pkce_pair()
    params = authorize_params(casdoor, challenge)
    silent = browser.get(f"{casdoor.url}/login/oauth/authorize", params=params, allow_redirects=False)
    assert silent.status_code == 302 and "code=" in silent.headers["Location"]
    forced = browser.get(
        f"{casdoor.url}/login/oauth/authorize", params={**params, "prompt": "login"}, allow_redirects=False
    )
    assert forced.status_code == 200

    logout = browser.get(
        f"{casdoor.url}/api/logout",
        params={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": REDIRECT_URI, "state": "bye"},
        allow_redirects=False,
    )
    assert logout.status_code == 302
    assert logout.headers["Location"] == f"{REDIRECT_URI}?state=bye"
    assert account(casdoor, tokens["access_token"])["status"] == "error"
    after = browser.get(f"{casdoor.url}/login/oauth/authorize", params=params, allow_redirects=False)
    assert after.status_code == 200 and "Sign in" in after.text


def test_logout_validates_its_parameters(casdoor: CasdoorServer) -> None:
    token = casdoor.issue_token("acme", "alice")["id_token"]
    url = f"{casdoor.url}/api/logout"
    elsewhere = {"id_token_hint": token, "post_logout_redirect_uri": "http://evil.test/"}
    unlisted = requests.get(url, params=elsewhere, timeout=5)
    assert unlisted.status_code == 200 and unlisted.json()["status"] == "error"
    assert account(casdoor, token)["status"] == "ok"
    missing = requests.get(url, params={"post_logout_redirect_uri": REDIRECT_URI}, timeout=5)
    assert missing.json()["msg"] == "Missing parameter: id_token_hint"
    assert requests.post(url, timeout=5).json() == {"status": "ok", "msg": "", "data": ""}


# ---------------------------------------------------------------- controls for a second process


def test_http_controls_exist_only_when_asked_for(casdoor: CasdoorServer, signing_key: RSAKey) -> None:
    assert requests.post(f"{casdoor.url}/_test/add_user", json={}, timeout=5).status_code == 404
    with CasdoorServer(http_controls=True, signing_key=signing_key) as server:
        made = requests.post(
            f"{server.url}/_test/add_user", json={"owner": "o", "name": "n", "password": "p"}, timeout=5
        )
        assert made.status_code == 200 and made.json()["result"]["name"] == "n"
        requests.post(f"{server.url}/_test/inject_fault", json={"kind": "5xx"}, timeout=5)
        assert requests.get(f"{server.url}/api/get-account", timeout=5).status_code == 503
        counts = requests.post(f"{server.url}/_test/request_counts", json={}, timeout=5).json()["result"]
        assert counts == {"/api/get-account": 1}
        bad = requests.post(f"{server.url}/_test/add_user", json={"owner": "o"}, timeout=5)
        assert bad.status_code == 400
        assert requests.post(f"{server.url}/_test/stop", json={}, timeout=5).status_code == 404


def test_command_line_serves_seeded_users() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.casdoor_server", "--port", str(port), "--seed-user", "acme/erin:erin-pw"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                requests.get(f"{url}/.well-known/openid-configuration", timeout=1)
                break
            except requests.ConnectionError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        tokens = requests.post(f"{url}/_test/issue_token", json={"owner": "acme", "name": "erin"}, timeout=5).json()[
            "result"
        ]
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        user = requests.get(f"{url}/api/get-account", headers=headers, timeout=5)
        assert user.json()["data"]["name"] == "erin"
    finally:
        process.terminate()
        process.wait(timeout=10)
