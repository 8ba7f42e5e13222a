"""The API's OpenAPI 3.1 document: the contract, built from the limits the code itself enforces.

The ranges (digits, period, counter, lengths), the types and algorithms come from `otp.py`,
`otpauth.py` and `tokens.py`, so a new OTP type or a changed limit shows here without a second
edit. The test suite holds the code to it: schemathesis calls every operation with data drawn
from this document and fails on a 5xx or on any answer the document does not describe
(tests/api/test_api_contract.py), and the request bodies are read against the same limits
(views/api/bodies.py).
"""

from __future__ import annotations

from typing import Any

from webauth.otp import MAX_COUNTER, MAX_DIGITS, MAX_PERIOD, MAX_PIN_LENGTH, MIN_DIGITS, Algorithm, OtpType
from webauth.otpauth import MAX_LABEL_LENGTH, MAX_NOTE_LENGTH, MAX_URI_LENGTH
from webauth.views.api.bodies import MAX_BODY_BYTES, MAX_GROUPS, MAX_SECRET_LENGTH

VERSION = "1.0.0"
JSON = "application/json"
PROBLEM = "application/problem+json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM: {"schema": _ref("Problem")}}}


def _json(description: str, schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}, **extra}


_TEXT = {"type": "string", "maxLength": MAX_LABEL_LENGTH}
_GROUPS = {"type": "array", "maxItems": MAX_GROUPS, "items": {"type": "string", "maxLength": MAX_LABEL_LENGTH}}
_EDITABLE = {
    "issuer": {**_TEXT, "description": "Who issued the account (the service)."},
    "name": {**_TEXT, "description": "The account's name at the issuer (often an e-mail address)."},
    "note": {"type": "string", "maxLength": MAX_NOTE_LENGTH},
    "groups": {**_GROUPS, "description": "The account's groups, by name; groups are made as they are named."},
    "favorite": {"type": "boolean"},
}
_PARAMETERS = {
    "type": {"type": "string", "enum": [kind.value for kind in OtpType]},
    "secret": {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_SECRET_LENGTH,
        "description": "The secret key in base32 (any case; spaces, dashes and padding are ignored). Write-only.",
        "writeOnly": True,
    },
    "algorithm": {"type": "string", "enum": [algorithm.value for algorithm in Algorithm]},
    "pin": {
        "type": "string",
        "maxLength": MAX_PIN_LENGTH,
        "description": "The PIN of an mOTP or Yandex account (their links hold none). Write-only.",
        "writeOnly": True,
    },
    "digits": {"type": "integer", "minimum": MIN_DIGITS, "maximum": MAX_DIGITS},
    "period": {"type": "integer", "minimum": 1, "maximum": MAX_PERIOD, "description": "Seconds (time-based types)."},
    "counter": {"type": "integer", "minimum": 0, "maximum": MAX_COUNTER, "description": "The HOTP counter."},
}

_SCHEMAS: dict[str, Any] = {
    "Account": {
        "type": "object",
        "description": (
            "An account and its current code; never its secret. Time-based accounts carry `period` and "
            "`remaining` (seconds the code has left); HOTP accounts carry `counter`, and their `code` is the "
            "one for that counter."
        ),
        "required": ["id", "type", "issuer", "name", "algorithm", "digits", "groups", "favorite", "note", "code"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "type": _PARAMETERS["type"],
            "issuer": {"type": "string"},
            "name": {"type": "string"},
            "algorithm": _PARAMETERS["algorithm"],
            "digits": {"type": "integer"},
            "period": {"type": "integer"},
            "counter": {"type": "integer"},
            "groups": {"type": "array", "items": {"type": "string"}},
            "favorite": {"type": "boolean"},
            "note": {"type": "string"},
            "code": {"type": "string"},
            "remaining": {"type": "number", "minimum": 0},
        },
    },
    "SharedAccount": {
        "type": "object",
        "description": (
            "An account another user shares with you: its code and who shared it (`shared_by`, their user "
            "name); never its secret, note or groups. It is in the list only: the other endpoints answer 404."
        ),
        "required": ["id", "type", "issuer", "name", "algorithm", "digits", "shared_by", "code"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "type": _PARAMETERS["type"],
            "issuer": {"type": "string"},
            "name": {"type": "string"},
            "algorithm": _PARAMETERS["algorithm"],
            "digits": {"type": "integer"},
            "period": {"type": "integer"},
            "counter": {"type": "integer"},
            "shared_by": {"type": "string"},
            "code": {"type": "string"},
            "remaining": {"type": "number", "minimum": 0},
        },
    },
    "Code": {
        "type": "object",
        "required": ["id", "code"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "code": {"type": "string"},
            "period": {"type": "integer"},
            "remaining": {"type": "number", "minimum": 0},
            "counter": {"type": "integer"},
        },
    },
    "NewAccountFromUri": {
        "type": "object",
        "title": "From an otpauth:// URI",
        "required": ["uri"],
        "additionalProperties": False,
        "properties": {
            "uri": {"type": "string", "minLength": 1, "maxLength": MAX_URI_LENGTH, "description": "otpauth://..."},
            "pin": _PARAMETERS["pin"],
            "note": _EDITABLE["note"],
            "groups": _EDITABLE["groups"],
            "favorite": _EDITABLE["favorite"],
        },
    },
    "NewAccountFromFields": {
        "type": "object",
        "title": "From its fields",
        "description": "`secret` is required, and a non-empty `issuer` or `name`; the rest have defaults.",
        "required": ["secret"],
        "additionalProperties": False,
        "properties": {**_PARAMETERS, **_EDITABLE},
    },
    "AccountChange": {
        "type": "object",
        "description": (
            "The fields to change; the others keep their values. The type, the secret key and the counter are "
            "not among them: the pages ask for the password before they change, and a token is no password."
        ),
        "additionalProperties": False,
        "properties": {
            **{name: _PARAMETERS[name] for name in ("algorithm", "digits", "period")},
            **_EDITABLE,
        },
    },
    "Token": {
        "type": "object",
        "required": ["name", "scope", "user", "created_at", "expires_at"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string"},
            "scope": {"type": "string", "enum": ["read", "write"]},
            "user": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"},
            "expires_at": {"type": "string", "format": "date-time"},
        },
    },
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details.",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": {"type": "string"},
            "errors": {
                "type": "array",
                "description": "For 422: each field at fault, as a JSON pointer into the request body.",
                "items": {
                    "type": "object",
                    "required": ["pointer", "detail"],
                    "properties": {"pointer": {"type": "string"}, "detail": {"type": "string"}},
                },
            },
            "existing": {"type": "string", "format": "uuid", "description": "For 409: the account already there."},
        },
    },
}

_ACCOUNT_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "description": "The account's id.",
    "schema": {"type": "string", "maxLength": 36},
}
_ETAG = {"ETag": {"description": "The account's revision, for `If-Match`.", "schema": {"type": "string"}}}
_IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "description": "The `ETag` the change starts from: a 412 instead of overwriting a change made since.",
    "schema": {"type": "string", "maxLength": 64},
}
_HEADERS_429 = {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer", "minimum": 1}}}
_HEADERS_401 = {"WWW-Authenticate": {"description": "`Bearer`, with the reason.", "schema": {"type": "string"}}}


def _errors(*statuses: int) -> dict[str, Any]:
    """The error answers an operation can give, besides the ones every authenticated call can."""
    described = {
        400: _problem("The body is not JSON."),
        401: {**_problem("No token, or a bad, expired or revoked one."), "headers": _HEADERS_401},
        403: _problem("The token is read-only."),
        404: _problem("No such account (another user's accounts do not exist here)."),
        409: _problem("The vault holds this account already, or the account is not HOTP."),
        412: _problem("`If-Match` names a revision the account has moved on from: read it again."),
        413: _problem(f"The body is larger than {MAX_BODY_BYTES} bytes."),
        415: _problem("The body is not `application/json`."),
        422: _problem("The body or a parameter is not valid: `errors` says which field, and why."),
        429: {**_problem("Too many requests with this token or from this address."), "headers": _HEADERS_429},
    }
    return {str(status): described[status] for status in sorted({401, 429, *statuses})}


def _operation(summary: str, description: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    tag = extra.pop("tag", "accounts")
    return {"summary": summary, "description": description, "tags": [tag], "responses": responses, **extra}


_WRITE = {"security": [{"token": ["write"]}]}


def _paths() -> dict[str, Any]:
    account = _json("The account.", _ref("Account"), headers=_ETAG)
    new_account = {
        "required": True,
        "content": {JSON: {"schema": {"oneOf": [_ref("NewAccountFromUri"), _ref("NewAccountFromFields")]}}},
    }
    change = {"required": True, "content": {JSON: {"schema": _ref("AccountChange")}}}
    return {
        "/accounts": {
            "get": _operation(
                "List accounts with their codes",
                "The live accounts (not those in the trash), favorites first, in the user's order; then the "
                "accounts others share with the user (`SharedAccount`: code only), by issuer and name.",
                {
                    "200": _json(
                        "The accounts.",
                        {"type": "array", "items": {"oneOf": [_ref("Account"), _ref("SharedAccount")]}},
                    ),
                    **_errors(422),
                },
                operationId="listAccounts",
                parameters=[
                    {
                        "name": "q",
                        "in": "query",
                        "description": (
                            "Every word must match the issuer, name, note or a group's name (a shared "
                            "account's issuer, name or owner)."
                        ),
                        "schema": {"type": "string", "maxLength": 200},
                    },
                    {
                        "name": "group",
                        "in": "query",
                        "description": "Only the accounts of this group; `:shared`: only those shared with you.",
                        "schema": {"type": "string", "maxLength": 200},
                    },
                ],
            ),
            "post": _operation(
                "Add an account",
                "From an otpauth:// URI, or from its fields. Answers 201 with the account and its `Location`.",
                {
                    "201": _json(
                        "Added.",
                        _ref("Account"),
                        headers={
                            "Location": {"description": "The account's URL.", "schema": {"type": "string"}},
                            **_ETAG,
                        },
                    ),
                    **_errors(400, 403, 409, 413, 415, 422),
                },
                operationId="addAccount",
                requestBody=new_account,
                **_WRITE,
            ),
        },
        "/accounts/{id}": {
            "parameters": [_ACCOUNT_ID],
            "get": _operation(
                "One account", "The account and its current code.", {"200": account, **_errors(404)},
                operationId="getAccount",
            ),
            "patch": _operation(
                "Change an account",
                "Only the fields given change, and only when `If-Match` (if sent) is the account's current `ETag`.",
                {"200": account, **_errors(400, 403, 404, 409, 412, 413, 415, 422)},
                operationId="changeAccount",
                parameters=[_IF_MATCH],
                requestBody=change,
                **_WRITE,
            ),
            "delete": _operation(
                "Move an account to the trash",
                "The account can be restored from the trash page.",
                {"204": {"description": "In the trash."}, **_errors(403, 404)},
                operationId="deleteAccount",
                **_WRITE,
            ),
        },
        "/accounts/{id}/code": {
            "parameters": [_ACCOUNT_ID],
            "get": _operation(
                "An account's current code",
                "Counts as a use of the account for the list's \"recently used\" order.",
                {"200": _json("The code.", _ref("Code")), **_errors(404)},
                operationId="getCode",
            ),
        },
        "/accounts/{id}/next": {
            "parameters": [_ACCOUNT_ID],
            "post": _operation(
                "The next HOTP code",
                "Moves an HOTP account's counter on by one and answers the code for the new counter; two "
                "calls at once get two different counters.",
                {"200": _json("The new code.", _ref("Code")), **_errors(403, 404, 409)},
                operationId="nextCode",
                **_WRITE,
            ),
        },
        "/token": {
            "get": _operation(
                "The token in use",
                "Its name, scope, expiry and user: a script can check its token before it needs it.",
                {"200": _json("The token.", _ref("Token")), **_errors()},
                operationId="getToken",
                tag="tokens",
            ),
        },
    }


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of /api/v1 (servers relative to the site that serves it)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "webauth API",
            "version": VERSION,
            "description": (
                "Codes and accounts of the token's user, for scripts, extensions and widgets. "
                "Authenticate with a personal access token (`Authorization: Bearer wa_pat_...`), made on the "
                "account's Access tokens page or with `flask tokens create`. Cookies are never read and never "
                "set. Every error is an RFC 9457 problem (`application/problem+json`). Changes go through the "
                "same rules, audit trail and Casdoor sync as the pages."
            ),
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"token": ["read"]}],
        "tags": [
            {"name": "accounts", "description": "Accounts and their codes."},
            {"name": "tokens", "description": "The token making the call."},
        ],
        "paths": _paths(),
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {
                "token": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A personal access token: read-only, or read and write.",
                }
            },
        },
    }
