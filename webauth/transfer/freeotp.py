"""FreeOTP+ JSON backups (helloworld1/FreeOTPPlus, `legacy/Token.java` serialised by Gson).

`{"tokens": [{type, issuerExt, issuerInt, issuerAlt, label, labelAlt, secret, algo, digits,
period, counter, ...}], "tokenOrder": [...]}`. The secret is the raw key as a Java `byte[]`,
so a list of signed bytes (-128..127).

FreeOTP+ keeps the issuer and label from the original URI (`issuerExt`, `label`) and the
user's edits beside them (`issuerAlt`, `labelAlt`); like the app, the edits win. It shows
Steam codes for a token whose issuer is `Steam`, so such a token imports as Steam. The HOTP
`counter` is imported as stored: FreeOTP+ keeps the next value to use, which is one lower
than the URI it was added from.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from webauth.otp import OtpParams, OtpType
from webauth.otpauth import AccountSpec
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

_WHAT = _l("FreeOTP+ backup")
_TYPES = {"TOTP": OtpType.TOTP, "HOTP": OtpType.HOTP}


def _secret(value: object) -> bytes:
    """Java's signed bytes back to raw bytes."""
    if not isinstance(value, list) or not all(
        isinstance(byte, int) and not isinstance(byte, bool) and -128 <= byte <= 127 for byte in value
    ):
        raise EntryProblem(_("The secret key of this entry is damaged."))
    return bytes(byte & 0xFF for byte in value)


def _convert(source: str, item: object) -> ImportedEntry:
    token = entry_object(item)
    type_name = field_str(token, "type", required=True).upper()
    if type_name not in _TYPES:
        raise EntryProblem(
            _("This entry is of an unknown kind, %(type)s: FreeOTP+ writes TOTP and HOTP.", type=repr(type_name))
        )
    issuer_ext = field_str(token, "issuerExt")
    issuer = field_str(token, "issuerAlt") or issuer_ext or field_str(token, "issuerInt")
    label_alt = token.get("labelAlt")
    name = field_str(token, "labelAlt") if label_alt is not None else field_str(token, "label")
    otp_type = OtpType.STEAM if issuer_ext == "Steam" else _TYPES[type_name]
    params = OtpParams(
        type=otp_type,
        secret=_secret(token.get("secret")),
        algorithm=parse_algorithm(field_str(token, "algo") or "SHA1"),
        digits=field_int(token, "digits", 6),
        period=field_int(token, "period", 30),
        counter=field_int(token, "counter", 0),
    )
    category = field_str(token, "category")
    spec = AccountSpec(issuer=issuer, name=name, params=params, groups=(category,) if category else ())
    return ImportedEntry(source=source, spec=spec)


def _token_names(token: Mapping[str, Any]) -> tuple[object, ...]:
    return token.get("issuerAlt") or token.get("issuerExt"), token.get("labelAlt") or token.get("label")


class FreeOtpPlusImporter(Importer):
    format_id: ClassVar[str] = "freeotp_plus"
    title: ClassVar[str] = "FreeOTP+ backup (JSON)"

    def sniff(self, data: bytes) -> bool:
        return sniff_json_shape(
            data, (b'"tokens"',), lambda value: isinstance(value, dict) and isinstance(value.get("tokens"), list)
        )

    def read(self, data: bytes, password: str | None = None) -> list[ImportedEntry]:
        backup = json_object(data, _WHAT)
        tokens = backup.get("tokens")
        if not isinstance(tokens, list):
            raise TransferError(_("This is not a %(what)s: it has no list of tokens.", what=_WHAT))
        return convert_all(numbered(tokens, "token", _token_names), _convert)


IMPORTERS: list[Importer] = [FreeOtpPlusImporter()]
