"""The code list: one template for the whole page and for the fragment htmx refreshes.

Three requests keep an open list current, each answering with the partials the page itself
is made of:

- `index`: the page, or with htmx the list (`#codes`), after a search, an action or a wake-up;
- `tick`: the list's clock, at each period boundary and preview: only the digits that changed
  since the codes on the page were computed (`at`), each swapped out of band into its place
  (listing.ClockTick), unless the vault changed since the list was drawn (`seen`, the
  signature of `Vault.list_state`), in which case the whole list instead. Every open page asks
  this every 20 to 30 s, so it is the cheapest request that shows anything of the vault;
- `more`: the next page of rows, when the reader scrolls to the end of a long list.

`density` keeps this device's choice of rows (comfortable or compact) in a cookie of its own.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from flask import Blueprint, current_app, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import login_required

from webauth import clock
from webauth.listing import PAGE_SIZE, SORTS, ListQuery, ListState, make_clock
from webauth.offline import vault_revision, whole_vault_revision
from webauth.sharing.received import SHARED_GROUP
from webauth.vault import AccountNotFound
from webauth.views.common import current_received, current_vault, page_or_fragment, render_error, wants_fragment

bp = Blueprint("codes", __name__)

_LIST_ARGS = ("q", "group", "sort", "show")

# The list's density is a choice per device, not per user: a phone wants more rows on its
# small screen where a desktop's grid has room for comfortable ones, and the server reads it
# to draw the list, so it works without JavaScript and the page never jumps once drawn.
DENSITY_COOKIE = "webauth_density"
DENSITIES = ("comfortable", "compact")
_DENSITY_MAX_AGE = 400 * 24 * 3600  # the longest a browser keeps a cookie


def list_density() -> str:
    """This device's choice of rows: "compact", or "comfortable" (the default)."""
    return "compact" if request.cookies.get(DENSITY_COOKIE) == "compact" else "comfortable"


def list_query() -> ListQuery:
    """The search, group, order and length the list is shown with.

    They come from the query string; an htmx action posted from the list (delete, undo, a move)
    carries none, so they are read from the page's own URL (`HX-Current-URL`), which the search
    box and the loading of more rows keep up to date. The order chosen last is remembered in
    the session.
    """
    args: dict[str, str] = {key: request.args[key] for key in _LIST_ARGS if key in request.args}
    if not args and request.htmx:
        page = urlsplit(request.headers.get("HX-Current-URL", ""))
        if page.path == url_for("codes.index"):
            args = {key: values[0] for key, values in parse_qs(page.query).items() if key in _LIST_ARGS}
    sort = args.get("sort", "")
    if sort in SORTS:
        if session.get("sort", "manual") != sort:  # a change only: an unchanged cookie is not sent again
            session["sort"] = sort
    else:
        sort = session.get("sort", "manual")
    try:
        show = int(args.get("show", PAGE_SIZE))
    except ValueError:
        show = PAGE_SIZE
    return ListQuery(text=args.get("q", ""), group=args.get("group", ""), sort=sort, show=show)


def list_args(query: ListQuery) -> dict[str, str | int]:
    """The query string of a list URL: only what differs from a plain list, but the order always."""
    args: dict[str, str | int] = {"sort": query.sort}
    if query.text:
        args["q"] = query.text
    if query.group:
        args["group"] = query.group
    if query.show > PAGE_SIZE:
        args["show"] = query.show
    return args


def grown(query: ListQuery) -> ListQuery:
    """The same list, one page longer."""
    return ListQuery(text=query.text, group=query.group, sort=query.sort, show=query.show + PAGE_SIZE)


# How far back a page may say its codes were computed (`at`); anything else means "send everything".
_LONGEST_WAIT_SECONDS = 24 * 3600


def shown_at(now: float) -> int | None:
    """When the codes on the page were computed, as the page says (`at`, whole seconds), if plausible."""
    try:
        value = int(request.args.get("at", ""))
    except ValueError:
        return None
    return value if now - _LONGEST_WAIT_SECONDS <= value <= now else None


def render_codes(undo: str | None = None, query: ListQuery | None = None, state: ListState | None = None):
    """The list as a full page, or as the fragment the page itself includes when htmx asks.

    `undo` names an account just moved to the trash, for which the list offers "Undo".
    """
    vault = current_vault()
    query = query or list_query()
    # Read before the list: a change made in between shows at the next tick.
    state = state or vault.list_state(query)
    received = current_received()
    shared_clock = received.clock(query)  # one query; it finds nothing for a user nobody shares with
    if query.group == SHARED_GROUP:
        accounts, more = [], False
    else:
        accounts, more = vault.shown(query)
    # Offline copies compare the revision of the whole vault in its own order, whatever is shown.
    if not query.filtered and query.sort == "manual" and not more:
        revision = vault_revision(accounts)
    else:
        revision = whole_vault_revision(vault, state.signature)
    now = clock.now()
    views = vault.codes(accounts, at=now)
    shared = received.views(query, at=now) if shared_clock.signature else []
    undo_account = None
    if undo:
        try:
            undo_account = vault.get(undo, trashed=True)
        except AccountNotFound:
            undo_account = None
    page = not wants_fragment()
    return page_or_fragment(
        "codes/index.html",
        "partials/codes.html",
        views=views,
        shared=shared,
        clock=make_clock((view.period for view in (*views, *shared) if view.remaining is not None), now),
        undo=undo_account,
        query=query,
        args=list_args(query),
        next_args=list_args(grown(query)),
        signature=shared_clock.signed(state.signature),
        more=more,
        matched=(vault.count(query) if more else len(views)) + len(shared),
        total=state.live,
        received=bool(shared_clock.signature),
        revision=revision,
        twins=vault.twin_hints(accounts),
        groups=vault.groups() if page else [],
        density=list_density(),
        trashed=len(vault.trash()) if page else 0,
    )


def _whole_list(query: ListQuery, state: ListState):
    """The list in place of the one on the page, which the vault has moved on from."""
    response = render_codes(query=query, state=state)
    response.headers["HX-Retarget"] = "#codes"
    response.headers["HX-Reswap"] = "outerHTML"
    return response


@bp.get("/")
@login_required
def index():
    return render_codes(undo=request.args.get("undo"))


@bp.post("/codes/density")
@login_required
def density():
    """Remember this device's choice of rows, then show the list with it."""
    choice = request.form.get("density", "")
    if choice not in DENSITIES:
        return render_error(400, _("Choose comfortable or compact rows."))
    response = redirect(url_for("codes.index"))
    response.set_cookie(
        DENSITY_COOKIE, choice, max_age=_DENSITY_MAX_AGE, httponly=True, samesite="Lax",
        secure=current_app.config["SESSION_COOKIE_SECURE"],
    )
    return response


@bp.get("/codes/tick")
@login_required
def tick():
    query = list_query()
    if not wants_fragment():
        return redirect(url_for("codes.index", **list_args(query)))
    vault = current_vault()
    state, rows = vault.clock_rows(query)
    received = current_received()
    shared = received.clock(query)
    signature = shared.signed(state.signature)
    if request.args.get("seen") != signature:
        return _whole_list(query, state)
    if query.group == SHARED_GROUP:
        rows = []
    step_code = received.step_code(vault, shared.owners) if shared.rows else None
    tick = vault.clock_tick([*rows, *shared.rows], shown_at(clock.now()), step_code)
    return page_or_fragment(
        None, "partials/codes_tick.html", tick=tick, clock=tick.clock, args=list_args(query), signature=signature,
    )


@bp.get("/codes/more")
@login_required
def more():
    """The rows after the `show` shown, with the list's loader and clock moved on past them."""
    shown = list_query()
    query = grown(shown)
    if not wants_fragment():
        return redirect(url_for("codes.index", **list_args(query)))
    vault = current_vault()
    state = vault.list_state(query)
    shared = current_received().clock(query)
    signature = shared.signed(state.signature)
    if request.args.get("seen") != signature:
        return _whole_list(query, state)
    accounts, more = vault.shown(query, start=shown.show)
    now = clock.now()
    # The clock now covers every row shown, the rows above still showing the codes of `at`:
    # if those changed meanwhile, it asks at once.
    periods = (row.period for row in (*vault.code_rows(query), *shared.rows))
    list_clock = make_clock(periods, now, shown_at(now))
    response = page_or_fragment(
        None, "partials/codes_more.html", views=vault.codes(accounts, at=now), clock=list_clock,
        query=query, args=list_args(query), next_args=list_args(grown(query)), signature=signature, more=more,
        twins=vault.twin_hints(accounts),
    )
    response.headers["HX-Replace-Url"] = url_for("codes.index", **list_args(query))
    return response
