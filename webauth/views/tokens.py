"""Each user's personal access tokens for the API: made after a password entry, shown once, revoked at will."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.exceptions import NotFound

from webauth import tokens
from webauth.auth_session import reauth_required
from webauth.extensions import db
from webauth.forms import TokenForm
from webauth.views.common import page_or_fragment

bp = Blueprint("tokens", __name__, url_prefix="/me/tokens")


def _page(form: TokenForm, status: int = 200, new_token: str | None = None):
    me = current_user._get_current_object()
    return page_or_fragment(
        "me/tokens.html",
        "me/tokens.html",
        status,
        form=form,
        tokens=tokens.tokens_of(me),
        now=tokens.now(),
        new_token=new_token,
    )


@bp.get("/")
@login_required
@reauth_required
def index():
    return _page(TokenForm(formdata=None))


@bp.post("/")
@login_required
@reauth_required
def create():
    """Make a token and show it in this answer only: it is never stored, sent again or put in a redirect."""
    form = TokenForm()
    if not form.validate():
        return _page(form, 422)
    try:
        token, raw = tokens.create(
            current_user._get_current_object(), form.name.data, scope=form.scope.data, days=form.days.data
        )
    except tokens.TokenError as error:
        form.name.errors = [*form.name.errors, error.message]
        return _page(form, 409 if isinstance(error, tokens.NameTaken) else 422)
    db.session.commit()
    flash(_("Made the token %(name)s. Copy it now: it is shown only this once.", name=token.name), "success")
    return _page(TokenForm(formdata=None), new_token=raw)


@bp.post("/<int:token_id>/revoke")
@login_required
def revoke(token_id: int):
    """Revoke one of my tokens (no password needed: taking access away is always allowed)."""
    me = current_user._get_current_object()
    try:
        token = tokens.get(me, token_id)
    except LookupError:
        raise NotFound() from None
    name = token.name
    tokens.revoke(me, token)
    db.session.commit()
    flash(_("Revoked the token %(name)s: programs using it are refused from now on.", name=name), "success")
    return redirect(url_for("tokens.index"))
