"""One-time code generation: TOTP (RFC 6238), HOTP (RFC 4226) and Steam Guard codes.

This is the only place on the server where codes are computed. It works on raw secret
bytes rather than base32 text so that every importer, the vault and the CLI agree on one
representation, and it accepts what real accounts use (80-bit secrets, 5-digit codes)
instead of the stricter policy pyotp applies to secrets it generates itself.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass
from enum import StrEnum

from flask_babel import gettext as _

from webauth import clock


class OtpType(StrEnum):
    TOTP = "totp"
    HOTP = "hotp"
    STEAM = "steam"


class Algorithm(StrEnum):
    SHA1 = "SHA1"
    SHA256 = "SHA256"
    SHA512 = "SHA512"


_DIGESTS = {
    Algorithm.SHA1: hashlib.sha1,
    Algorithm.SHA256: hashlib.sha256,
    Algorithm.SHA512: hashlib.sha512,
}

STEAM_ALPHABET = "23456789BCDFGHJKMNPQRTVWXY"
STEAM_DIGITS = 5
MIN_DIGITS, MAX_DIGITS = 5, 10
MAX_PERIOD = 24 * 3600
MAX_SECRET_BYTES = 256
MAX_COUNTER = 2**63 - 1


class InvalidParameter(ValueError):
    """A parameter of an account is out of range; `field` names it for the user."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class OtpParams:
    """Everything needed to compute an account's codes, validated on construction.

    Steam accounts always use SHA1, 5 characters and 30 seconds; the constructor
    normalises them so two equal Steam accounts compare equal.
    """

    type: OtpType
    secret: bytes
    algorithm: Algorithm = Algorithm.SHA1
    digits: int = 6
    period: int = 30
    counter: int = 0

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "type", OtpType(self.type))
        except ValueError:
            raise InvalidParameter(
                "type", _("unknown type %(value)s; use totp, hotp or steam", value=repr(self.type))
            ) from None
        try:
            object.__setattr__(self, "algorithm", Algorithm(str(self.algorithm).upper()))
        except ValueError:
            raise InvalidParameter(
                "algorithm", _("unknown algorithm %(value)s; use SHA1, SHA256 or SHA512", value=repr(self.algorithm))
            ) from None
        if not self.secret:
            raise InvalidParameter("secret", _("the secret is empty"))
        if len(self.secret) > MAX_SECRET_BYTES:
            raise InvalidParameter("secret", _("the secret is longer than %(limit)s bytes", limit=MAX_SECRET_BYTES))
        if self.type is OtpType.STEAM:
            object.__setattr__(self, "algorithm", Algorithm.SHA1)
            object.__setattr__(self, "digits", STEAM_DIGITS)
            object.__setattr__(self, "period", 30)
            object.__setattr__(self, "counter", 0)
            return
        if isinstance(self.digits, bool) or not isinstance(self.digits, int):
            raise InvalidParameter("digits", _("must be a whole number"))
        if not MIN_DIGITS <= self.digits <= MAX_DIGITS:
            raise InvalidParameter(
                "digits",
                _(
                    "must be between %(low)s and %(high)s, not %(value)s",
                    low=MIN_DIGITS,
                    high=MAX_DIGITS,
                    value=self.digits,
                ),
            )
        if self.type is OtpType.TOTP:
            if isinstance(self.period, bool) or not isinstance(self.period, int):
                raise InvalidParameter("period", _("must be a whole number of seconds"))
            if not 1 <= self.period <= MAX_PERIOD:
                raise InvalidParameter(
                    "period",
                    _("must be between 1 and %(high)s seconds, not %(value)s", high=MAX_PERIOD, value=self.period),
                )
            object.__setattr__(self, "counter", 0)
        else:
            if isinstance(self.counter, bool) or not isinstance(self.counter, int):
                raise InvalidParameter("counter", _("must be a whole number"))
            if not 0 <= self.counter <= MAX_COUNTER:
                raise InvalidParameter("counter", _("must be between 0 and 2^63-1"))
            object.__setattr__(self, "period", 30)

    @property
    def is_timed(self) -> bool:
        return self.type is not OtpType.HOTP


def hotp_value(secret: bytes, counter: int, algorithm: Algorithm = Algorithm.SHA1) -> int:
    """The 31-bit dynamically truncated HMAC of RFC 4226, shared by every code type."""
    mac = hmac.new(secret, struct.pack(">Q", counter), _DIGESTS[algorithm]).digest()
    offset = mac[-1] & 0x0F
    return struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF


def format_value(value: int, params: OtpParams) -> str:
    return _formatted(value, params.type, params.digits)


def _formatted(value: int, kind: OtpType, digits: int) -> str:
    if kind is OtpType.STEAM:
        chars = []
        for _ in range(STEAM_DIGITS):
            value, index = divmod(value, len(STEAM_ALPHABET))
            chars.append(STEAM_ALPHABET[index])
        return "".join(chars)
    return str(value % 10**digits).zfill(digits)


_DIGEST_NAMES = {algorithm.value: _DIGESTS[algorithm]().name for algorithm in Algorithm}


def stored_code(secret: bytes, kind: str, algorithm: str, digits: int, moving: int) -> str:
    """What `code_at` computes, from the columns of a stored account (`type`, `algorithm`,
    `digits`) at its moving factor (the time step, or the HOTP counter).

    Those columns were checked by `OtpParams` when the account was stored; the list's clock
    computes a code for every account shown at each boundary, and building `OtpParams` again
    for each cost more than the HMAC itself.
    """
    mac = hmac.digest(secret, struct.pack(">Q", moving), _DIGEST_NAMES[algorithm])
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return _formatted(value, OtpType.STEAM if kind == OtpType.STEAM else OtpType.TOTP, digits)


def time_step(params: OtpParams, at: float) -> int:
    return int(at // params.period)


def code_at(params: OtpParams, at: float | None = None, counter: int | None = None) -> str:
    """The code for a timed account at time `at` (default now), or an HOTP account at `counter`."""
    if params.type is OtpType.HOTP:
        moving = params.counter if counter is None else counter
    else:
        moving = time_step(params, clock.now() if at is None else at)
    return format_value(hotp_value(params.secret, moving, params.algorithm), params)


def seconds_remaining(params: OtpParams, at: float) -> float:
    """Seconds until the current code of a timed account expires."""
    return period_remaining(params.period, at)


def period_remaining(period: int, at: float) -> float:
    """Seconds from `at` until the end of the current period of this length."""
    return period - (at % period)
