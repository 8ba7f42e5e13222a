"""Sharing in the browser: the owner's "Share" section of an account's page, and the recipient's
side (a shared account's page, its HOTP next code, "Remove from my list").

The owner's forms post here and come back to the account's page (plain forms, then a redirect);
a refused share shows the page again with the reason, as a 4xx. With htmx, each answer is the
"Share" section alone, swapped in place with what happened (page_or_fragment). The recipient's pages go through
`Received` (sharing/received.py), which hands out codes and never a secret. The list shows the
shared accounts too (views/codes.py, templates/sharing/_shared_list.html).
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from webauth import clock
from webauth.extensions import db
from webauth.listing import make_clock
from webauth.models import Account
from webauth.sharing import rules
from webauth.vault import AccountNotFound
from webauth.views.account_page import detail_page
from webauth.views.accounts import account_label
from webauth.views.codes import render_codes
from webauth.views.common import current_received, current_vault, page_or_fragment, wants_fragment

bp = Blueprint("sharing", __name__)


def _owner_account(uuid: str) -> Account:
    try:
        return current_vault().get(uuid)
    except AccountNotFound:
        abort(404)


def _section(account: Account, *, error: str = "", notice: str = "", status: int = 200):
    """The account's page with its "Share" section saying `error` or `notice`; for htmx, the
    section alone, swapped in place (a refusal is a 422, which htmx swaps too: base.html)."""
    return detail_page(
        account, share_error=error, share_notice=notice, status=status, fragment="sharing/_share_section.html"
    )


def _done(account: Account, message: str):
    """A share made or ended: htmx gets the section saying so; a plain form, the page again
    (post, redirect, get) with the message flashed."""
    if wants_fragment():
        return _section(account, notice=message)
    flash(message, "success")
    return redirect(url_for("accounts.detail", uuid=account.uuid, _anchor="share"))


@bp.post("/accounts/<uuid>/share")
@login_required
def share(uuid: str):
    """Share with the user or the group named in the form (`kind`: "user" or "group")."""
    account = _owner_account(uuid)
    name = request.form.get("with", "")[:255]
    kind = request.form.get("kind", "user")
    if kind not in ("user", "group"):
        abort(400)
    try:
        _share, new = rules.share(
            current_vault().user,
            account,
            username=name if kind == "user" else None,
            group=name if kind == "group" else None,
            allow_hotp_next=request.form.get("allow_hotp_next") == "1",
        )
    except rules.ShareError as error:
        db.session.rollback()
        return _section(_owner_account(uuid), error=str(error), status=422)
    db.session.commit()
    label = account_label(account)
    if new:
        return _done(account, _("Shared %(label)s with %(name)s: they see its codes, never its secret.",
                                label=label, name=name))
    return _done(account, _("%(label)s was shared with %(name)s already.", label=label, name=name))


@bp.post("/accounts/<uuid>/share/<int:share_id>/remove")
@login_required
def unshare(uuid: str, share_id: int):
    account = _owner_account(uuid)
    found = next((item for item in rules.recipients(account) if item.share_id == share_id), None)
    if found is None or not rules.unshare_id(current_vault().user, account, share_id):
        message = _("That share had ended already.")
        if wants_fragment():  # what was asked is done: the section as it is now, saying so
            return _section(account, notice=message)
        flash(message, "error")
        return redirect(url_for("accounts.detail", uuid=account.uuid, _anchor="share"))
    db.session.commit()
    label = account_label(account)
    return _done(account, _("%(name)s no longer has access to %(label)s.", name=found.name, label=label))


# The recipient's side -------------------------------------------------------------------


def _shared_or_404(uuid: str):
    try:
        return current_received().view(uuid)
    except AccountNotFound:
        abort(404)


def _code_context(uuid: str) -> dict:
    """The shared account's code now, and for a time-based one the clock of its countdown, which
    also says when the page asks for the next code: the owner's page's (accounts/detail_code.html)."""
    now = clock.now()
    view = _shared_or_404(uuid)
    timed = view.remaining is not None
    return {
        "view": view,
        "account": view.account,
        "clock": make_clock([view.period], now) if timed else None,
        "code_url": url_for("sharing.detail_code", uuid=uuid),
    }


@bp.get("/shared/<uuid>")
@login_required
def detail(uuid: str):
    """A shared account's page: its code, who shared it, and no secret to reveal."""
    return page_or_fragment("sharing/detail.html", "sharing/detail.html", **_code_context(uuid))


@bp.get("/shared/<uuid>/code")
@login_required
def detail_code(uuid: str):
    """The shared account's code again, when its period ends (htmx; a plain request gets the page).
    A share ended meanwhile answers 404, like the page."""
    if not wants_fragment():
        return redirect(url_for("sharing.detail", uuid=uuid))
    return page_or_fragment(None, "accounts/detail_code.html", **_code_context(uuid))


@bp.post("/shared/<uuid>/next")
@login_required
def next_code(uuid: str):
    """The next code of a shared HOTP account, when its owner allows it (the owner's counter moves)."""
    try:
        current_received().advance_hotp(uuid)
    except AccountNotFound:
        abort(404)
    db.session.commit()
    if request.form.get("next") == "detail":
        return redirect(url_for("sharing.detail", uuid=uuid))
    if wants_fragment():  # the list's own form: the refreshed list, with its search kept (views/codes.py)
        return render_codes()
    return redirect(url_for("codes.index", _anchor=f"shared-{uuid}"))


@bp.post("/shared/<uuid>/leave")
@login_required
def leave(uuid: str):
    """Remove an account shared with me from my list: a share by name ends; a team's or group's
    is hidden from me alone, until its owner shares it with me again (sharing/rules.py)."""
    view = _shared_or_404(uuid)
    if not rules.leave(current_user._get_current_object(), uuid):
        abort(404)  # ended between the two reads
    db.session.commit()
    label = view.account.issuer or view.account.name
    flash(_("Removed %(label)s from your list.", label=label), "success")
    return redirect(url_for("codes.index"))
