"""The code list: one template for the whole page and for the fragment htmx refreshes."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from flask import Blueprint, make_response, render_template, request, session, url_for
from flask_login import login_required

from webauth.offline import REVISION_FIELDS, vault_revision
from webauth.vault import SORTS, AccountNotFound, ListQuery, next_refresh_ms
from webauth.views import current_vault

bp = Blueprint("codes", __name__)

_LIST_ARGS = ("q", "group", "sort")


def list_query() -> ListQuery:
    """The search, group and order the list is shown with.

    They come from the query string; an htmx action posted from the list (delete, undo, a move)
    carries none, so they are read from the page's own URL (`HX-Current-URL`), which the search
    box keeps up to date. The order chosen last is remembered in the session.
    """
    args: dict[str, str] = {key: request.args[key] for key in _LIST_ARGS if key in request.args}
    if not args and request.htmx:
        page = urlsplit(request.headers.get("HX-Current-URL", ""))
        if page.path == url_for("codes.index"):
            args = {key: values[0] for key, values in parse_qs(page.query).items() if key in _LIST_ARGS}
    sort = args.get("sort", "")
    if sort in SORTS:
        session["sort"] = sort
    else:
        sort = session.get("sort", "manual")
    return ListQuery(text=args.get("q", ""), group=args.get("group", ""), sort=sort)


def render_codes(undo: str | None = None):
    """The list as a full page, or as the fragment the page itself includes when htmx asks.

    `undo` names an account just moved to the trash, for which the list offers "Undo".
    """
    vault = current_vault()
    query = list_query()
    accounts = vault.accounts(query)
    # Offline copies compare the revision of the whole vault in its own order, whatever is shown.
    everything = accounts if not query.filtered and query.sort == "manual" else vault.columns(REVISION_FIELDS)
    views = vault.codes(accounts)
    undo_account = None
    if undo:
        try:
            undo_account = vault.get(undo, trashed=True)
        except AccountNotFound:
            undo_account = None
    template = "partials/codes.html" if request.htmx and not request.htmx.boosted else "codes/index.html"
    html = render_template(
        template,
        views=views,
        refresh_ms=next_refresh_ms(views),
        undo=undo_account,
        query=query,
        total=len(everything),
        revision=vault_revision(everything),
        twins=vault.twin_hints(accounts),
        groups=vault.groups() if template == "codes/index.html" else [],
        trashed=len(vault.trash()) if template == "codes/index.html" else 0,
    )
    response = make_response(html)
    response.vary.add("HX-Request")
    return response


@bp.get("/")
@login_required
def index():
    return render_codes(undo=request.args.get("undo"))
