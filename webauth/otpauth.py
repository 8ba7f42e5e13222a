"""The `otpauth://` URI: parsing what real apps write, and formatting what they all read.

`AccountSpec` is the plain description of one account that every entry point (forms,
importers, sync, CLI) hands to the vault. Parsing is lenient where real exports are
sloppy (case, padding, spaces, stray parameters) and strict everywhere else: a refusal
names the field and says why, so the user can fix the input.
"""

from __future__ import annotations

import base64
import re
import unicodedata
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from flask_babel import gettext as _

from webauth.otp import Algorithm, InvalidParameter, OtpParams, OtpType

MAX_LABEL_LENGTH = 200
MAX_NOTE_LENGTH = 2000
MAX_URI_LENGTH = 8192

_BASE32_JUNK = re.compile(r"[\s=-]+")
_BASE32_ALPHABET = re.compile(r"[A-Z2-7]*")


class OtpauthError(InvalidParameter):
    """An otpauth URI (or a field of an account) that cannot be accepted."""


def _clean_text(value: str, field_name: str, limit: int) -> str:
    value = unicodedata.normalize("NFC", value).strip()
    if len(value) > limit:
        raise OtpauthError(field_name, _("is longer than %(limit)s characters", limit=limit))
    allowed = "\n\t" if field_name == "note" else ""
    if any(unicodedata.category(ch) in ("Cc", "Cs") and ch not in allowed for ch in value):
        raise OtpauthError(field_name, _("contains control characters or broken Unicode"))
    return value


def clean_group_name(name: str) -> str:
    """A group name as `AccountSpec` keeps it (NFC, trimmed, no control characters, within the limit)."""
    return _clean_text(name, "groups", MAX_LABEL_LENGTH)


@dataclass(frozen=True)
class AccountSpec:
    """One account as a user or another app describes it, before it is stored."""

    issuer: str
    name: str
    params: OtpParams
    note: str = ""
    groups: tuple[str, ...] = ()
    favorite: bool = False
    icon: bytes | None = None
    icon_mime: str | None = None
    # Query parameters beyond the standard ones (keys lower-cased), e.g. Ente's `codedisplay`.
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "issuer", _clean_text(self.issuer or "", "issuer", MAX_LABEL_LENGTH))
        object.__setattr__(self, "name", _clean_text(self.name or "", "name", MAX_LABEL_LENGTH))
        object.__setattr__(self, "note", _clean_text(self.note or "", "note", MAX_NOTE_LENGTH))
        groups = []
        for group in self.groups:
            group = _clean_text(group, "groups", MAX_LABEL_LENGTH)
            if group and group not in groups:
                groups.append(group)
        object.__setattr__(self, "groups", tuple(groups))
        if not self.issuer and not self.name:
            raise OtpauthError("name", _("an account needs a name or an issuer"))

    @property
    def label(self) -> str:
        return f"{self.issuer}: {self.name}" if self.issuer and self.name else self.issuer or self.name


def decode_secret(text: str) -> bytes:
    """Base32 as people and apps write it: any case, spaces or dashes, with or without padding."""
    cleaned = _BASE32_JUNK.sub("", text)
    if not cleaned.isascii():
        raise OtpauthError("secret", _("is not base32 (only the letters A-Z and digits 2-7 are allowed)"))
    cleaned = cleaned.upper()
    if not cleaned:
        raise OtpauthError("secret", _("the secret is empty"))
    if not _BASE32_ALPHABET.fullmatch(cleaned):
        bad = sorted(set(re.sub(r"[A-Z2-7]", "", cleaned)))
        raise OtpauthError(
            "secret", _("is not base32 (unexpected %(chars)s; use A-Z and 2-7)", chars=repr("".join(bad)))
        )
    if len(cleaned) % 8 in (1, 3, 6):
        raise OtpauthError(
            "secret", _("is not valid base32 (%(count)s characters cannot encode whole bytes)", count=len(cleaned))
        )
    # The alphabet and the length are checked above, and the padding is added here: it decodes.
    return base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))


def encode_secret(secret: bytes) -> str:
    """Unpadded upper-case base32, the form every authenticator accepts."""
    return base64.b32encode(secret).decode("ascii").rstrip("=")


def _int_param(query: dict[str, str], name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw.strip())
    except ValueError:
        raise OtpauthError(name, _("must be a whole number, not %(value)s", value=repr(raw))) from None


def _split_label(raw_label: str, issuer_param: str | None) -> tuple[str, str]:
    """Issuer prefix and account name from the URI path.

    A literal ':' separates the issuer prefix; an encoded one (%3A) only does when no
    issuer parameter says otherwise, which keeps names holding a colon intact.
    """
    if ":" in raw_label:
        prefix, _, name = raw_label.partition(":")
        return unquote(prefix), unquote(name)
    decoded = unquote(raw_label)
    if issuer_param is not None:
        if issuer_param and decoded.startswith(issuer_param + ":"):
            return issuer_param, decoded[len(issuer_param) + 1 :]
        return "", decoded
    if ":" in decoded:
        prefix, _, name = decoded.partition(":")
        return prefix, name
    return "", decoded


def parse_uri(uri: str) -> AccountSpec:
    """Parse one otpauth URI; raise `OtpauthError` naming the field at fault."""
    uri = uri.strip()
    if len(uri) > MAX_URI_LENGTH:
        raise OtpauthError("uri", _("is longer than %(limit)s characters", limit=MAX_URI_LENGTH))
    try:
        parts = urlsplit(uri)
    except ValueError as error:
        raise OtpauthError("uri", _("is not a valid URI (%(reason)s)", reason=error)) from None
    if parts.scheme.lower() != "otpauth":
        shown = parts.scheme or uri[:20]
        raise OtpauthError("uri", _("must start with otpauth://, not %(value)s", value=repr(shown)))
    type_name = parts.netloc.lower()
    query: dict[str, str] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        query.setdefault(key.lower(), value)
    if type_name == "totp" and query.get("encoder", "").lower() == "steam":
        type_name = "steam"
    if type_name not in {t.value for t in OtpType}:
        raise OtpauthError("type", _("unknown type %(value)s; expected totp, hotp or steam", value=repr(parts.netloc)))
    if "secret" not in query:
        raise OtpauthError("secret", _("the URI has no secret parameter"))
    secret = decode_secret(query["secret"])
    algorithm = query.get("algorithm", "").strip().upper() or "SHA1"
    if algorithm not in {a.value for a in Algorithm}:
        raise OtpauthError(
            "algorithm", _("unknown algorithm %(value)s; use SHA1, SHA256 or SHA512", value=repr(query["algorithm"]))
        )
    otp_type = OtpType(type_name)
    try:
        params = OtpParams(
            type=otp_type,
            secret=secret,
            algorithm=Algorithm(algorithm),
            digits=_int_param(query, "digits", 6),
            period=_int_param(query, "period", 30) if otp_type is OtpType.TOTP else 30,
            counter=_int_param(query, "counter", 0) if otp_type is OtpType.HOTP else 0,
        )
    except OtpauthError:
        raise
    except InvalidParameter as error:
        raise OtpauthError(error.field, error.message) from None
    issuer_param = query.get("issuer")
    prefix, name = _split_label(parts.path.lstrip("/"), issuer_param)
    issuer = issuer_param.strip() if issuer_param is not None else prefix
    known = {"secret", "issuer", "algorithm", "digits", "period", "counter", "encoder"}
    extra = {key: value for key, value in query.items() if key not in known}
    return AccountSpec(issuer=issuer, name=name, params=params, extra=extra)


def format_uri(spec: AccountSpec) -> str:
    """The canonical URI of an account: every parameter spelled out, label `Issuer:name`."""
    params = spec.params
    name = quote(spec.name, safe="@")
    label = f"{quote(spec.issuer, safe='@')}:{name}" if spec.issuer else name
    query = [f"secret={encode_secret(params.secret)}"]
    if spec.issuer or ":" in spec.name:
        query.append(f"issuer={quote(spec.issuer, safe='@')}")
    query.append(f"algorithm={params.algorithm.value}")
    query.append(f"digits={params.digits}")
    if params.type is OtpType.HOTP:
        query.append(f"counter={params.counter}")
    else:
        query.append(f"period={params.period}")
    return f"otpauth://{params.type.value}/{label}?{'&'.join(query)}"
