"""Adding, deleting and restoring accounts, and the HOTP "next code"."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.exceptions import NotFound

from webauth.forms import ManualForm, UriForm
from webauth.otp import InvalidParameter, OtpParams, OtpType
from webauth.otpauth import AccountSpec, decode_secret, parse_uri
from webauth.vault import AccountNotFound, DuplicateAccount
from webauth.views import current_vault
from webauth.views.codes import render_codes

bp = Blueprint("accounts", __name__, url_prefix="/accounts")


def _forms(active: str | None = None) -> tuple[UriForm, ManualForm]:
    """Both forms of the page; only the submitted one reads the request."""
    uri_form = UriForm(prefix="uri", formdata=None if active != "uri" else request.form)
    manual_form = ManualForm(prefix="manual", formdata=None if active != "manual" else request.form)
    return uri_form, manual_form


def _page(uri_form: UriForm, manual_form: ManualForm, status: int = 200):
    return render_template("accounts/new.html", uri_form=uri_form, manual_form=manual_form), status


def _store(spec: AccountSpec):
    """Add the account and go to the list; a duplicate is a 409 with the reason."""
    try:
        account = current_vault().add(spec)
    except DuplicateAccount as duplicate:
        label = duplicate.existing.issuer or duplicate.existing.name
        return None, _("This account is already in your vault (%(label)s).", label=label)
    flash(_("Added %(label)s.", label=spec.label), "success")
    return redirect(url_for("codes.index", _anchor=f"account-{account.uuid}")), None


@bp.get("/new")
@login_required
def new():
    return _page(*_forms())


@bp.post("/new/uri")
@login_required
def add_uri():
    uri_form, manual_form = _forms("uri")
    if not uri_form.validate():
        return _page(uri_form, manual_form, 422)
    try:
        spec = parse_uri(uri_form.uri.data)
    except InvalidParameter as error:
        uri_form.uri.errors.append(_("This link cannot be added: %(reason)s", reason=str(error)))
        return _page(uri_form, manual_form, 422)
    response, problem = _store(spec)
    if problem:
        uri_form.uri.errors.append(problem)
        return _page(uri_form, manual_form, 409)
    return response


@bp.post("/new/manual")
@login_required
def add_manual():
    uri_form, form = _forms("manual")
    if not form.validate():
        return _page(uri_form, form, 422)
    try:
        params = OtpParams(
            type=OtpType(form.type.data),
            secret=decode_secret(form.secret.data),
            algorithm=form.algorithm.data,
            digits=form.digits.data,
            period=form.period.data,
            counter=form.counter.data,
        )
        spec = AccountSpec(issuer=form.issuer.data or "", name=form.name.data or "", params=params)
    except InvalidParameter as error:
        field = getattr(form, error.field, form.secret)
        field.errors = [*field.errors, error.message]
        return _page(uri_form, form, 422)
    response, problem = _store(spec)
    if problem:
        form.secret.errors = [*form.secret.errors, problem]
        return _page(uri_form, form, 409)
    return response


def _back_to_list(undo: str | None = None):
    """htmx swaps in the refreshed list; a plain form post goes back to the list page."""
    if request.htmx:
        return render_codes(undo=undo)
    return redirect(url_for("codes.index", undo=undo))


@bp.post("/<uuid>/next")
@login_required
def next_code(uuid: str):
    try:
        current_vault().advance_hotp(uuid)
    except AccountNotFound:
        raise NotFound() from None
    return _back_to_list()


@bp.post("/<uuid>/delete")
@login_required
def delete(uuid: str):
    """Move to the trash; the list then offers to undo."""
    try:
        current_vault().delete(uuid)
    except AccountNotFound:
        raise NotFound() from None
    return _back_to_list(undo=uuid)


@bp.post("/<uuid>/restore")
@login_required
def restore(uuid: str):
    try:
        account = current_vault().restore(uuid)
    except AccountNotFound:
        raise NotFound() from None
    if not request.htmx:
        flash(_("Restored %(label)s.", label=account.issuer or account.name), "success")
    return _back_to_list()
