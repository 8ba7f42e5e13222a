"""The fake Casdoor, driven over real HTTP the way a browser and webauth would drive Casdoor:
discovery, sign-in and tokens, faults, sessions and its controls. Its REST API is in
test_server_rest.py."""


import html
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from tests.support.casdoor_calls import (
    REDIRECT_URI,
    FormReader,
    account,
    authorize_params,
    exchange,
    get_code,
    pkce_pair,
    rest,
    sign_in,
)
from tests.support.casdoor_server import CasdoorServer

ROOT = Path(__file__).resolve().parents[2]


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
    # Another endpoint passes the fault by (no stopwatch: a busy machine is slow, not wrong);
    # the fault is still queued for its own endpoint, whose answer then comes too late.
    assert rest(casdoor, "GET", "/api/get-account", token).json()["status"] == "ok"
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


# ---------------------------------------------------------------- applications and auth_time


def _claims(casdoor: CasdoorServer, token: str) -> dict:
    return jwt.decode(token, casdoor._key, algorithms=["RS256"]).claims


def test_a_second_application_gets_tokens_of_its_own_audience(casdoor: CasdoorServer) -> None:
    casdoor.add_application("other-app", "other-id", "other-secret", redirect_uris=[REDIRECT_URI])
    code, verifier = get_code(casdoor, "alice", "alice-pw", client_id="other-id")
    answer = exchange(casdoor, code, verifier)  # redeemed by webauth's client id: refused
    assert answer.status_code == 400 and "another application" in answer.json()["error_description"]
    code, verifier = get_code(casdoor, "alice", "alice-pw", client_id="other-id")
    answer = exchange(casdoor, code, verifier, client_id="other-id", client_secret="wrong")
    assert answer.status_code == 401
    code, verifier = get_code(casdoor, "alice", "alice-pw", client_id="other-id")
    tokens = exchange(casdoor, code, verifier, client_id="other-id", client_secret="other-secret").json()
    claims = _claims(casdoor, tokens["access_token"])
    assert claims["aud"] == ["other-id"] and claims["azp"] == "other-id" and claims["iss"] == casdoor.issuer
    assert account(casdoor, tokens["access_token"])["data"]["name"] == "alice"  # Casdoor's API takes any app's token
    info = rest(casdoor, "GET", "/api/userinfo", tokens["access_token"]).json()
    assert info["aud"] == "other-id"
    issued = casdoor.issue_token("acme", "alice", client_id="other-id")
    assert _claims(casdoor, issued["access_token"])["aud"] == ["other-id"]
    with pytest.raises(ValueError):
        casdoor.issue_token("acme", "alice", client_id="nobody")


def test_the_account_page_link_holds_a_token_of_the_signup_application(casdoor: CasdoorServer) -> None:
    casdoor.add_application("app-built-in", "built-in-id")
    casdoor.add_user("acme", "carol", "carol-pw", signup_application="app-built-in")
    link = casdoor.account_page_link("acme", "carol")
    assert link.startswith("casdoor-authenticator://login?serverUrl=")
    token = parse_qs(urlsplit(link).query)["accessToken"][0]
    claims = _claims(casdoor, token)
    assert claims["aud"] == ["built-in-id"] and claims["scope"] == "profile" and "auth_time" not in claims
    assert account(casdoor, token)["data"]["name"] == "carol"
    own = _claims(casdoor, casdoor.account_page_token("acme", "alice"))  # signed up through webauth
    assert own["aud"] == [casdoor.client_id]


def test_auth_time_is_when_the_password_was_typed_and_survives_silent_sign_ins(casdoor: CasdoorServer) -> None:
    browser = requests.Session()
    before = time.time()
    code, verifier = get_code(casdoor, "alice", "alice-pw", browser=browser)
    tokens = exchange(casdoor, code, verifier).json()
    typed = _claims(casdoor, tokens["access_token"])["auth_time"]
    assert before - 1 <= typed <= time.time() + 1

    casdoor.age_sessions(3600)
    verifier, challenge = pkce_pair()
    silent = browser.get(
        f"{casdoor.url}/login/oauth/authorize", params=authorize_params(casdoor, challenge), allow_redirects=False
    )
    assert silent.status_code == 302  # no form: the open session signs in
    code = parse_qs(urlsplit(silent.headers["Location"]).query)["code"][0]
    again = exchange(casdoor, code, verifier).json()
    assert _claims(casdoor, again["access_token"])["auth_time"] == typed - 3600

    refreshed = requests.post(
        f"{casdoor.url}/api/login/oauth/access_token",
        data={"grant_type": "refresh_token", "refresh_token": again["refresh_token"], "client_id": casdoor.client_id},
        timeout=5,
    ).json()
    assert _claims(casdoor, refreshed["access_token"])["auth_time"] == typed - 3600
    assert "auth_time" not in _claims(casdoor, casdoor.issue_token("acme", "alice", auth_time=None)["access_token"])


def test_auto_sign_in_answers_prompt_login_from_the_open_session(casdoor: CasdoorServer) -> None:
    browser = requests.Session()
    get_code(casdoor, "alice", "alice-pw", browser=browser)
    _, challenge = pkce_pair()
    params = {**authorize_params(casdoor, challenge), "prompt": "login"}
    assert browser.get(f"{casdoor.url}/login/oauth/authorize", params=params, allow_redirects=False).status_code == 200
    casdoor.set_auto_signin(True)
    silent = browser.get(f"{casdoor.url}/login/oauth/authorize", params=params, allow_redirects=False)
    assert silent.status_code == 302 and "code=" in silent.headers["Location"]
