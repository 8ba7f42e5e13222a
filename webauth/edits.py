"""An edit form's values: what the person changed, and what changed elsewhere meanwhile.

An edit page posts back every field, also those the person left alone. Writing them all would
undo what happened since the page was opened: a sync's rename, a note typed on another device,
HOTP counters moved on by "Next code" (which would then show codes already used). So the page
carries the revision it started from and the values it showed (`encode`), and a save writes
only the fields that differ from those (`changed`); when the account's revision moved on, the
save is refused and `merge` lays out the current values with the person's input kept wherever
it does not collide with a change made elsewhere.

No secret goes into these values: the page never shows the secret (nor an mOTP or Yandex PIN),
and a new one typed is a change by itself.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from typing import Any

from webauth.models import Account

TEXT_FIELDS = ("issuer", "name", "note")
FIELDS = ("issuer", "name", "note", "favorite", "type", "algorithm", "digits", "period", "counter", "groups", "icon")
# Changes that decide which codes are shown (turning a TOTP account into HOTP with a chosen
# counter shows the code of any future time step; an mOTP or Yandex PIN is part of the key):
# they need a recent password entry.
GUARDED = ("type", "secret", "counter", "pin")


def values_of(account: Account) -> dict[str, Any]:
    """The values an edit page shows for `account` (never its secret)."""
    return {
        "issuer": account.issuer,
        "name": account.name,
        "note": account.note,
        "favorite": bool(account.favorite),
        "type": account.type,
        "algorithm": account.algorithm,
        "digits": account.digits,
        "period": account.period,
        "counter": account.counter,
        "groups": [group.name for group in account.groups],
        "icon": account.icon.kind if account.icon is not None else "auto",
    }


def encode(values: dict[str, Any]) -> str:
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"))


def decode(text: str | None) -> dict[str, Any] | None:
    """Values a page sent back, or None when they are missing or not what `encode` wrote."""
    try:
        values = json.loads(text or "")
    except ValueError:
        return None
    if not isinstance(values, dict) or set(values) != set(FIELDS):
        return None
    return values


def _same(field: str, left: Any, right: Any) -> bool:
    """Equal as the vault would store them: text trimmed and NFC (browsers send CR LF), groups in any order."""
    if field in TEXT_FIELDS:
        return _text(left) == _text(right)
    if field == "groups":
        return sorted(_text(name).casefold() for name in left or []) == sorted(
            _text(name).casefold() for name in right or []
        )
    return left == right


def _text(value: Any) -> str:
    return unicodedata.normalize("NFC", str(value or "").replace("\r\n", "\n")).strip()


def changed(base: dict[str, Any], submitted: dict[str, Any]) -> set[str]:
    """The fields the person changed on the page."""
    return {field for field in FIELDS if not _same(field, base[field], submitted[field])}


@dataclass(frozen=True)
class ChangedElsewhere:
    """A field that changed since the page was opened; `yours` is what the person typed over it, if anything."""

    field: str
    now: Any
    yours: Any = None
    collides: bool = False


def merge(
    base: dict[str, Any], current: dict[str, Any], submitted: dict[str, Any]
) -> tuple[dict[str, Any], list[ChangedElsewhere]]:
    """The values to show again after a refused save, and what changed elsewhere.

    A field the person changed keeps their input unless it changed elsewhere too (to another
    value): then it shows the current value, and the person's is listed beside it.
    """
    mine = changed(base, submitted)
    merged: dict[str, Any] = {}
    elsewhere: list[ChangedElsewhere] = []
    for field in FIELDS:
        moved = not _same(field, base[field], current[field])
        collides = moved and field in mine and not _same(field, current[field], submitted[field])
        merged[field] = submitted[field] if field in mine and not collides else current[field]
        if moved:
            elsewhere.append(ChangedElsewhere(field, current[field], submitted[field] if collides else None, collides))
    return merged, elsewhere
