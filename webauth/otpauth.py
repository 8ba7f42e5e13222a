"""The `otpauth://` URI: parsing what real apps write, and formatting what they all read.

mOTP accounts have their own scheme, `motp://ISSUER:NAME?secret=HEX` (multiOTP, Authenticator
Pro and Aegis read it): a hex secret and no PIN. Yandex Key accounts are `otpauth://yaotp/...`,
their PIN (when the link has one) base32-encoded in `pin=` as Aegis writes it.

`AccountSpec` is the plain description of one account that every entry point (forms,
importers, sync, CLI) hands to the vault. Parsing is lenient where real exports are
sloppy (case, padding, spaces, stray parameters) and strict everywhere else: a refusal
names the field and says why, so the user can fix the input.
"""

from __future__ import annotations

import base64
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from flask_babel import gettext as _
from flask_babel import ngettext

from webauth.otp import HMAC_ALGORITHMS, Algorithm, InvalidParameter, OtpParams, OtpType

MAX_LABEL_LENGTH = 200
MAX_NOTE_LENGTH = 2000
MAX_URI_LENGTH = 8192

_BASE32_JUNK = re.compile(r"[\s=-]+")
_BASE32_ALPHABET = re.compile(r"[A-Z2-7]*")
_HEX_JUNK = re.compile(r"[\s:-]+")
_HEX_DIGITS = re.compile(r"[0-9a-fA-F]*")
MOTP_SCHEME = "motp"
YANDEX_HOST = "yaotp"
# The issuer Aegis gives a Yandex link that names none.
YANDEX_ISSUER = "Yandex"


class OtpauthError(InvalidParameter):
    """An otpauth URI (or a field of an account) that cannot be accepted."""


def _too_long(field_name: str, limit: int) -> str:
    """The refusal of a text over its limit, one sentence per field so each translates whole."""
    if field_name == "issuer":
        return _("The issuer is longer than %(limit)s characters.", limit=limit)
    if field_name == "name":
        return _("The account name is longer than %(limit)s characters.", limit=limit)
    if field_name == "note":
        return _("The note is longer than %(limit)s characters.", limit=limit)
    return _("A group name is longer than %(limit)s characters.", limit=limit)


def _unreadable(field_name: str) -> str:
    """The refusal of a text holding control characters or broken Unicode, one sentence per field."""
    if field_name == "issuer":
        return _("The issuer holds invisible control characters or broken text; type it again.")
    if field_name == "name":
        return _("The account name holds invisible control characters or broken text; type it again.")
    if field_name == "note":
        return _("The note holds invisible control characters or broken text; type it again.")
    return _("A group name holds invisible control characters or broken text; type it again.")


def _clean_text(value: str, field_name: str, limit: int) -> str:
    value = unicodedata.normalize("NFC", value).strip()
    if len(value) > limit:
        raise OtpauthError(field_name, _too_long(field_name, limit))
    allowed = "\n\t" if field_name == "note" else ""
    if any(unicodedata.category(ch) in ("Cc", "Cs") and ch not in allowed for ch in value):
        raise OtpauthError(field_name, _unreadable(field_name))
    return value


def clean_group_name(name: str) -> str:
    """A group name as `AccountSpec` keeps it (NFC, trimmed, no control characters, within the limit)."""
    return _clean_text(name, "groups", MAX_LABEL_LENGTH)


def clean_group_names(names: Iterable[str]) -> list[str]:
    """Group names as they are kept: each cleaned (`clean_group_name`), empty ones and repeats
    that differ only in case left out, in their first order."""
    cleaned: list[str] = []
    for name in names:
        name = clean_group_name(name)
        if name and name.casefold() not in {seen.casefold() for seen in cleaned}:
            cleaned.append(name)
    return cleaned


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
            raise OtpauthError("name", _("An account needs a name or an issuer."))

    @property
    def label(self) -> str:
        return f"{self.issuer}: {self.name}" if self.issuer and self.name else self.issuer or self.name


def decode_secret(text: str) -> bytes:
    """Base32 as people and apps write it: any case, spaces or dashes, with or without padding."""
    cleaned = _BASE32_JUNK.sub("", text)
    if not cleaned.isascii():
        raise OtpauthError("secret", _("The secret key can only hold the letters A to Z and the digits 2 to 7."))
    cleaned = cleaned.upper()
    if not cleaned:
        raise OtpauthError("secret", _("The secret key is empty."))
    if not _BASE32_ALPHABET.fullmatch(cleaned):
        bad = sorted(set(re.sub(r"[A-Z2-7]", "", cleaned)))
        message = _(
            "The secret key holds %(chars)s, which a secret key never does: it uses only the letters A to Z "
            "and the digits 2 to 7.",
            chars=repr("".join(bad)),
        )
        raise OtpauthError("secret", message)
    if len(cleaned) % 8 in (1, 3, 6):
        message = ngettext(
            "The secret key looks cut short: %(num)d character cannot make a whole key. Copy it again, in full.",
            "The secret key looks cut short: %(num)d characters cannot make a whole key. Copy it again, in full.",
            len(cleaned),
        )
        raise OtpauthError("secret", message)
    # The alphabet and the length are checked above, and the padding is added here: it decodes.
    return base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))


def encode_secret(secret: bytes) -> str:
    """Unpadded upper-case base32, the form every authenticator accepts."""
    return base64.b32encode(secret).decode("ascii").rstrip("=")


def decode_hex_secret(text: str) -> bytes:
    """An mOTP secret: hexadecimal in any case, spaces, colons or dashes allowed between digits."""
    cleaned = _HEX_JUNK.sub("", text)
    if not cleaned:
        raise OtpauthError("secret", _("The secret key is empty."))
    if not cleaned.isascii() or not _HEX_DIGITS.fullmatch(cleaned):
        bad = sorted(set(re.sub(r"[0-9a-fA-F]", "", cleaned)))
        message = _(
            "The mOTP secret key holds %(chars)s, which it never does: it uses only the digits 0 to 9 "
            "and the letters a to f.",
            chars=repr("".join(bad)),
        )
        raise OtpauthError("secret", message)
    if len(cleaned) % 2:
        message = ngettext(
            "The mOTP secret key looks cut short: it has %(num)d character, and it needs an even number. "
            "Copy it again, in full.",
            "The mOTP secret key looks cut short: it has %(num)d characters, and it needs an even number. "
            "Copy it again, in full.",
            len(cleaned),
        )
        raise OtpauthError("secret", message)
    return bytes.fromhex(cleaned)


def decode_secret_of(otp_type: OtpType, text: str) -> bytes:
    """A secret as people type it for this type: hex for mOTP, base32 for the others."""
    return decode_hex_secret(text) if otp_type is OtpType.MOTP else decode_secret(text)


def secret_text(params: OtpParams) -> str:
    """The secret as it is typed for its type: lower-case hex for mOTP (the form its codes hash),
    base32 for the others."""
    return params.secret.hex() if params.type is OtpType.MOTP else encode_secret(params.secret)


def _not_a_number(name: str, shown: str) -> str:
    """The refusal of a link's number parameter, one sentence per parameter so each translates whole."""
    if name == "digits":
        return _("The number of digits must be a whole number, not %(value)s.", value=shown)
    if name == "period":
        return _("The period must be a whole number of seconds, not %(value)s.", value=shown)
    return _("The counter must be a whole number, not %(value)s.", value=shown)


def _int_param(query: dict[str, str], name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw.strip())
    except ValueError:
        raise OtpauthError(name, _not_a_number(name, repr(raw))) from None


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
    """Parse one otpauth (or motp) URI; raise `OtpauthError` naming the field at fault.

    An mOTP link never holds the PIN, nor may a Yandex one: the spec then `needs_pin`, and
    whoever adds it asks for the PIN.
    """
    uri = uri.strip()
    if len(uri) > MAX_URI_LENGTH:
        raise OtpauthError("uri", _("The link is longer than %(limit)s characters.", limit=MAX_URI_LENGTH))
    try:
        parts = urlsplit(uri)
    except ValueError:
        raise OtpauthError("uri", _("This is not a valid link: check that it was copied in full.")) from None
    scheme = parts.scheme.lower()
    if scheme not in ("otpauth", MOTP_SCHEME):
        shown = parts.scheme or uri[:20]
        message = _(
            "This is not a two-factor link: such links start with otpauth:// (or motp://), and this one starts "
            "with %(value)s.",
            value=repr(shown),
        )
        raise OtpauthError("uri", message)
    query: dict[str, str] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        query.setdefault(key.lower(), value)
    if scheme == MOTP_SCHEME:
        return _parse_motp(uri, query)
    type_name = parts.netloc.lower()
    if type_name == "totp" and query.get("encoder", "").lower() == "steam":
        type_name = "steam"
    if type_name == YANDEX_HOST:
        type_name = OtpType.YANDEX.value
    if type_name not in {t.value for t in OtpType if t is not OtpType.MOTP}:
        message = _(
            "The link is of an unknown kind, %(value)s: webauth reads time-based (totp), counter-based (hotp), "
            "Steam and Yandex (yaotp) links.",
            value=repr(parts.netloc),
        )
        raise OtpauthError("type", message)
    if "secret" not in query:
        raise OtpauthError("secret", _("The link holds no secret key (its secret= part is missing)."))
    secret = decode_secret(query["secret"])
    otp_type = OtpType(type_name)
    algorithm = query.get("algorithm", "").strip().upper() or "SHA1"
    if otp_type is not OtpType.YANDEX and algorithm not in {a.value for a in HMAC_ALGORITHMS}:
        message = _("The algorithm %(value)s is not supported: use SHA-1, SHA-256 or SHA-512.", value=repr(algorithm))
        raise OtpauthError("algorithm", message)
    pin = _yandex_pin(query.get("pin", "")) if otp_type is OtpType.YANDEX else None
    params = _params(
        type=otp_type,
        secret=secret,
        algorithm=Algorithm(algorithm) if otp_type is not OtpType.YANDEX else Algorithm.SHA256,
        digits=_int_param(query, "digits", 6) if otp_type is not OtpType.YANDEX else 8,
        period=_int_param(query, "period", 30) if otp_type is OtpType.TOTP else 30,
        counter=_int_param(query, "counter", 0) if otp_type is OtpType.HOTP else 0,
        pin=pin,
    )
    issuer_param = query.get("issuer")
    prefix, name = _split_label(parts.path.lstrip("/"), issuer_param)
    issuer = issuer_param.strip() if issuer_param is not None else prefix
    if otp_type is OtpType.YANDEX and issuer_param is None and not prefix:
        issuer = YANDEX_ISSUER
    known = {"secret", "issuer", "algorithm", "digits", "period", "counter", "encoder"}
    if otp_type is OtpType.YANDEX:
        known.add("pin")
    extra = {key: value for key, value in query.items() if key not in known}
    return AccountSpec(issuer=issuer, name=name, params=params, extra=extra)


def with_pin(spec: AccountSpec, pin: str) -> AccountSpec:
    """`spec` with the PIN its link did not hold (typed in a form, read from standard input).

    Yandex's own links give `pin_length`: a PIN of another length would give wrong codes
    without a word, so it is refused here.
    """
    expected = spec.extra.get("pin_length", "").strip()
    if expected.isdigit() and len(pin) != int(expected):
        message = ngettext(
            "The PIN must be %(num)d character long, as the link says.",
            "The PIN must be %(num)d characters long, as the link says.",
            int(expected),
        )
        raise OtpauthError("pin", message)
    return replace(spec, params=_params(**{**_fields(spec.params), "pin": pin}))


def _fields(params: OtpParams) -> dict[str, object]:
    return {name: getattr(params, name) for name in ("type", "secret", "algorithm", "digits", "period", "counter")}


def _params(**fields: object) -> OtpParams:
    """`OtpParams(**fields)`, its refusal raised as an `OtpauthError`."""
    try:
        return OtpParams(**fields)  # type: ignore[arg-type]
    except OtpauthError:
        raise
    except InvalidParameter as error:
        raise OtpauthError(error.field, error.message) from None


def _yandex_pin(text: str) -> str | None:
    """The PIN of a Yandex link, which Aegis writes base32-encoded (its UTF-8 bytes)."""
    if not text.strip():
        return None
    try:
        return decode_secret(text).decode("utf-8")
    except (OtpauthError, UnicodeDecodeError):
        message = _("The PIN in this link cannot be read: Aegis writes it in base32, and this one is not.")
        raise OtpauthError("pin", message) from None


def _parse_motp(uri: str, query: dict[str, str]) -> AccountSpec:
    """`motp://ISSUER:NAME?secret=HEX` (also `motp:/ISSUER%3ANAME?...&issuer=ISSUER`).

    The label is everything between the scheme and the query, since `ISSUER:NAME` in the
    authority's place is no host and port. Some apps add a `pin` in clear; Aegis never does.
    """
    if "secret" not in query:
        raise OtpauthError("secret", _("The link holds no secret key (its secret= part is missing)."))
    raw_label = re.split(r"[?#]", uri[len(MOTP_SCHEME) + 1 :], maxsplit=1)[0].lstrip("/")
    params = _params(type=OtpType.MOTP, secret=decode_hex_secret(query["secret"]), pin=query.get("pin") or None)
    issuer_param = query.get("issuer")
    prefix, name = _split_label(raw_label, issuer_param)
    issuer = issuer_param.strip() if issuer_param is not None else prefix
    extra = {key: value for key, value in query.items() if key not in {"secret", "issuer", "pin"}}
    return AccountSpec(issuer=issuer, name=name, params=params, extra=extra)


def format_uri(spec: AccountSpec) -> str:
    """The canonical URI of an account: every parameter spelled out, label `Issuer:name`.

    mOTP accounts get `motp://ISSUER:NAME?secret=HEX`, without the PIN, as every app that reads
    them expects; Yandex accounts `otpauth://yaotp/...` with the PIN base32-encoded (Aegis's form).
    """
    params = spec.params
    name = quote(spec.name, safe="@")
    label = f"{quote(spec.issuer, safe='@')}:{name}" if spec.issuer else name
    if params.type is OtpType.MOTP:
        query = [f"secret={params.secret.hex()}"]
        if spec.issuer or ":" in spec.name:
            # Aegis reads no label from this place in a motp link: the parameter keeps the issuer.
            query.append(f"issuer={quote(spec.issuer, safe='@')}")
        return f"{MOTP_SCHEME}://{label}?{'&'.join(query)}"
    query = [f"secret={encode_secret(params.secret)}"]
    # An empty issuer parameter keeps a Yandex account without one from being named "Yandex".
    if spec.issuer or ":" in spec.name or params.type is OtpType.YANDEX:
        query.append(f"issuer={quote(spec.issuer, safe='@')}")
    query.append(f"algorithm={params.algorithm.value}")
    query.append(f"digits={params.digits}")
    if params.type is OtpType.HOTP:
        query.append(f"counter={params.counter}")
    else:
        query.append(f"period={params.period}")
    host = params.type.value
    if params.type is OtpType.YANDEX:
        host = YANDEX_HOST
        if params.pin is not None:
            query.append(f"pin={encode_secret(params.pin.encode('utf-8'))}")
    return f"otpauth://{host}/{label}?{'&'.join(query)}"
