"""Exports of a whole vault, shared by the web pages and the CLI: files, transfer QR codes, the audit event.

Every export holds secrets, so callers check a recent re-authentication (web) or run as the
operator (CLI) first, and `record_export` writes the audit event (format and count, never a
name or a secret).
QR codes are drawn by `webauth/qr.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from webauth import audit
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


def record_export(vault: Vault, fmt: str, count: int, source: str = "web") -> None:
    """The audit event of an export: which format, how many accounts, from where."""
    audit.record("export", user=vault.user, details={"format": fmt, "accounts": count, "source": source})
