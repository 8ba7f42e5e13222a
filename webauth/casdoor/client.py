"""A small REST client for the Casdoor calls webauth makes, on `requests`.

Casdoor answers most errors with HTTP 200 and `{"status": "error", "msg": ...}`, gives no
error codes, and hides `mfaAccounts` from users when their organization does not list the
"MFA accounts" account item. This module turns all of that, and every transport failure,
into one exception hierarchy whose `str()` is a sentence fit to show the user:

- `CasdoorUnreachable`: connection refused, DNS failure, timeout.
- `CasdoorServerError`: HTTP 5xx or an answer that is not the JSON Casdoor sends.
- `CasdoorAuthError`: the access token is missing, expired or revoked: sign in again.
- `CasdoorPermissionError`: Casdoor refused for lack of permission, or the organization
  does not let users see their MFA accounts.
- `CasdoorRejected`: any other `status: error`, carrying Casdoor's message.

Reads are retried with exponential backoff when Casdoor is unreachable or failing (5xx,
garbled answers); writes are not, since the caller re-reads to learn whether a write
landed. Access tokens travel only in the `Authorization` header and are never logged or
put in an exception.

Usage::

    client = CasdoorClient(CasdoorSettings(base_url="https://door.example.com"))
    user = client.get_user(access_token, "acme/alice")
    accounts = mfa_accounts_of(user)            # CasdoorPermissionError if hidden
    user["mfaAccounts"] = new_list
    client.update_user(access_token, user)      # the whole user, as Casdoor requires
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Self

import requests

log = logging.getLogger(__name__)

# Casdoor has no error codes; these fragments of its messages (lower case) identify the kind.
_AUTH_HINTS = ("please login first", "please sign in first", "access token", "token has expired", "invalid token")
_PERMISSION_HINTS = ("unauthorized operation", "permission", "not allowed", "no right")


@dataclass(frozen=True)
class CasdoorSettings:
    """Where Casdoor is and how patient to be with it.

    `connect_timeout` and `read_timeout` are seconds per attempt; a read is tried
    `read_attempts` times in all, waiting `backoff`, 2×`backoff`, ... (at most
    `max_backoff`) between attempts.
    """

    base_url: str
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    read_attempts: int = 3
    backoff: float = 0.5
    max_backoff: float = 8.0


class CasdoorError(Exception):
    """Base of every Casdoor failure; `str(error)` is a message for the user.

    `endpoint` names the API path and `detail` keeps Casdoor's own message or the
    transport error for the logs (neither ever holds a token). `retryable` says whether
    trying the same read again may help.
    """

    retryable = False

    def __init__(self, message: str, *, endpoint: str = "", detail: str = "", retryable: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.endpoint = endpoint
        self.detail = detail
        if retryable is not None:
            self.retryable = retryable


class CasdoorUnreachable(CasdoorError):
    """No answer: connection refused, name not resolved, or timed out."""

    retryable = True


class CasdoorServerError(CasdoorError):
    """Casdoor answered, but with HTTP 5xx or something that is not its JSON."""

    retryable = True


class CasdoorAuthError(CasdoorError):
    """The access token is missing, expired or revoked: the user must sign in again."""


class CasdoorPermissionError(CasdoorError):
    """Casdoor refused for lack of permission, or hides the user's MFA accounts."""


class CasdoorRejected(CasdoorError):
    """Casdoor refused the request for another reason, given in its own words."""


MFA_HIDDEN_MESSAGE = (
    "The organization does not let users see MFA accounts; "
    'ask its administrator to add the "MFA accounts" account item.'
)


def mfa_accounts_of(user: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The `mfaAccounts` of a user object from `get_account` or `get_user`.

    Casdoor leaves the key out when the organization hides the list; it sends null for a
    user who never had one, which is an empty list.
    """
    if "mfaAccounts" not in user:
        raise CasdoorPermissionError(MFA_HIDDEN_MESSAGE, detail="mfaAccounts is not in the user object")
    value = user["mfaAccounts"]
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(entry, dict) for entry in value):
        raise CasdoorServerError("Casdoor sent an MFA account list webauth could not read.", retryable=False)
    return [dict(entry) for entry in value]


def user_id_of(user: Mapping[str, Any]) -> str:
    """Casdoor's `owner/name` id of a user object."""
    return f"{user['owner']}/{user['name']}"


class CasdoorClient:
    """The calls webauth makes to Casdoor, each authorised by the user's access token.

    One client serves every user (tokens are per call); it is safe to share between
    threads only if the `requests.Session` given is (the default one is not shared).
    """

    def __init__(
        self,
        settings: CasdoorSettings,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self._base = settings.base_url.rstrip("/")
        self._session = session or requests.Session()
        self._sleep = sleep

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def get_account(self, access_token: str) -> dict[str, Any]:
        """The signed-in user's own user object (`GET /api/get-account`)."""
        return self._user_data(self._call("GET", "/api/get-account", access_token, read=True), "/api/get-account")

    def get_user(self, access_token: str, user_id: str) -> dict[str, Any]:
        """The user `owner/name` (`GET /api/get-user`); users may read only themselves."""
        answer = self._call("GET", "/api/get-user", access_token, params={"id": user_id}, read=True)
        return self._user_data(answer, "/api/get-user")

    def update_user(self, access_token: str, user: Mapping[str, Any]) -> bool:
        """Write the whole user object back (`POST /api/update-user`); never retried.

        Casdoor resets any field missing from the body, so pass the object read with
        `get_user` with only `mfaAccounts` replaced. Returns True when Casdoor reports the
        row changed ("Affected"). A timeout leaves the outcome unknown: read again.
        """
        answer = self._call(
            "POST", "/api/update-user", access_token, params={"id": user_id_of(user)}, body=dict(user), read=False
        )
        return answer.get("data") == "Affected"

    def userinfo(self, access_token: str) -> dict[str, Any]:
        """The OIDC userinfo claims (`sub`, `iss`, `aud`, and what the token's scope allows)."""
        answer = self._call("GET", "/api/userinfo", access_token, read=True, wrapped=False)
        if not isinstance(answer.get("sub"), str):
            raise CasdoorServerError(
                "Casdoor sent an answer webauth could not read; try again later.",
                endpoint="/api/userinfo",
                detail="userinfo has no sub",
            )
        return answer

    # ------------------------------------------------------------------ internals

    @staticmethod
    def _user_data(answer: Mapping[str, Any], endpoint: str) -> dict[str, Any]:
        data = answer.get("data")
        if not isinstance(data, dict) or "owner" not in data or "name" not in data:
            raise CasdoorServerError(
                "Casdoor sent an answer webauth could not read; try again later.",
                endpoint=endpoint,
                detail="data is not a user object",
            )
        return data

    def _call(
        self,
        method: str,
        path: str,
        access_token: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        read: bool,
        wrapped: bool = True,
    ) -> dict[str, Any]:
        attempts = max(1, self.settings.read_attempts) if read else 1
        for attempt in range(1, attempts + 1):
            try:
                return self._once(method, path, access_token, params, body, wrapped)
            except CasdoorError as error:
                if not error.retryable or attempt == attempts:
                    log.warning("Casdoor %s %s failed: %s (%s)", method, path, type(error).__name__, error.detail)
                    raise
                delay = min(self.settings.max_backoff, self.settings.backoff * 2 ** (attempt - 1))
                log.info(
                    "Casdoor %s %s failed (%s: %s); attempt %d of %d in %.2f s",
                    method, path, type(error).__name__, error.detail, attempt + 1, attempts, delay,
                )  # fmt: skip
                self._sleep(delay)
        raise AssertionError("unreachable: the loop returns or raises")

    def _once(
        self,
        method: str,
        path: str,
        access_token: str,
        params: Mapping[str, str] | None,
        body: Mapping[str, Any] | None,
        wrapped: bool,
    ) -> dict[str, Any]:
        try:
            response = self._session.request(
                method,
                self._base + path,
                params=params,
                json=body,
                # Casdoor translates its messages; English ones are the ones _classify recognises.
                headers={
                    "Authorization": f"Bearer {access_token}",
                    "Accept": "application/json",
                    "Accept-Language": "en",
                },
                timeout=(self.settings.connect_timeout, self.settings.read_timeout),
                allow_redirects=False,
            )
        except requests.Timeout as exc:
            raise CasdoorUnreachable(
                "Casdoor did not answer in time; try again later.", endpoint=path, detail=type(exc).__name__
            ) from exc
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            raise CasdoorUnreachable(
                "Casdoor could not be reached; check the connection and try again.",
                endpoint=path,
                detail=type(exc).__name__,
            ) from exc
        except requests.RequestException as exc:
            raise CasdoorUnreachable(
                "Casdoor could not be reached; check its address in the settings.",
                endpoint=path,
                detail=f"{type(exc).__name__}: {exc}",
                retryable=False,
            ) from exc
        return self._answer(response, path, wrapped)

    @staticmethod
    def _answer(response: requests.Response, path: str, wrapped: bool) -> dict[str, Any]:
        status = response.status_code
        if status == 401:
            raise CasdoorAuthError("Your Casdoor session has expired; sign in again.", endpoint=path, detail="HTTP 401")
        if status == 403:
            raise CasdoorPermissionError("Casdoor did not allow this request.", endpoint=path, detail="HTTP 403")
        if status != 200:
            raise CasdoorServerError(
                f"Casdoor is having trouble (HTTP {status}); try again later.",
                endpoint=path,
                detail=f"HTTP {status}",
                retryable=status >= 500 or status == 429,
            )
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise CasdoorServerError(
                "Casdoor sent an answer webauth could not read; try again later.",
                endpoint=path,
                detail="the body is not a JSON object",
            )
        outcome = answer.get("status")
        if outcome == "error":
            raise _classify(str(answer.get("msg") or "no reason given"), path)
        if wrapped and outcome != "ok":
            raise CasdoorServerError(
                "Casdoor sent an answer webauth could not read; try again later.",
                endpoint=path,
                detail="no status in the answer",
            )
        return answer


def _classify(message: str, path: str) -> CasdoorError:
    """The exception for a `status: error` answer, judged by Casdoor's message."""
    lowered = message.lower()
    if any(hint in lowered for hint in _AUTH_HINTS):
        return CasdoorAuthError("Your Casdoor session has expired; sign in again.", endpoint=path, detail=message)
    if any(hint in lowered for hint in _PERMISSION_HINTS):
        return CasdoorPermissionError(f"Casdoor did not allow this: {message}", endpoint=path, detail=message)
    return CasdoorRejected(f"Casdoor refused the request: {message}", endpoint=path, detail=message)
