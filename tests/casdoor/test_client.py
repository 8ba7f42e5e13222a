"""The Casdoor REST client against the fake Casdoor: results, and each failure class."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest

from tests.support.casdoor_server import CasdoorServer
from webauth.casdoor.client import (
    MFA_HIDDEN_MESSAGE,
    CasdoorAuthError,
    CasdoorClient,
    CasdoorError,
    CasdoorPermissionError,
    CasdoorRejected,
    CasdoorServerError,
    CasdoorSettings,
    CasdoorUnreachable,
    mfa_accounts_of,
    user_id_of,
)


class Sleeps(list[float]):
    """Records backoff delays instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def make_client(url: str, sleeps: Sleeps, **settings: float) -> CasdoorClient:
    options = {"connect_timeout": 1.0, "read_timeout": 2.0, "read_attempts": 3, "backoff": 0.1, "max_backoff": 1.0}
    options.update(settings)
    return CasdoorClient(CasdoorSettings(base_url=url + "/", **options), sleep=sleeps)  # type: ignore[arg-type]


@pytest.fixture
def rest_client(casdoor: CasdoorServer, sleeps: Sleeps) -> Iterator[CasdoorClient]:
    with make_client(casdoor.url, sleeps) as made:
        yield made


@pytest.fixture
def alice_token(casdoor: CasdoorServer) -> str:
    return casdoor.issue_token("acme", "alice")["access_token"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ---------------------------------------------------------------- results


def test_get_account_and_mfa_accounts_of(
    rest_client: CasdoorClient, alice_token: str, github_entry: dict[str, str]
) -> None:
    user = rest_client.get_account(alice_token)
    assert user_id_of(user) == "acme/alice"
    assert mfa_accounts_of(user) == [github_entry]


def test_get_user_then_update_user_round_trip(
    rest_client: CasdoorClient, casdoor: CasdoorServer, alice_token: str, github_entry: dict[str, str]
) -> None:
    user = rest_client.get_user(alice_token, "acme/alice")
    added = {"accountName": "me", "issuer": "GitLab", "secretKey": "KRSXG5CTMVRXEZLU", "origin": "webauth-1"}
    user["mfaAccounts"] = [*mfa_accounts_of(user), added]
    assert rest_client.update_user(alice_token, user) is True
    assert casdoor.mfa_accounts("acme", "alice") == [github_entry, added]
    assert casdoor.user("acme", "alice")["email"] == "alice@example.com"  # the whole user went back
    assert casdoor.request_count("/api/update-user") == 1


def test_userinfo(rest_client: CasdoorClient, casdoor: CasdoorServer, alice_token: str) -> None:
    info = rest_client.userinfo(alice_token)
    assert info["sub"] == casdoor.user("acme", "alice")["id"]
    assert info["preferred_username"] == "alice"


def test_null_mfa_accounts_is_an_empty_list(
    rest_client: CasdoorClient, casdoor: CasdoorServer, alice_token: str
) -> None:
    user = rest_client.get_user(alice_token, "acme/alice")
    del user["mfaAccounts"]  # Casdoor stores null for a field missing from update-user
    rest_client.update_user(alice_token, user)
    assert rest_client.get_account(alice_token)["mfaAccounts"] is None
    assert mfa_accounts_of(rest_client.get_account(alice_token)) == []


# ---------------------------------------------------------------- unreachable and failing


def test_connection_refused_is_unreachable_after_retries(sleeps: Sleeps) -> None:
    with make_client(f"http://127.0.0.1:{free_port()}", sleeps) as made, pytest.raises(CasdoorUnreachable) as caught:
        made.get_account("token")
    assert str(caught.value) == "Casdoor could not be reached; check the connection and try again."
    assert caught.value.endpoint == "/api/get-account"
    assert sleeps == [0.1, 0.2]


def test_unresolvable_name_is_unreachable(sleeps: Sleeps) -> None:
    with make_client("http://casdoor.invalid", sleeps, read_attempts=1) as made, pytest.raises(CasdoorUnreachable):
        made.userinfo("token")


def test_an_invalid_address_is_unreachable_and_not_retried(sleeps: Sleeps) -> None:
    with make_client("not a url", sleeps) as made, pytest.raises(CasdoorUnreachable) as caught:
        made.get_account("token")
    assert "check its address" in str(caught.value)
    assert sleeps == []


def test_read_timeout_is_retried_then_succeeds(casdoor: CasdoorServer, alice_token: str, sleeps: Sleeps) -> None:
    casdoor.inject_fault("hang", seconds=1.0)
    with make_client(casdoor.url, sleeps, read_timeout=0.2) as made:
        assert made.get_account(alice_token)["name"] == "alice"
    assert sleeps == [0.1]
    assert casdoor.request_count("/api/get-account") == 2


def test_read_timeout_every_time_is_unreachable(casdoor: CasdoorServer, alice_token: str, sleeps: Sleeps) -> None:
    casdoor.inject_fault("hang", seconds=1.0, count=2)
    impatient = make_client(casdoor.url, sleeps, read_timeout=0.2, read_attempts=2)
    with impatient, pytest.raises(CasdoorUnreachable, match="did not answer in time"):
        impatient.get_user(alice_token, "acme/alice")


def test_5xx_is_retried_with_exponential_backoff(
    rest_client: CasdoorClient, casdoor: CasdoorServer, alice_token: str, sleeps: Sleeps
) -> None:
    casdoor.inject_fault("5xx", count=2)
    assert rest_client.get_account(alice_token)["name"] == "alice"
    assert sleeps == [0.1, 0.2]
    assert casdoor.request_count("/api/get-account") == 3


def test_backoff_is_capped(casdoor: CasdoorServer, alice_token: str, sleeps: Sleeps) -> None:
    casdoor.inject_fault("5xx", count=4)
    patient = make_client(casdoor.url, sleeps, read_attempts=4, max_backoff=0.15)
    with patient, pytest.raises(CasdoorServerError) as caught:
        patient.get_account(alice_token)
    assert sleeps == [0.1, 0.15, 0.15]
    assert str(caught.value) == "Casdoor is having trouble (HTTP 503); try again later."


def test_persistent_5xx_is_a_server_error(rest_client: CasdoorClient, casdoor: CasdoorServer, alice_token: str) -> None:
    casdoor.inject_fault("5xx", count=5, status=502)
    with pytest.raises(CasdoorServerError, match="HTTP 502"):
        rest_client.userinfo(alice_token)
    assert casdoor.request_count("/api/userinfo") == 3


def test_malformed_json_is_a_server_error_and_retried(
    rest_client: CasdoorClient, casdoor: CasdoorServer, alice_token: str
) -> None:
    casdoor.inject_fault("malformed", count=3)
    with pytest.raises(CasdoorServerError, match="could not read"):
        rest_client.get_account(alice_token)
    casdoor.inject_fault("malformed", count=1)
    assert rest_client.get_account(alice_token)["name"] == "alice"


def test_writes_are_never_retried(rest_client: CasdoorClient, casdoor: CasdoorServer, alice_token: str) -> None:
    user = rest_client.get_user(alice_token, "acme/alice")
    casdoor.inject_fault("5xx", endpoints=["/api/update-user"])
    with pytest.raises(CasdoorServerError):
        rest_client.update_user(alice_token, user)
    assert casdoor.request_count("/api/update-user") == 1
    casdoor.inject_fault("hang", seconds=1.0, endpoints=["/api/update-user"])
    with make_client(casdoor.url, Sleeps(), read_timeout=0.2) as impatient, pytest.raises(CasdoorUnreachable):
        impatient.update_user(alice_token, user)
    assert casdoor.request_count("/api/update-user") == 2


def test_other_http_statuses_are_not_retried(
    rest_client: CasdoorClient, casdoor: CasdoorServer, alice_token: str
) -> None:
    casdoor.inject_fault("5xx", status=404)
    with pytest.raises(CasdoorServerError, match="HTTP 404") as caught:
        rest_client.get_account(alice_token)
    assert caught.value.retryable is False
    assert casdoor.request_count("/api/get-account") == 1


# ---------------------------------------------------------------- refused


def test_expired_token_is_an_auth_error(rest_client: CasdoorClient, casdoor: CasdoorServer) -> None:
    casdoor.set_token_lifetime(0)
    token = casdoor.issue_token("acme", "alice")["access_token"]
    with pytest.raises(CasdoorAuthError) as caught:
        rest_client.get_account(token)
    assert str(caught.value) == "Your Casdoor session has expired; sign in again."
    assert caught.value.detail == "Access token has expired"
    assert casdoor.request_count("/api/get-account") == 1


@pytest.mark.parametrize("call", ["get_account", "userinfo", "get_user"])
def test_revoked_missing_and_garbage_tokens_are_auth_errors(
    rest_client: CasdoorClient, casdoor: CasdoorServer, alice_token: str, call: str
) -> None:
    casdoor.revoke_tokens("acme", "alice")

    def run(token: str) -> object:
        if call == "get_user":
            return rest_client.get_user(token, "acme/alice")
        return getattr(rest_client, call)(token)

    for token in (alice_token, "", "garbage"):
        with pytest.raises(CasdoorAuthError):
            run(token)


@pytest.mark.parametrize(("status", "error"), [(401, CasdoorAuthError), (403, CasdoorPermissionError)])
def test_http_401_and_403(
    rest_client: CasdoorClient, casdoor: CasdoorServer, alice_token: str, status: int, error: type[CasdoorError]
) -> None:
    casdoor.inject_fault("5xx", status=status)
    with pytest.raises(error):
        rest_client.get_account(alice_token)
    assert casdoor.request_count("/api/get-account") == 1


def test_reading_or_writing_another_user_is_a_permission_error(
    rest_client: CasdoorClient, casdoor: CasdoorServer, alice_token: str
) -> None:
    with pytest.raises(CasdoorPermissionError, match="Unauthorized operation"):
        rest_client.get_user(alice_token, "acme/bob")
    with pytest.raises(CasdoorPermissionError):
        rest_client.update_user(alice_token, casdoor.user("acme", "bob"))


def test_hidden_mfa_accounts_is_a_permission_error(
    rest_client: CasdoorClient, casdoor: CasdoorServer, alice_token: str
) -> None:
    casdoor.set_mfa_accounts_item(False)
    user = rest_client.get_account(alice_token)
    with pytest.raises(CasdoorPermissionError) as caught:
        mfa_accounts_of(user)
    assert str(caught.value) == MFA_HIDDEN_MESSAGE
    assert "organization does not let users see MFA accounts" in str(caught.value)


def test_other_status_errors_are_rejected_with_casdoors_message(
    rest_client: CasdoorClient, casdoor: CasdoorServer, alice_token: str
) -> None:
    user = rest_client.get_user(alice_token, "acme/alice")
    with pytest.raises(CasdoorRejected) as caught:
        rest_client.update_user(alice_token, {**user, "displayName": ""})
    assert str(caught.value) == "Casdoor refused the request: Display name cannot be empty"
    admin = casdoor.issue_token("acme", "admin")["access_token"]
    with pytest.raises(CasdoorRejected, match="doesn't exist"):
        rest_client.get_user(admin, "acme/nobody")


def test_status_error_is_not_retried(rest_client: CasdoorClient, casdoor: CasdoorServer, alice_token: str) -> None:
    casdoor.inject_fault("error", message="Something went wrong")
    with pytest.raises(CasdoorRejected, match="Something went wrong"):
        rest_client.get_account(alice_token)
    assert casdoor.request_count("/api/get-account") == 1


def test_mfa_accounts_of_refuses_garbage() -> None:
    with pytest.raises(CasdoorServerError):
        mfa_accounts_of({"owner": "o", "name": "n", "mfaAccounts": "nope"})


# ---------------------------------------------------------------- secrets stay secret


def test_tokens_never_reach_logs_or_messages(
    rest_client: CasdoorClient, casdoor: CasdoorServer, alice_token: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    casdoor.inject_fault("5xx", count=3)
    casdoor.inject_fault("error", message="boom")
    failures: list[CasdoorError] = []
    for _ in range(2):
        try:
            rest_client.get_account(alice_token)
        except CasdoorError as error:
            failures.append(error)
    assert len(failures) == 2
    rest_client.update_user(alice_token, rest_client.get_user(alice_token, "acme/alice"))
    for error in failures:
        text = " ".join(str(part) for part in (error, error.detail, error.endpoint, error.__cause__))
        assert alice_token not in text
    assert caplog.records, "the failures were logged"
    assert alice_token not in caplog.text
    assert alice_token[:40] not in caplog.text
