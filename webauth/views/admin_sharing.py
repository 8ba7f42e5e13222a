"""The admin console's part of sharing on a user's page: ending one of their share links or one
of the shares of their accounts, when the owner cannot (away, locked out, or the link went to
the wrong person).

These routes belong to the `admin` blueprint (views/admin.py), whose `require_admin` guards
them (403 for anyone else); register_blueprints imports this module before the blueprint is
registered. Plain forms that post, flash and come back to the user's page. The domain is
sharing/oversight.py: the same calls and audit events as the owner's own buttons.
"""

from __future__ import annotations

from flask import flash, redirect, url_for
from flask_babel import gettext as _
from werkzeug.exceptions import NotFound

from webauth.extensions import db
from webauth.sharing import oversight
from webauth.views.admin import _user_or_404, bp


def _back(user_id: int):
    return redirect(url_for("admin.user", user_id=user_id, _anchor="sharing"))


@bp.post("/users/<int:user_id>/share-links/<int:link_id>/revoke")
def revoke_share_link(user_id: int, link_id: int):
    """End a user's share link: its next request is refused, as if the owner had revoked it."""
    subject = _user_or_404(user_id)
    try:
        oversight.revoke_link(subject, link_id)
    except LookupError:
        raise NotFound() from None
    db.session.commit()
    flash(_("The share link is revoked: it shows nothing from now on."), "success")
    return _back(subject.id)


@bp.post("/users/<int:user_id>/shares/<int:share_id>/remove")
def remove_share(user_id: int, share_id: int):
    """End one share of a user's account: its recipients lose the account at their next look."""
    subject = _user_or_404(user_id)
    try:
        ended = oversight.end_share(subject, share_id)
    except LookupError:
        raise NotFound() from None
    db.session.commit()
    flash(
        _("%(name)s no longer has access to %(label)s.", name=ended.recipient.name, label=ended.label), "success"
    )
    return _back(subject.id)
