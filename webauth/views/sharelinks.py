"""Share links: the owner's part of an account's page (make, show once, list, revoke), and the
public page that shows the shared code to whoever holds the link, without signing in.

The token travels in the URL's fragment (`/s#<token>`), which browsers never send, so it is in
no access log, proxy or Referer header; the page's script (static/js/share-link.js) posts it in
a JSON body to `/s/code`. Both public answers are `no-store` and send no Referer. A link that
expired, was revoked, or is unknown answers the same 410, and refused tokens count against the
address's own rate limit, so guessing is slow and learns nothing.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response
from wtforms import BooleanField, RadioField
from wtforms.fields.choices import SelectChoice

from webauth.auth_session import reauth_required
from webauth.extensions import csrf, db, limiter
from webauth.keys import keyring
from webauth.models import Account
from webauth.sharelinks import links, viewing
from webauth.views.common import current_vault, json_problem, json_response, page_or_fragment

bp = Blueprint("sharelinks", __name__)

GONE_CODE = "gone"


class ShareLinkForm(FlaskForm):
    minutes = RadioField(
        _l("Show the code for"),
        choices=[
            SelectChoice(2, _l("2 minutes")), SelectChoice(10, _l("10 minutes")), SelectChoice(60, _l("60 minutes"))
        ],
        coerce=int,
        default=10,
    )
    show_name = BooleanField(_l("Show the account name too, not only the issuer"))


# The owner's side --------------------------------------------------------------------------


@bp.app_template_global()
def share_links_of(account: Account) -> list[dict[str, Any]]:
    """The signed-in owner's running links of `account`, for the partial the account page includes."""
    return [
        {"id": link.id, "minutes": link.minutes, "expires_at": link.expires_at, "views": link.views,
         "minutes_left": (links.seconds_left(link) + 59) // 60}
        for link in links.links_of(current_user._get_current_object(), account)
    ]


@bp.app_template_global()
def share_link_form() -> ShareLinkForm:
    return ShareLinkForm(formdata=None)


def link_url(token: str) -> str:
    """The link to hand out: the page's address (WEBAUTH_PUBLIC_URL's origin when set), the token in its fragment."""
    origin = current_app.config["WEBAUTH_PUBLIC_URL"] or request.host_url.rstrip("/")
    return f"{origin}{url_for('sharelinks.page')}#{token}"


def _owner_part(account: Account, form: ShareLinkForm, status: int = 200, new_link: str | None = None,
                error: str | None = None) -> Response:
    return page_or_fragment(
        "sharelinks/owner.html", "sharelinks/_links.html", status,
        account=account, share_form=form, new_share_link=new_link, share_error=error,
    )


def _creation_limit() -> str:
    return current_app.config["WEBAUTH_SHARE_LINK_CREATE_RATE_LIMIT"]


@bp.post("/accounts/<uuid>/share-links")
@login_required
@reauth_required
@limiter.limit(_creation_limit, key_func=lambda: f"share-link-create:{current_user.get_id()}")
def create(uuid: str):
    """Make a link and show it in this answer only: it is never stored, sent again or put in a redirect."""
    vault = current_vault()
    account = vault.get(uuid)
    form = ShareLinkForm()
    if not form.validate():
        return _owner_part(account, form, 422)
    try:
        _link, token = links.create(vault, uuid, form.minutes.data, show_name=bool(form.show_name.data))
    except links.TooManyLinks as error:
        return _owner_part(account, form, 409, error=error.message)
    except links.ShareLinkError as error:
        return _owner_part(account, form, 422, error=error.message)
    db.session.commit()
    return _owner_part(account, ShareLinkForm(formdata=None), new_link=link_url(token))


@bp.post("/accounts/<uuid>/share-links/<int:link_id>/revoke")
@login_required
def revoke(uuid: str, link_id: int):
    """Revoke one of my links (no password needed: taking access away is always allowed)."""
    vault = current_vault()
    account = vault.get(uuid)
    try:
        link = links.get(vault.user, link_id)
    except LookupError:
        raise NotFound() from None
    if link.account_id != account.id:
        raise NotFound()
    links.revoke(vault.user, link)
    db.session.commit()
    return redirect(url_for("accounts.detail", uuid=uuid, _anchor="share-links"))


# The public side ---------------------------------------------------------------------------


def _private(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _posted_token() -> object:
    body = request.get_json(silent=True)
    return body.get("token") if isinstance(body, dict) else None


def _address_limit() -> str:
    return current_app.config["WEBAUTH_SHARE_LINK_RATE_LIMIT"]


def _link_limit() -> str:
    return current_app.config["WEBAUTH_SHARE_LINK_PER_LINK_RATE_LIMIT"]


def _refusal_limit() -> str:
    return current_app.config["WEBAUTH_SHARE_LINK_REFUSAL_RATE_LIMIT"]


def _link_key() -> str:
    """Per link, by the token's digest (never the token itself, which the limiter's storage would keep)."""
    token = _posted_token()
    if links.is_well_formed(token):
        return f"share-link:{links.digest(token)}"  # type: ignore[arg-type]
    return f"share-link-address:{get_remote_address()}"


@bp.get("/s")
def page():
    """The page a link opens; its script reads the token from the fragment and fetches the code."""
    return _private(make_response(render_template("sharelinks/page.html")))


@bp.post("/s/code")
@csrf.exempt  # no cookie carries the authority here: the token in the body does
@limiter.limit(_address_limit, key_func=lambda: f"share-code-address:{get_remote_address()}")
@limiter.limit(_link_limit, key_func=_link_key)
@limiter.limit(
    _refusal_limit,
    key_func=lambda: f"share-code-refused:{get_remote_address()}",
    deduct_when=lambda response: response.status_code in (400, 410),
)
def code():
    """The shared code now, as JSON: 400 for a body without a well-formed token, 410 for any link
    that shows nothing (expired, revoked, unknown, suspended: all alike)."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not links.is_well_formed(body.get("token")):
        return _private(json_problem(400, "malformed", _("This is not a share link.")))
    shown = viewing.show(body["token"], keyring(), opened=body.get("open") is True)
    if shown is None:
        db.session.rollback()
        return _private(json_problem(410, GONE_CODE, _("This link has expired or was revoked.")))
    db.session.commit()
    return _private(json_response(shown.as_json()))
