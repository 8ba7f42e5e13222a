"""An import between its upload and its confirmation, held server-side and sealed.

The browser cannot send a file again with the confirmation form, and the session cookie is
no place for secrets, so the server keeps what the preview needs in a `PendingImport` row:
the uploaded bytes while it waits for the file's password, then the entries read from it.
Either is compressed and sealed (AES-256-GCM) under the user's data key, bound to the user
and to the row, so it is never on disk in clear and opens for nobody else. A row lives
`PENDING_TTL` at most: it is deleted when the import is confirmed (in the same transaction
that adds the accounts) or cancelled, and expired rows are deleted whenever a new one is made.
"""

from __future__ import annotations

import base64
import json
import uuid
import zlib
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select

from webauth.extensions import db
from webauth.models import PendingImport, utcnow
from webauth.otp import Algorithm, OtpParams, OtpType
from webauth.otpauth import AccountSpec
from webauth.transfer.base import ImportedEntry
from webauth.vault import Vault

PENDING_TTL = timedelta(minutes=15)
STAGE_PASSWORD = "password"  # noqa: S105 - a stage name, not a secret
STAGE_PREVIEW = "preview"
# What the decompressed payload may grow to: a 5 MB file, or 10,000 entries with icons.
_MAX_PAYLOAD = 64 * 1024 * 1024


class PendingNotFound(LookupError):
    """No such pending import for this user: never made, expired, or already confirmed or cancelled."""


def _purpose(row: PendingImport) -> str:
    return f"pending-import:{row.uuid}"


def create(vault: Vault, stage: str, payload: bytes, *, format_id: str | None, filename: str = "") -> PendingImport:
    """Store `payload` sealed for this user; expired rows of anyone go first."""
    db.session.execute(delete(PendingImport).where(PendingImport.expires_at < utcnow()))
    row = PendingImport(user_id=vault.user.id, stage=stage, format_id=format_id, filename=filename[:255])
    row.uuid = str(uuid.uuid4())
    row.expires_at = utcnow() + PENDING_TTL
    row.payload_sealed = vault.seal_blob(_purpose(row), zlib.compress(payload))
    db.session.add(row)
    return row


def load(vault: Vault, token: str) -> tuple[PendingImport, bytes]:
    """The user's pending import and its payload, or `PendingNotFound`."""
    row = db.session.scalar(
        select(PendingImport).where(PendingImport.uuid == token[:36], PendingImport.user_id == vault.user.id)
    )
    if row is None or row.expires_at < utcnow():
        raise PendingNotFound(token)
    decompressor = zlib.decompressobj()
    payload = decompressor.decompress(vault.open_blob(_purpose(row), row.payload_sealed), _MAX_PAYLOAD)
    return row, payload


def replace(vault: Vault, row: PendingImport, stage: str, payload: bytes, *, format_id: str | None) -> None:
    """Move a pending import on to its next stage, with a fresh expiry."""
    row.stage, row.format_id = stage, format_id
    row.expires_at = utcnow() + PENDING_TTL
    row.payload_sealed = vault.seal_blob(_purpose(row), zlib.compress(payload))


def discard(row: PendingImport) -> None:
    """Consume a pending import; confirming joins this to the transaction that adds its accounts."""
    db.session.delete(row)


# Entries as the preview keeps them ----------------------------------------------------------


def _spec_json(spec: AccountSpec) -> dict[str, Any]:
    params = spec.params
    return {
        "issuer": spec.issuer,
        "name": spec.name,
        "type": params.type.value,
        "secret": base64.b64encode(params.secret).decode("ascii"),
        "algorithm": params.algorithm.value,
        "digits": params.digits,
        "period": params.period,
        "counter": params.counter,
        "pin": params.pin,
        "note": spec.note,
        "groups": list(spec.groups),
        "favorite": spec.favorite,
        "icon": base64.b64encode(spec.icon).decode("ascii") if spec.icon else None,
        "icon_mime": spec.icon_mime,
    }


def _spec_from(data: dict[str, Any]) -> AccountSpec:
    params = OtpParams(
        type=OtpType(data["type"]),
        secret=base64.b64decode(data["secret"]),
        algorithm=Algorithm(data["algorithm"]),
        digits=data["digits"],
        period=data["period"],
        counter=data["counter"],
        pin=data.get("pin"),
    )
    return AccountSpec(
        issuer=data["issuer"],
        name=data["name"],
        params=params,
        note=data["note"],
        groups=tuple(data["groups"]),
        favorite=data["favorite"],
        icon=base64.b64decode(data["icon"]) if data["icon"] else None,
        icon_mime=data["icon_mime"],
    )


def dump_entries(entries: list[ImportedEntry]) -> bytes:
    return json.dumps(
        [
            {
                "source": entry.source,
                "spec": _spec_json(entry.spec) if entry.spec is not None else None,
                "problem": entry.problem,
                "trashed": entry.trashed,
            }
            for entry in entries
        ],
        ensure_ascii=False,
    ).encode("utf-8")


def load_entries(payload: bytes) -> list[ImportedEntry]:
    return [
        ImportedEntry(
            source=item["source"],
            spec=_spec_from(item["spec"]) if item["spec"] is not None else None,
            problem=item["problem"],
            trashed=item["trashed"],
        )
        for item in json.loads(payload)
    ]
