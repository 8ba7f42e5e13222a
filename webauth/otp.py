"""One-time code generation: TOTP (RFC 6238), HOTP (RFC 4226), Steam Guard, mOTP and Yandex Key codes.

This is the only place on the server where codes are computed. It works on raw secret
bytes rather than base32 text so that every importer, the vault and the CLI agree on one
representation, and it accepts what real accounts use (80-bit secrets, 5-digit codes)
instead of the stricter policy pyotp applies to secrets it generates itself.

mOTP (Mobile-OTP) and Yandex Key codes are computed as Aegis computes them (its `MOTP` and
`YAOTP` classes), the one authenticator whose users have them today: both need a PIN besides
the secret, which the vault seals like the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
import unicodedata
from dataclasses import dataclass, field
from enum import StrEnum

from flask_babel import gettext as _

from webauth import clock


class OtpType(StrEnum):
    TOTP = "totp"
    HOTP = "hotp"
    STEAM = "steam"
    MOTP = "motp"
    YANDEX = "yandex"


class Algorithm(StrEnum):
    SHA1 = "SHA1"
    SHA256 = "SHA256"
    SHA512 = "SHA512"
    # mOTP's digest, and only mOTP's: no other type accepts it.
    MD5 = "MD5"


# The algorithms a TOTP or HOTP account may choose (the HMAC of RFC 4226).
HMAC_ALGORITHMS = (Algorithm.SHA1, Algorithm.SHA256, Algorithm.SHA512)
# Types whose codes need a PIN besides the secret.
PIN_TYPES = (OtpType.MOTP, OtpType.YANDEX)


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
# A PIN is short in practice (mOTP 4 digits, Yandex 4 to 16); the bound only keeps junk out.
MAX_PIN_LENGTH = 64
MOTP_PERIOD, MOTP_DIGITS = 10, 6
YANDEX_PERIOD, YANDEX_DIGITS = 30, 8
# A Yandex secret is 16 bytes; typed by hand it is 26, the 16 followed by a checksum.
YANDEX_SECRET_BYTES, YANDEX_FULL_SECRET_BYTES = 16, 26
_YANDEX_ALPHABET = "abcdefghijklmnopqrstuvwxyz"


class InvalidParameter(ValueError):
    """A parameter of an account is out of range; `field` names it for the user."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class OtpParams:
    """Everything needed to compute an account's codes, validated on construction.

    Steam accounts always use SHA1, 5 characters and 30 seconds, mOTP MD5, 6 hex digits and
    10 seconds, Yandex SHA256, 8 letters and 30 seconds; the constructor normalises them so
    two equal accounts compare equal. A Yandex secret typed with its checksum (26 bytes) is
    checked and kept as the 16 bytes the codes use.

    `pin` belongs to mOTP and Yandex accounts (other types drop it). It may be missing while
    an account is being described, since an mOTP link carries none (`needs_pin`): codes need
    it, and the vault stores no account without it.
    """

    type: OtpType
    secret: bytes
    algorithm: Algorithm = Algorithm.SHA1
    digits: int = 6
    period: int = 30
    counter: int = 0
    pin: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "type", OtpType(self.type))
        except ValueError:
            message = _(
                "%(value)s is not a kind of code webauth knows: use time-based (TOTP), counter-based (HOTP), "
                "Steam, mOTP or Yandex.",
                value=repr(self.type),
            )
            raise InvalidParameter("type", message) from None
        if self.type not in PIN_TYPES:
            object.__setattr__(self, "algorithm", _hmac_algorithm(self.algorithm))
        if not self.secret:
            raise InvalidParameter("secret", _("The secret key is empty."))
        if len(self.secret) > MAX_SECRET_BYTES:
            raise InvalidParameter(
                "secret", _("The secret key is too long: it can hold at most %(limit)s bytes.", limit=MAX_SECRET_BYTES)
            )
        if self.type in PIN_TYPES:
            self._fix(*_PIN_TYPE_PARAMS[self.type])
            object.__setattr__(self, "pin", _checked_pin(self.pin))
            if self.type is OtpType.YANDEX:
                object.__setattr__(self, "secret", yandex_secret(self.secret))
            return
        object.__setattr__(self, "pin", None)
        if self.type is OtpType.STEAM:
            self._fix(Algorithm.SHA1, STEAM_DIGITS, 30)
            return
        if isinstance(self.digits, bool) or not isinstance(self.digits, int):
            raise InvalidParameter("digits", _("The number of digits must be a whole number."))
        if not MIN_DIGITS <= self.digits <= MAX_DIGITS:
            raise InvalidParameter(
                "digits",
                _(
                    "A code must have %(low)s to %(high)s digits, not %(value)s.",
                    low=MIN_DIGITS,
                    high=MAX_DIGITS,
                    value=self.digits,
                ),
            )
        if self.type is OtpType.TOTP:
            if isinstance(self.period, bool) or not isinstance(self.period, int):
                raise InvalidParameter("period", _("The period must be a whole number of seconds."))
            if not 1 <= self.period <= MAX_PERIOD:
                raise InvalidParameter(
                    "period",
                    _(
                        "The period must be between 1 and %(high)s seconds, not %(value)s.",
                        high=MAX_PERIOD,
                        value=self.period,
                    ),
                )
            object.__setattr__(self, "counter", 0)
        else:
            if isinstance(self.counter, bool) or not isinstance(self.counter, int):
                raise InvalidParameter("counter", _("The counter must be a whole number."))
            if not 0 <= self.counter <= MAX_COUNTER:
                raise InvalidParameter("counter", _("The counter must be between 0 and 9223372036854775807."))
            object.__setattr__(self, "period", 30)

    def _fix(self, algorithm: Algorithm, digits: int, period: int) -> None:
        """Set the parameters a type does not let an account choose."""
        object.__setattr__(self, "algorithm", algorithm)
        object.__setattr__(self, "digits", digits)
        object.__setattr__(self, "period", period)
        object.__setattr__(self, "counter", 0)

    @property
    def is_timed(self) -> bool:
        return self.type is not OtpType.HOTP

    @property
    def needs_pin(self) -> bool:
        """An mOTP or Yandex account described without its PIN: it cannot give codes yet."""
        return self.type in PIN_TYPES and self.pin is None


_PIN_TYPE_PARAMS = {
    OtpType.MOTP: (Algorithm.MD5, MOTP_DIGITS, MOTP_PERIOD),
    OtpType.YANDEX: (Algorithm.SHA256, YANDEX_DIGITS, YANDEX_PERIOD),
}


def _hmac_algorithm(value: object) -> Algorithm:
    try:
        algorithm = Algorithm(str(value).upper())
    except ValueError:
        algorithm = None
    if algorithm not in HMAC_ALGORITHMS:
        message = _("The algorithm %(value)s is not supported: use SHA-1, SHA-256 or SHA-512.", value=repr(value))
        raise InvalidParameter("algorithm", message)
    return algorithm


def _checked_pin(pin: object) -> str | None:
    """The PIN as given (an empty one is no PIN); refused when it is not short printable text."""
    if pin is None or pin == "":
        return None
    if not isinstance(pin, str):
        raise InvalidParameter("pin", _("The PIN must be text."))
    if len(pin) > MAX_PIN_LENGTH:
        raise InvalidParameter("pin", _("The PIN is longer than %(limit)s characters.", limit=MAX_PIN_LENGTH))
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in pin):
        raise InvalidParameter("pin", _("The PIN holds invisible control characters or broken text; type it again."))
    return pin


def yandex_secret(secret: bytes) -> bytes:
    """The 16 bytes of a Yandex secret: as a QR code gives them, or the first 16 of the 26 typed
    by hand once their checksum is right (Aegis's `YandexInfo.parseSecret`)."""
    if len(secret) not in (YANDEX_SECRET_BYTES, YANDEX_FULL_SECRET_BYTES):
        raise InvalidParameter(
            "secret",
            _(
                "A Yandex secret key holds %(short)s or %(full)s bytes, and this one holds %(length)s: "
                "copy it again, in full.",
                short=YANDEX_SECRET_BYTES,
                full=YANDEX_FULL_SECRET_BYTES,
                length=len(secret),
            ),
        )
    if len(secret) == YANDEX_FULL_SECRET_BYTES and not _yandex_checksum_ok(secret):
        message = _("This Yandex secret key does not add up: check it for typing mistakes.")
        raise InvalidParameter("secret", message)
    return secret[:YANDEX_SECRET_BYTES]


def _yandex_checksum_ok(secret: bytes) -> bool:
    """Yandex's 12-bit checksum at the end of a 26-byte secret (KeeYaOtp's `ChecksumIsValid`, as
    Aegis's `YandexInfo.validateSecret` ports it): the bits before it, fed 13 at a time through
    a polynomial reduction by 0b1100011110011, must leave the checksum."""
    original = (secret[-2] & 0x0F) << 8 | secret[-1]
    accum = accum_bits = index = 0
    total_bits = len(secret) * 8 - 12
    bits_available = 8
    while total_bits > 0:
        required = min(13 - accum_bits, total_bits)
        while required > 0:
            current = secret[index] & ((1 << bits_available) - 1)
            taken = min(required, bits_available)
            current >>= bits_available - taken
            accum = (accum << taken | current) & 0xFFFF
            total_bits -= taken
            required -= taken
            bits_available -= taken
            accum_bits += taken
            if bits_available == 0:
                index += 1
                bits_available = 8
        if accum_bits == 13:
            accum ^= 0b1_1000_1111_0011
        accum_bits = accum.bit_length()
    return accum == original


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


_DIGEST_NAMES = {algorithm.value: _DIGESTS[algorithm]().name for algorithm in HMAC_ALGORITHMS}


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
        return format_value(hotp_value(params.secret, moving, params.algorithm), params)
    step = time_step(params, clock.now() if at is None else at)
    if params.type in PIN_TYPES:
        if params.pin is None:
            raise InvalidParameter("pin", _("This account has no PIN yet, and its codes need one: enter its PIN."))
        if params.type is OtpType.MOTP:
            return motp_code(params.secret, params.pin, step)
        return yandex_code(params.secret, params.pin, step)
    return format_value(hotp_value(params.secret, step, params.algorithm), params)


def motp_code(secret: bytes, pin: str, step: int) -> str:
    """Mobile-OTP as Aegis's `MOTP` computes it: the first 6 hex digits of the MD5 of the
    10-second time step in decimal, the secret in lower-case hex and the PIN, as one string.

    MD5 is the scheme's own choice; it is no protection here beyond what mOTP offers.
    """
    text = f"{step}{secret.hex()}{pin}"
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()[:MOTP_DIGITS]


def yandex_code(secret: bytes, pin: str, step: int) -> str:
    """A Yandex Key code as Aegis's `YAOTP` computes it: the HMAC-SHA256 key is the SHA-256 of
    the PIN (UTF-8) followed by the secret, less its first byte when that byte is zero; the
    counter is the 30-second step; 8 bytes from the dynamic offset, top bit cleared, are taken
    modulo 26^8 and written as 8 lower-case letters, most significant first."""
    key = hashlib.sha256(pin.encode("utf-8") + secret).digest()
    if key[0] == 0:
        key = key[1:]
    mac = bytearray(hmac.new(key, struct.pack(">Q", step), hashlib.sha256).digest())
    offset = mac[-1] & 0x0F
    mac[offset] &= 0x7F
    value = int.from_bytes(mac[offset : offset + 8], "big") % len(_YANDEX_ALPHABET) ** YANDEX_DIGITS
    letters = []
    for _position in range(YANDEX_DIGITS):
        value, index = divmod(value, len(_YANDEX_ALPHABET))
        letters.append(_YANDEX_ALPHABET[index])
    return "".join(reversed(letters))


def seconds_remaining(params: OtpParams, at: float) -> float:
    """Seconds until the current code of a timed account expires."""
    return period_remaining(params.period, at)


def period_remaining(period: int, at: float) -> float:
    """Seconds from `at` until the end of the current period of this length."""
    return period - (at % period)
