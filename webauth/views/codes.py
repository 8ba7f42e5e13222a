"""The code list: one template for the whole page and for the fragment htmx refreshes."""

from __future__ import annotations

from flask import Blueprint, make_response, render_template, request
from flask_login import login_required

from webauth.vault import AccountNotFound, next_refresh_ms
from webauth.views import current_vault

bp = Blueprint("codes", __name__)


def render_codes(undo: str | None = None):
    """The list as a full page, or as the fragment the page itself includes when htmx asks.

    `undo` names an account just moved to the trash, for which the list offers "Undo".
    """
    vault = current_vault()
    views = vault.codes(vault.accounts())
    undo_account = None
    if undo:
        try:
            undo_account = vault.get(undo, trashed=True)
        except AccountNotFound:
            undo_account = None
    template = "partials/codes.html" if request.htmx and not request.htmx.boosted else "codes/index.html"
    html = render_template(template, views=views, refresh_ms=next_refresh_ms(views), undo=undo_account)
    response = make_response(html)
    response.vary.add("HX-Request")
    return response


@bp.get("/")
@login_required
def index():
    return render_codes(undo=request.args.get("undo"))
