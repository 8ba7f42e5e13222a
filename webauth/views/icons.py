"""Account icons: brand icons served by the app, uploaded icons, and which one an account shows."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, abort, make_response, url_for
from flask_login import login_required

from webauth import icons
from webauth.models import Account, AccountIcon
from webauth.vault import AccountNotFound
from webauth.views.common import current_received, current_vault

bp = Blueprint("icons", __name__)
# Build the brand index while the app starts (a few hundred milliseconds once per process), not in
# the first request that shows the list.
bp.record_once(lambda state: icons.brand_index())

# Brand icons change only with the simple-icons version, which changes the app's static files too.
BRAND_CACHE = "public, max-age=604800"
# An uploaded icon's URL carries its digest: a new upload gets a new URL.
CUSTOM_CACHE = "private, max-age=31536000, immutable"


@dataclass(frozen=True)
class Avatar:
    """What stands for an account in the list: its own image, its brand's logo, or a letter tile
    (icons.letter_tile: initials on a colour of their own, the same on the offline page)."""

    kind: str  # "custom", "brand" or "letter"
    tile: icons.LetterTile
    url: str | None = None
    dark: bool = False


def avatar_for(account: Account) -> Avatar:
    tile = icons.letter_tile(account.issuer or account.name)
    choice = account.icon
    if choice is not None and choice.kind == "custom":
        url = url_for("icons.custom", uuid=account.uuid, v=choice.digest)
        return Avatar("custom", tile, url)
    if choice is None:
        brand = icons.brand_index().match(account.issuer) if account.issuer else None
        if brand is not None:
            return Avatar("brand", tile, url_for("icons.brand", slug=brand.slug), brand.dark)
    return Avatar("letter", tile)


@bp.app_template_filter("avatar")
def avatar_filter(account: Account) -> Avatar:
    return avatar_for(account)


@bp.get("/icons/brand/<slug>.svg")
def brand(slug: str):
    """A brand icon in its colour; public, like the app's other static files."""
    svg = icons.brand_svg(slug)
    if svg is None:
        abort(404)
    response = make_response(svg)
    response.headers["Content-Type"] = "image/svg+xml"
    response.headers["Cache-Control"] = BRAND_CACHE
    # An SVG opened on its own must not run anything, whatever the file holds.
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def _icon_for_reader(uuid: str) -> AccountIcon | None:
    """The icon of the reader's own account, or of one shared with them now; `AccountNotFound`
    (a 404) for any other, so the route says nothing of accounts the reader may not see."""
    try:
        return current_vault().get(uuid).icon
    except AccountNotFound:
        return current_received().get(uuid).icon


@bp.get("/accounts/<uuid>/icon.png")
@login_required
def custom(uuid: str):
    """An account's uploaded icon (stored re-encoded as PNG), for its owner and the people it is
    shared with. Icons are not secret, but whose accounts exist is: anyone else gets a 404."""
    icon = _icon_for_reader(uuid)
    if icon is None or icon.kind != "custom" or not icon.data:
        abort(404)
    response = make_response(icon.data)
    response.headers["Content-Type"] = "image/png"
    response.headers["Cache-Control"] = CUSTOM_CACHE
    return response
