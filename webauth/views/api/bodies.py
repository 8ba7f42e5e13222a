"""Request bodies of the API, read strictly: JSON objects whose fields have the types and bounds
the OpenAPI document states (views/api/openapi.py takes its limits from here and from the domain).

Shape is checked here (which fields, what type, how long); what an account may be (a valid
secret, digits for its type, a name or an issuer) is the domain's word: `OtpParams` and
`AccountSpec` raise `InvalidParameter` naming the field, and the API turns that into a 422.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from flask import request
from flask_babel import gettext as _

from webauth import edits
from webauth.otp import (
    MAX_COUNTER,
    MAX_DIGITS,
    MAX_PERIOD,
    MAX_PIN_LENGTH,
    MIN_DIGITS,
    Algorithm,
    InvalidParameter,
    OtpParams,
    OtpType,
)
from webauth.otpauth import (
    MAX_LABEL_LENGTH,
    MAX_NOTE_LENGTH,
    MAX_URI_LENGTH,
    AccountSpec,
    decode_secret,
    parse_uri,
    with_pin,
)

# A request body is a few hundred bytes; anything near this is not an account.
MAX_BODY_BYTES = 64 * 1024
MAX_GROUPS = 50
# Base32 of the longest secret (256 bytes) is 410 characters; room for spaces between groups.
MAX_SECRET_LENGTH = 1024

_INTEGERS = {"digits": (MIN_DIGITS, MAX_DIGITS), "period": (1, MAX_PERIOD), "counter": (0, MAX_COUNTER)}
_STRINGS = {
    "uri": (1, MAX_URI_LENGTH),
    "secret": (1, MAX_SECRET_LENGTH),
    "issuer": (0, MAX_LABEL_LENGTH),
    "name": (0, MAX_LABEL_LENGTH),
    "note": (0, MAX_NOTE_LENGTH),
    "pin": (0, MAX_PIN_LENGTH),
}
_CHOICES = {"type": [kind.value for kind in OtpType], "algorithm": [algorithm.value for algorithm in Algorithm]}
_EDITABLE = {"issuer", "name", "note", "groups", "favorite"}
_PARAMETERS = {"type", "secret", "algorithm", "digits", "period", "counter", "pin"}
URI_FIELDS = frozenset({"uri", "pin", "note", "groups", "favorite"})
ACCOUNT_FIELDS = frozenset(_EDITABLE | _PARAMETERS)
# The pages ask for the password before these change (an HOTP counter set to a future time step
# shows codes not yet asked for); a token is no password entry, so the API leaves them alone.
GUARDED = frozenset({*edits.GUARDED, "pin"})
CHANGE_FIELDS = ACCOUNT_FIELDS - GUARDED


@dataclass
class BodyError(Exception):
    """A body the API refuses: `status` (400, 413, 415 or 422), what is wrong, and for 422 each field."""

    status: int
    detail: str
    errors: list[dict[str, str]] = field(default_factory=list)


def invalid(field_name: str, message: str) -> BodyError:
    return BodyError(422, _("Some input is not valid."), [{"pointer": f"#/{field_name}", "detail": message}])


def read_object() -> dict[str, Any]:
    """The request's JSON object, or a `BodyError` saying why there is none."""
    if request.mimetype != "application/json" and not request.mimetype.endswith("+json"):
        raise BodyError(415, _("Send the body as JSON, with Content-Type: application/json."))
    raw = request.get_data(cache=False)  # bounded by request.max_content_length (a 413 beyond it)
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise BodyError(400, _("The body is not valid JSON.")) from None
    if not isinstance(body, dict):
        raise BodyError(422, _("The body must be a JSON object."))
    return body


def check_fields(body: dict[str, Any], allowed: frozenset[str]) -> None:
    """Refuse unknown fields and fields of the wrong type or size, all at once."""
    errors = []
    for name, value in body.items():
        if name in allowed:
            message = _field_problem(name, value)
        elif name in GUARDED and allowed == CHANGE_FIELDS:
            message = _(
                "This field cannot be changed with a token: change the type, the secret key or the counter on the "
                "account's edit page, after entering your password."
            )
        else:
            message = _("There is no such field here.")
        if message:
            errors.append({"pointer": f"#/{name}", "detail": message})
    if errors:
        raise BodyError(422, _("Some input is not valid."), errors)


def _field_problem(name: str, value: Any) -> str | None:
    if name in _INTEGERS:
        low, high = _INTEGERS[name]
        if isinstance(value, bool) or not isinstance(value, int):
            return _("This field must be a whole number.")
        if not low <= value <= high:
            return _("This field must be between %(low)s and %(high)s.", low=low, high=high)
    elif name in _STRINGS:
        low, high = _STRINGS[name]
        if not isinstance(value, str):
            return _("This field must be text.")
        if not low <= len(value) <= high:
            return _("This field must be %(low)s to %(high)s characters long.", low=low, high=high)
    elif name in _CHOICES:
        if value not in _CHOICES[name]:
            return _("This field must be one of %(choices)s.", choices=", ".join(_CHOICES[name]))
    elif name == "favorite":
        if not isinstance(value, bool):
            return _("This field must be true or false.")
    elif name == "groups":
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            return _("This field must be a list of names.")
        if len(value) > MAX_GROUPS or any(len(item) > MAX_LABEL_LENGTH for item in value):
            return _(
                "An account can be in at most %(count)s groups, each named in at most %(length)s characters.",
                count=MAX_GROUPS,
                length=MAX_LABEL_LENGTH,
            )
    return None


def new_account(body: dict[str, Any]) -> AccountSpec:
    """The account a POST describes: an otpauth URI (with note, groups, favorite) or its fields."""
    if "uri" in body:
        check_fields(body, URI_FIELDS)
        with as_field_error():
            parsed = parse_uri(body["uri"])
            if body.get("pin"):
                parsed = with_pin(parsed, body["pin"])
            return AccountSpec(
                issuer=parsed.issuer,
                name=parsed.name,
                params=parsed.params,
                note=body.get("note", ""),
                groups=tuple(body.get("groups", ())),
                favorite=body.get("favorite", False),
            )
    check_fields(body, ACCOUNT_FIELDS)
    if "secret" not in body:
        raise invalid("secret", _("An account needs its secret key (or send its otpauth link as uri)."))
    with as_field_error():
        params = OtpParams(
            type=OtpType(body.get("type", OtpType.TOTP.value)),
            secret=decode_secret(body["secret"]),
            algorithm=Algorithm(body.get("algorithm", Algorithm.SHA1.value)),
            digits=body.get("digits", 6),
            period=body.get("period", 30),
            counter=body.get("counter", 0),
            pin=body.get("pin"),
        )
        return AccountSpec(
            issuer=body.get("issuer", ""),
            name=body.get("name", ""),
            params=params,
            note=body.get("note", ""),
            groups=tuple(body.get("groups", ())),
            favorite=body.get("favorite", False),
        )


def changed_account(current: AccountSpec, body: dict[str, Any]) -> AccountSpec:
    """`current` with the fields a PATCH names replaced (never type, secret or counter: `GUARDED`);
    groups are the caller's to pass on."""
    check_fields(body, CHANGE_FIELDS)
    now = current.params
    with as_field_error():
        params = OtpParams(
            type=now.type,
            secret=now.secret,
            algorithm=Algorithm(body.get("algorithm", now.algorithm.value)),
            digits=body.get("digits", now.digits),
            period=body.get("period", now.period),
            counter=now.counter,
            pin=now.pin,
        )
        return AccountSpec(
            issuer=body.get("issuer", current.issuer),
            name=body.get("name", current.name),
            params=params,
            note=body.get("note", current.note),
            groups=tuple(body.get("groups", current.groups)),
            favorite=body.get("favorite", current.favorite),
        )


@contextmanager
def as_field_error() -> Iterator[None]:
    """Turn the domain's `InvalidParameter` into a 422 that points at the field."""
    try:
        yield
    except InvalidParameter as error:
        raise invalid(error.field, error.message) from None
