"""2FAuth JSON exports (Bubka/2FAuth, "Export schema" in its docs, read by its `TwoFAuthMigrator`).

`{"app": "2fauth_v5.1.1", "schema": 1, "datetime", "data": [{otp_type (totp, hotp, steamtotp),
account, service, secret (base32), digits, algorithm (sha1, sha256, sha512, md5), period,
counter, icon, icon_mime, icon_file (base64), legacy_uri}]}`.

Icons are kept only as raster images (PNG, JPEG, WebP) whose bytes match the declared
type and that are reasonably small: an SVG can carry script, and an icon is decoration, so
one that does not qualify is dropped while the account still imports.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any, ClassVar

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from webauth.otp import OtpParams, OtpType
from webauth.otpauth import AccountSpec, decode_secret
from webauth.transfer._parsing import (
    EntryProblem,
    convert_all,
    entry_object,
    field_int,
    field_str,
    json_object,
    numbered,
    parse_algorithm,
    sniff_json_shape,
)
from webauth.transfer.base import ImportedEntry, Importer, TransferError

_WHAT = _l("2FAuth export")
_APP_PREFIX = "2fauth_v"
_TYPES = {"totp": OtpType.TOTP, "hotp": OtpType.HOTP, "steamtotp": OtpType.STEAM}
_MAX_ICON_BYTES = 256 * 1024
_ICON_SIGNATURES = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/webp": (b"RIFF",),
}


def _is_export(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("app"), str)
        and value["app"].startswith(_APP_PREFIX)
        and isinstance(value.get("data"), list)
    )


def _icon(item: Mapping[str, Any]) -> tuple[bytes | None, str | None]:
    """The entry's icon and its type, or (None, None) when it has none we keep."""
    mime, encoded = item.get("icon_mime"), item.get("icon_file")
    if not isinstance(mime, str) or mime not in _ICON_SIGNATURES:
        return None, None
    if not isinstance(encoded, str) or len(encoded) > _MAX_ICON_BYTES * 4 // 3 + 4:
        return None, None
    try:
        icon = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return None, None
    if not icon.startswith(_ICON_SIGNATURES[mime]) or (mime == "image/webp" and icon[8:12] != b"WEBP"):
        return None, None
    return icon, mime


def _convert(source: str, raw: object) -> ImportedEntry:
    item = entry_object(raw)
    type_name = field_str(item, "otp_type", required=True).strip().lower()
    if type_name not in _TYPES:
        raise EntryProblem(
            _(
                "This entry is of a kind webauth cannot import, %(type)s: 2FAuth writes totp, hotp and steamtotp.",
                type=repr(type_name),
            )
        )
    otp_type = _TYPES[type_name]
    params = OtpParams(
        type=otp_type,
        secret=decode_secret(field_str(item, "secret", required=True)),
        algorithm=parse_algorithm(field_str(item, "algorithm") or "sha1"),
        digits=field_int(item, "digits", 6),
        # 2FAuth writes null for the field that does not apply to the type.
        period=field_int(item, "period", 30) if otp_type is OtpType.TOTP else 30,
        counter=field_int(item, "counter", 0) if otp_type is OtpType.HOTP else 0,
    )
    icon, icon_mime = _icon(item)
    spec = AccountSpec(
        issuer=field_str(item, "service"),
        name=field_str(item, "account"),
        params=params,
        icon=icon,
        icon_mime=icon_mime,
    )
    return ImportedEntry(source=source, spec=spec)


def _names(item: Mapping[str, Any]) -> tuple[object, ...]:
    return item.get("service"), item.get("account")


class TwoFAuthImporter(Importer):
    format_id: ClassVar[str] = "twofauth"
    title: ClassVar[str] = "2FAuth export (JSON)"

    def sniff(self, data: bytes) -> bool:
        return sniff_json_shape(data, (b'"app"', b'"2fauth_v'), _is_export)

    def read(self, data: bytes, password: str | None = None) -> list[ImportedEntry]:
        export = json_object(data, _WHAT)
        if not _is_export(export):
            raise TransferError(
                _("This is not a %(what)s: it lacks the 2fauth app name or the list of accounts.", what=_WHAT)
            )
        schema = export.get("schema")
        if schema is not None and (schema != 1 or isinstance(schema, bool)):
            raise TransferError(
                _("This %(what)s uses schema %(schema)s; only schema 1 can be read.", what=_WHAT, schema=repr(schema))
            )
        return convert_all(numbered(export["data"], "account", _names), _convert)


IMPORTERS: list[Importer] = [TwoFAuthImporter()]
