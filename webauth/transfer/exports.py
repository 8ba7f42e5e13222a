"""Exports of a whole vault, shared by the web pages and the CLI: files, transfer QR codes, the audit event.

Every export holds secrets, so callers check a recent re-authentication (web) or run as the
operator (CLI) first, and `record_export` writes the audit event (format and count, never a
name or a secret).

QR codes are drawn by zxing-cpp (already the app's QR reader), not by the pure-Python `qrcode`
package: for 1,000 accounts `qrcode` needs about half a minute of CPU to draw the hundred dense
transfer codes, zxing-cpp about half a second (`bench/transfer_1000.py --compare-qrcode`).
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from datetime import UTC, datetime

import zxingcpp
from PIL import Image

from webauth import audit
from webauth.extensions import db
from webauth.otpauth import AccountSpec
from webauth.transfer.aegis import export_aegis
from webauth.transfer.google import encode_migration_uris, parse_migration_uri, split_migration_compatible
from webauth.transfer.otpauth_list import export_otpauth_list
from webauth.vault import Vault

# Formats that are a file to download (or write, from the CLI).
FILE_FORMATS = ("aegis", "aegis-encrypted", "otpauth")
# Every export: the files, Google Authenticator transfer codes, and one QR code per account.
FORMATS = (*FILE_FORMATS, "google-qr", "qr")
MIN_BACKUP_PASSWORD = 8
MAX_BACKUP_PASSWORD = 1024
GOOGLE_BATCH = 10
# Pixels per QR module. The pages show codes scaled up by CSS (pixelated, so still sharp), which
# keeps a page of 1,000 codes quick to make and to load; files written by the CLI are larger.
QR_SCALE = 2
QR_FILE_SCALE = 8


@dataclass(frozen=True)
class ExportFile:
    data: bytes
    filename: str
    mimetype: str


@dataclass(frozen=True)
class TransferCode:
    """One QR code of a Google Authenticator transfer: `number` of `total`, and who is in it."""

    uri: str
    number: int
    total: int
    labels: list[str]


def vault_specs(vault: Vault) -> list[AccountSpec]:
    """Every live account of the vault, in list order, with its secret."""
    return [vault.spec(account) for account in vault.accounts()]


def export_file(specs: list[AccountSpec], fmt: str, password: str | None = None) -> ExportFile:
    """The file of one of FILE_FORMATS; `password` is needed by (and only by) aegis-encrypted."""
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    if fmt == "aegis":
        return ExportFile(export_aegis(specs, None), f"webauth-backup-{stamp}.json", "application/json")
    if fmt == "aegis-encrypted":
        if not password:
            raise ValueError("an encrypted backup needs a password")
        return ExportFile(export_aegis(specs, password), f"webauth-backup-{stamp}-encrypted.json", "application/json")
    if fmt == "otpauth":
        return ExportFile(export_otpauth_list(specs), f"webauth-otpauth-{stamp}.txt", "text/plain; charset=utf-8")
    raise ValueError(f"unknown export file format {fmt!r}")


def transfer_codes(specs: list[AccountSpec]) -> tuple[list[TransferCode], list[tuple[AccountSpec, str]]]:
    """Google Authenticator transfer codes for the accounts it can hold (at most 10 a code), and the others."""
    compatible, incompatible = split_migration_compatible(specs)
    codes: list[TransferCode] = []
    uris = encode_migration_uris(compatible, batch_size=GOOGLE_BATCH) if compatible else []
    for number, uri in enumerate(uris, start=1):
        batch = parse_migration_uri(uri, f"code {number}")
        labels = [entry.spec.label for entry in batch.entries if entry.spec is not None]
        codes.append(TransferCode(uri=uri, number=number, total=len(uris), labels=labels))
    return codes, incompatible


def qr_png(text: str, scale: int = QR_SCALE) -> bytes:
    """A black-on-white PNG of a QR code (error correction M, quiet zone included) holding `text`."""
    barcode = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    view = memoryview(barcode.to_image(scale=scale, add_quiet_zones=True))
    height, width = view.shape
    # zxing-cpp draws pure black and white, so a plain threshold (no dithering) keeps every module.
    image = Image.frombytes("L", (width, height), view.tobytes()).convert("1", dither=Image.Dither.NONE)
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)
    return out.getvalue()


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def record_export(vault: Vault, fmt: str, count: int, source: str = "web") -> None:
    """The audit event of an export: which format, how many accounts, from where."""
    audit.record("export", user=vault.user, details={"format": fmt, "accounts": count, "source": source})
    db.session.commit()
