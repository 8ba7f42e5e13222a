"""What people hand the add page, read into accounts: QR code images, pasted text, camera scans.

An image is decoded on the server (zxing-cpp through `transfer.qr_image`, within a byte and a
pixel limit checked before any pixel is decoded); every QR code in it counts. Text holds one
otpauth:// (or motp://) URI, several (one per line), or Google Authenticator transfer URIs
(otpauth-migration://, one per batch), which is also what the camera scanner sends. One mOTP
or Yandex link without its PIN is kept as it is, for the page to ask for the PIN; among
several, such a link is an entry with a problem.

Nothing here writes: the result names the accounts found and the URIs they came from, so a
preview can show them and a confirmation can read the same URIs again and add them at once.
Each way the input can fail is an `AddError` whose `reason` the views turn into a message.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass

from flask_babel import gettext as _
from PIL import Image

from webauth.otp import InvalidParameter
from webauth.otpauth import AccountSpec, parse_uri
from webauth.transfer._parsing import content_lines, extract_uri
from webauth.transfer.base import ImportedEntry, TransferError
from webauth.transfer.google import is_migration_uri
from webauth.transfer.otpauth_list import read_uri_texts
from webauth.transfer.qr_image import MAX_IMAGE_PIXELS, decode_qr_texts

MAX_IMAGE_BYTES = 5 * 1024 * 1024
# Enough for a Google transfer of a few hundred accounts (about 1,700 characters per batch).
MAX_TEXT_LENGTH = 256 * 1024
IMAGE_FORMATS = ("PNG", "JPEG", "WEBP", "GIF")
# Where an added account came from, as the audit log records it.
ORIGINS = ("link", "camera", "image")


class AddError(Exception):
    """Input that holds no account to add.

    `reason`: "too_large", "not_image", "unreadable" (an image the QR decoder failed on),
    "no_qr", "no_otp" (QR codes, none holding an OTP URI), "no_uri" (text without a URI) or
    "bad_uri" (one URI that cannot be read; `detail` says why).
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Found:
    """The accounts found in one input, and the URIs they came from (one per line)."""

    uris: list[str]
    entries: list[ImportedEntry]

    @property
    def text(self) -> str:
        return "\n".join(self.uris)

    @property
    def single(self) -> bool:
        """One plain otpauth account and nothing else: it can be added without a preview.

        Transfer codes always get a preview, as Google Authenticator itself shows one.
        """
        return (
            len(self.entries) == 1
            and self.entries[0].spec is not None
            and len(self.uris) == 1
            and not is_migration_uri(self.uris[0])
        )


def read_image(data: bytes) -> Found:
    """Every account in the QR codes of an image (PNG, JPEG, WebP or GIF)."""
    if len(data) > MAX_IMAGE_BYTES:
        raise AddError("too_large")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as image:
                width, height = image.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise AddError("too_large") from None
    except Exception:  # Pillow reports unknown or broken files with assorted exception types
        raise AddError("not_image") from None
    if width * height > MAX_IMAGE_PIXELS:
        raise AddError("too_large")
    try:
        texts = decode_qr_texts(data)
    except TransferError as error:
        raise AddError("unreadable", str(error)) from None
    if not texts:
        raise AddError("no_qr")
    uris = [uri for text in texts for _number, line in content_lines(text) if (uri := extract_uri(line))]
    if not uris:
        raise AddError("no_otp")
    if len(uris) == 1 and not is_migration_uri(uris[0]):
        with contextlib.suppress(ValueError):
            spec = parse_uri(uris[0])
            if spec.params.needs_pin:
                # Kept whole, so that the page can ask for the PIN the link does not hold.
                return Found(uris, [ImportedEntry(source="QR code", spec=spec)])
    sources = [f"QR code {number}" if len(uris) > 1 else "QR code" for number in range(1, len(uris) + 1)]
    return Found(uris, read_uri_texts(zip(sources, uris, strict=True)))


def read_text(text: str) -> Found:
    """The accounts in pasted text: URIs one per line; blank lines and `#` comments are skipped."""
    if len(text) > MAX_TEXT_LENGTH:
        raise AddError("too_large")
    lines = [line for _number, line in content_lines(text)]
    uris = [uri for line in lines if (uri := extract_uri(line))]
    if not uris:
        if len(lines) == 1:
            # Let the URI parser say what is wrong with what looks like one link.
            _parse_one(lines[0])
        raise AddError("no_uri")
    if len(uris) == 1 and not is_migration_uri(uris[0]):
        spec = _parse_one(uris[0])
        return Found(uris, [ImportedEntry(source="link", spec=spec)])
    sources = [f"line {number}" for number in range(1, len(uris) + 1)]
    return Found(uris, read_uri_texts(zip(sources, uris, strict=True)))


def _parse_one(uri: str) -> AccountSpec:
    """One link, or AddError("bad_uri") whose detail is the parser's sentence for people."""
    try:
        return parse_uri(uri)
    except InvalidParameter as error:
        raise AddError("bad_uri", error.message) from None
    except ValueError:  # urllib's complaint about a malformed authority, in its own words
        raise AddError("bad_uri", _("This is not a valid link: check that it was copied in full.")) from None
