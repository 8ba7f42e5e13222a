"""Every import format of the app, in the order detection tries them, and the one entry point to read a file.

Order matters because several formats are supersets of others: a Microsoft database or an
encrypted Authenticator Pro backup is known by its first bytes; JSON formats are told apart
by their top-level keys, with the ones that own a key set (Aegis, 2FAS...) before the
generic ones (andOTP's bare list); Ente's plain export is an otpauth list with a
`codeDisplay` parameter, so it comes before the plain list, which takes any otpauth text
and goes last.
"""

from __future__ import annotations

import dataclasses

from flask_babel import gettext as _

from webauth import icons
from webauth.transfer import (
    aegis,
    andotp,
    bitwarden,
    ente,
    freeotp,
    google,
    microsoft,
    otpauth_list,
    proton,
    qr_image,
    stratum,
    twofas,
    twofauth,
)
from webauth.transfer.base import ImportedEntry, Importer, TransferError
from webauth.transfer.limits import (
    MAX_IMPORT_BYTES,
    MAX_IMPORT_ENTRIES,
    MAX_IMPORTED_ICON_PIXELS,
    MAX_IMPORTED_ICONS,
)

IMPORTERS: list[Importer] = [
    *microsoft.IMPORTERS,
    *stratum.IMPORTERS,
    *qr_image.IMPORTERS,
    *aegis.IMPORTERS,
    *twofas.IMPORTERS,
    *bitwarden.IMPORTERS,
    *ente.IMPORTERS,
    *proton.IMPORTERS,
    *freeotp.IMPORTERS,
    *twofauth.IMPORTERS,
    *andotp.IMPORTERS,
    *google.IMPORTERS,
    *otpauth_list.IMPORTERS,
]

IMPORTERS_BY_ID: dict[str, Importer] = {importer.format_id: importer for importer in IMPORTERS}
if len(IMPORTERS_BY_ID) != len(IMPORTERS):
    raise RuntimeError("two import formats share a format_id")


def _supported() -> str:
    """The formats' titles, in the reader's language (a title names the app, then the kind of file)."""
    return ", ".join(dict.fromkeys(str(importer.title) for importer in IMPORTERS))


def detect(data: bytes) -> Importer:
    """The first format, in `IMPORTERS` order, that recognises `data`."""
    for importer in IMPORTERS:
        if importer.sniff(data):
            return importer
    raise TransferError(
        _("This file's format is not recognised. Supported formats: %(formats)s.", formats=_supported())
    )


def read_import(
    data: bytes, password: str | None = None, format_id: str | None = None
) -> tuple[Importer, list[ImportedEntry]]:
    """Read an uploaded file into entries for the preview, detecting its format unless `format_id` names it.

    The size limit is checked before anything parses the file; the entry limit after, for
    formats whose entries cannot be counted without reading them. Icons are kept within the
    icon budget of limits.py.
    """
    if not data:
        raise TransferError(_("The file is empty."))
    if len(data) > MAX_IMPORT_BYTES:
        raise TransferError(
            _(
                "The file is %(size)s MiB; an import file may be at most %(limit)s MiB.",
                size=f"{len(data) / 2**20:.1f}",
                limit=f"{MAX_IMPORT_BYTES / 2**20:g}",
            )
        )
    if format_id is None:
        importer = detect(data)
    elif format_id in IMPORTERS_BY_ID:
        importer = IMPORTERS_BY_ID[format_id]
    else:
        raise TransferError(
            _(
                "Unknown import format %(format)s. Supported formats: %(formats)s.",
                format=repr(format_id[:40]),
                formats=_supported(),
            )
        )
    entries = importer.read(data, password)
    if len(entries) > MAX_IMPORT_ENTRIES:
        raise TransferError(
            _(
                "The file holds %(count)s entries; at most %(limit)s can be imported at once.",
                count=len(entries),
                limit=MAX_IMPORT_ENTRIES,
            )
        )
    return importer, keep_icons_within_budget(entries)


def keep_icons_within_budget(entries: list[ImportedEntry]) -> list[ImportedEntry]:
    """The entries, without the icons beyond the budget: past the first MAX_IMPORTED_ICONS, larger
    than MAX_IMPORTED_ICON_PIXELS, or no image the vault could use. Only headers are read here;
    the icons kept are decoded when their accounts are added. An icon is decoration: leaving
    one out never refuses its account or the file."""
    kept = 0
    bounded = []
    for entry in entries:
        spec = entry.spec
        if spec is not None and spec.icon:
            pixels = icons.image_pixels(spec.icon) if kept < MAX_IMPORTED_ICONS else None
            if pixels is not None and pixels <= MAX_IMPORTED_ICON_PIXELS:
                kept += 1
            else:
                entry = dataclasses.replace(entry, spec=dataclasses.replace(spec, icon=None, icon_mime=None))
        bounded.append(entry)
    return bounded
