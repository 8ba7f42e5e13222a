"""Import from other authenticators, export to open formats, backup and restore (docs/import-export.md).

Import: upload a file or paste text → its format is detected (or chosen) → the password, if the
file is encrypted → a preview of every entry, with duplicates and problems marked → the chosen
entries are added in one transaction → a summary. Between the steps the server holds the file
or its entries in a sealed, short-lived `PendingImport` row (see webauth/transfer/pending.py).

Export: every format after a recent re-authentication, audited, rate limited, never cached.
"""

from __future__ import annotations

import functools
import io
from collections import Counter
from dataclasses import dataclass

from flask import Blueprint, flash, make_response, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from werkzeug.exceptions import NotFound
from wtforms import PasswordField, SelectField, TextAreaField
from wtforms.validators import EqualTo, Length, Optional

from webauth import qr
from webauth.auth_session import reauth_required
from webauth.extensions import csrf, db, limiter
from webauth.forms import at_most, required
from webauth.otp import OtpType
from webauth.otpauth import format_uri
from webauth.transfer import exports, guard, pending
from webauth.transfer.base import ImportedEntry, PasswordRequired, TransferError, WrongPassword
from webauth.transfer.limits import MAX_IMPORT_BYTES
from webauth.transfer.registry import IMPORTERS, IMPORTERS_BY_ID, read_import
from webauth.views.common import current_vault, render_error

bp = Blueprint("transfer", __name__, url_prefix="/transfer")

IMPORT_LIMIT = "10 per minute; 60 per hour"
UNLOCK_LIMIT = "10 per minute; 30 per hour"
EXPORT_LIMIT = "10 per minute; 60 per hour"
# Room for the form's other fields around a pasted text of the largest size an import may have.
_FORM_MEMORY = MAX_IMPORT_BYTES + 64 * 1024


def _user_key() -> str:
    return f"transfer-user:{current_user.get_id()}"


def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


def _one_import_at_a_time(view):
    """Read or add an import as the user's only one in progress, and one of the process's few."""

    @functools.wraps(view)
    def guarded(*args, **kwargs):
        with guard.one_import_at_a_time(current_user.id):
            return view(*args, **kwargs)

    return guarded


@bp.errorhandler(guard.UserBusy)
def _user_busy(error: guard.UserBusy):
    return render_error(409, _("Another import of yours is in progress. Wait for it to finish, then try again."))


@bp.errorhandler(guard.ServerBusy)
def _server_busy(error: guard.ServerBusy):
    response = make_response(render_error(429, _("The server is busy with other imports. Try again in a moment.")))
    response.headers["Retry-After"] = "5"
    return response


# Forms -------------------------------------------------------------------------------------


def _format_choices() -> list[tuple[str, str]]:
    titles = sorted({importer.format_id: importer.title for importer in IMPORTERS}.items(), key=lambda item: item[1])
    return [("", str(_l("Detect automatically"))), *titles]


class ImportForm(FlaskForm):
    file = FileField(_l("A file exported from another app"))
    text = TextAreaField(_l("Or paste its contents"), validators=[Optional(), at_most(MAX_IMPORT_BYTES)])
    format = SelectField(_l("Format"), default="")
    password = PasswordField(_l("Password, if the file is encrypted"), validators=[Optional(), at_most(1024)])

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.format.choices = _format_choices()


class FilePasswordForm(FlaskForm):
    password = PasswordField(_l("Password of the file"), validators=[required(), at_most(1024)])


class BackupPasswordForm(FlaskForm):
    password = PasswordField(
        _l("Backup password"),
        validators=[
            required(),
            Length(
                min=exports.MIN_BACKUP_PASSWORD,
                max=exports.MAX_BACKUP_PASSWORD,
                message=_l("Use at least %(min)d characters.", min=exports.MIN_BACKUP_PASSWORD),
            ),
        ],
    )
    confirm = PasswordField(
        _l("Repeat the password"), validators=[required(), EqualTo("password", _l("The passwords differ."))]
    )


# Import ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreviewRow:
    """One entry of the preview: its status decides whether it is ticked, and whether it may be."""

    index: int
    entry: ImportedEntry
    status: str  # new, trashed, duplicate, repeated, problem
    duplicate_label: str = ""

    @property
    def selectable(self) -> bool:
        return self.status in ("new", "trashed")

    @property
    def checked(self) -> bool:
        return self.status == "new"


def _preview_rows(entries: list[ImportedEntry]) -> list[PreviewRow]:
    with_spec = [(index, entry) for index, entry in enumerate(entries) if entry.spec is not None]
    plan = current_vault().plan_additions([entry.spec for _, entry in with_spec])  # type: ignore[misc]
    planned = {index: item for (index, _), item in zip(with_spec, plan, strict=True)}
    rows = []
    for index, entry in enumerate(entries):
        item = planned.get(index)
        if item is None:
            rows.append(PreviewRow(index, entry, "problem"))
        elif item.duplicate_of is not None:
            existing = item.duplicate_of
            rows.append(PreviewRow(index, entry, "duplicate", existing.issuer or existing.name))
        elif item.repeated:
            rows.append(PreviewRow(index, entry, "repeated"))
        else:
            rows.append(PreviewRow(index, entry, "trashed" if entry.trashed else "new"))
    return rows


def _index_page(form: ImportForm, status: int = 200, error: str | None = None):
    return render_template("transfer/index.html", form=form, error=error, max_mb=MAX_IMPORT_BYTES // 2**20), status


def _refusal(exc: TransferError) -> str:
    return _("Nothing was imported: %(reason)s", reason=str(exc))


@bp.get("/")
@login_required
def index():
    return _index_page(ImportForm(formdata=None))


@bp.post("/import")
@csrf.exempt  # the form checks its own token, after the limits below are set
@login_required
@limiter.limit(IMPORT_LIMIT, key_func=_user_key)
@_one_import_at_a_time
def upload():
    # A pasted file may be as large as an uploaded one; Flask's default keeps text fields to 500 kB.
    request.max_form_memory_size = _FORM_MEMORY
    form = ImportForm()
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            expired = _("The form expired or was sent from another site. Reload the page and try again.")
            return render_error(400, expired)
        return _index_page(form, 422)
    upload_file = form.file.data
    if upload_file is not None and upload_file.filename:
        data = upload_file.read(MAX_IMPORT_BYTES + 1)
        filename = upload_file.filename
    else:
        data = (form.text.data or "").encode("utf-8")
        filename = ""
    if not data.strip():
        return _index_page(form, 422, _("Choose a file, or paste the contents of one."))
    format_id = form.format.data or None
    vault = current_vault()
    try:
        importer, entries = read_import(data, form.password.data or None, format_id)
    except PasswordRequired:
        row = pending.create(vault, pending.STAGE_PASSWORD, data, format_id=format_id, filename=filename)
        db.session.commit()
        return redirect(url_for("transfer.review", token=row.uuid), 303)
    except WrongPassword as exc:
        row = pending.create(vault, pending.STAGE_PASSWORD, data, format_id=format_id, filename=filename)
        db.session.commit()
        return _password_page(row, FilePasswordForm(formdata=None), 422, _refusal(exc))
    except TransferError as exc:
        return _index_page(form, 422, _refusal(exc))
    row = pending.create(
        vault, pending.STAGE_PREVIEW, pending.dump_entries(entries), format_id=importer.format_id, filename=filename
    )
    db.session.commit()
    return redirect(url_for("transfer.review", token=row.uuid), 303)


def _pending(token: str):
    """The user's pending import; `PendingNotFound` becomes the page below."""
    return pending.load(current_vault(), token)


@bp.errorhandler(pending.PendingNotFound)
def _expired(error: pending.PendingNotFound):
    return render_error(404, _("This import has expired or is finished. Upload the file again."))


def _password_page(row, form: FilePasswordForm, status: int = 200, error: str | None = None):
    return _no_store(make_response(render_template("transfer/password.html", row=row, form=form, error=error), status))


def _preview_page(row, entries: list[ImportedEntry], status: int = 200, error: str | None = None):
    rows = _preview_rows(entries)
    importer = IMPORTERS_BY_ID.get(row.format_id or "")
    return _no_store(
        make_response(
            render_template(
                "transfer/preview.html",
                row=row,
                rows=rows,
                format_title=importer.title if importer else row.format_id,
                selectable=sum(1 for item in rows if item.selectable),
                error=error,
            ),
            status,
        )
    )


@bp.get("/import/<token>")
@login_required
def review(token: str):
    row, payload = _pending(token)
    if row.stage == pending.STAGE_PASSWORD:
        return _password_page(row, FilePasswordForm(formdata=None))
    return _preview_page(row, pending.load_entries(payload))


@bp.post("/import/<token>/password")
@login_required
@limiter.limit(UNLOCK_LIMIT, key_func=_user_key)
@_one_import_at_a_time
def unlock(token: str):
    row, payload = _pending(token)
    if row.stage != pending.STAGE_PASSWORD:
        return redirect(url_for("transfer.review", token=row.uuid), 303)
    form = FilePasswordForm()
    if not form.validate_on_submit():
        return _password_page(row, form, 422)
    try:
        importer, entries = read_import(payload, form.password.data, row.format_id)
    except WrongPassword as exc:
        # The file stays for another try until the pending import expires.
        return _password_page(row, FilePasswordForm(formdata=None), 422, _refusal(exc))
    except TransferError as exc:
        pending.discard(row)
        db.session.commit()
        return _index_page(ImportForm(formdata=None), 422, _refusal(exc))
    vault = current_vault()
    pending.replace(vault, row, pending.STAGE_PREVIEW, pending.dump_entries(entries), format_id=importer.format_id)
    db.session.commit()
    return redirect(url_for("transfer.review", token=row.uuid), 303)


@bp.post("/import/<token>/confirm")
@login_required
@limiter.limit(IMPORT_LIMIT, key_func=_user_key)
@_one_import_at_a_time
def confirm(token: str):
    row, payload = _pending(token)
    if row.stage != pending.STAGE_PREVIEW:
        return redirect(url_for("transfer.review", token=row.uuid), 303)
    entries = pending.load_entries(payload)
    # The preview's statuses, read again now: the summary counts what the preview showed.
    rows = _preview_rows(entries)
    picked = set()
    for value in request.form.getlist("pick"):
        if value.isdigit() and int(value) < len(entries) and rows[int(value)].selectable:
            picked.add(int(value))
    specs = [entries[index].spec for index in sorted(picked)]
    if not specs:
        return _preview_page(row, entries, 422, _("Tick at least one account to import."))
    statuses = Counter(item.status for item in rows)
    problems = statuses["problem"]
    format_id = row.format_id or "unknown"
    # Consuming the pending import joins the transaction that adds the accounts.
    pending.discard(row)
    details = {"entries": len(entries), "chosen": len(specs), "problems": problems}
    added, duplicates = current_vault().add_many(specs, source=format_id, details=details)  # type: ignore[arg-type]
    db.session.commit()
    summary = {
        "added": len(added),
        # Those the preview marked, and any ticked one another device added in the meantime.
        "duplicates": statuses["duplicate"] + duplicates,
        "repeated": statuses["repeated"],
        "problems": problems,
        "left_out": statuses["new"] + statuses["trashed"] - len(specs),
        "entries": len(entries),
    }
    return _no_store(make_response(render_template("transfer/summary.html", summary=summary, added=added)))


@bp.post("/import/<token>/cancel")
@login_required
def cancel(token: str):
    try:
        row, _payload = pending.load(current_vault(), token)
    except pending.PendingNotFound:
        return redirect(url_for("transfer.index"), 303)
    pending.discard(row)
    db.session.commit()
    flash(_("The import is cancelled: nothing was added."), "info")
    return redirect(url_for("transfer.index"), 303)


# Export ------------------------------------------------------------------------------------


def _export_page(form: BackupPasswordForm, status: int = 200):
    vault = current_vault()
    count = len(vault.accounts())
    return _no_store(
        make_response(
            render_template(
                "transfer/export.html", form=form, count=count, min_password=exports.MIN_BACKUP_PASSWORD
            ),
            status,
        )
    )


@bp.get("/export")
@login_required
@reauth_required
def export():
    return _export_page(BackupPasswordForm(formdata=None))


@bp.post("/export/<fmt>")
@login_required
@reauth_required
@limiter.limit(EXPORT_LIMIT, key_func=_user_key)
def export_as(fmt: str):
    if fmt not in exports.FORMATS:
        raise NotFound()
    vault = current_vault()
    password = None
    if fmt == "aegis-encrypted":
        form = BackupPasswordForm()
        if not form.validate_on_submit():
            return _export_page(form, 422)
        password = form.password.data
    specs = exports.vault_specs(vault)
    if fmt in exports.FILE_FORMATS:
        exported = exports.export_file(specs, fmt, password)
        exports.record_export(vault, fmt, len(specs))
        db.session.commit()
        response = send_file(
            io.BytesIO(exported.data),
            mimetype=exported.mimetype,
            as_attachment=True,
            download_name=exported.filename,
            etag=False,
            max_age=0,
        )
        return _no_store(response)
    if fmt == "google-qr":
        codes, incompatible = exports.transfer_codes(specs)
        exports.record_export(vault, fmt, len(specs) - len(incompatible))
        db.session.commit()
        images = [qr.data_uri(qr.qr_png(code.uri)) for code in codes]
        page = render_template(
            "transfer/google.html", codes=list(zip(codes, images, strict=True)), incompatible=incompatible
        )
        return _no_store(make_response(page))
    exports.record_export(vault, fmt, len(specs))
    db.session.commit()
    cards = [(spec, qr.data_uri(qr.qr_png(format_uri(spec)))) for spec in specs]
    return _no_store(make_response(render_template("transfer/qr.html", cards=cards, OtpType=OtpType)))
