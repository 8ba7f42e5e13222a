"""Sync after each local change, without the vault knowing about Casdoor, and after the response.

The vault writes an audit event for every change in the same transaction. A listener here
notes the users whose account events commit (not those a sync writes itself: the sync
flags its session while it applies a plan), and an `after_request` hook hands those users
to `response.call_on_close`, which runs once the response has been sent: the change is
answered at once, and the sync (with its network calls) uses the worker thread afterwards.
Changes made outside a request (the CLI) are picked up by the next sync from any trigger.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import partial

from flask import Flask, current_app, g, has_request_context
from sqlalchemy import event
from sqlalchemy.orm import Session, object_session
from werkzeug.wrappers import Response

from webauth.casdoor import oidc
from webauth.casdoor.sync import SYNCING, Trigger, sync_user
from webauth.extensions import db
from webauth.models import AuditEvent, User

log = logging.getLogger(__name__)

# The vault's audit events that change what Casdoor holds (an HOTP counter or a reveal does not).
CHANGE_EVENTS = frozenset(
    {"account.add", "account.edit", "account.delete", "account.restore", "account.purge", "import"}
)
# How long a sync after a change waits for a running sync of the same user to finish.
LOCK_WAIT_SECONDS = 15.0
_PENDING = "webauth.casdoor.changed_users"
_G_KEY = "casdoor_changed_users"


@event.listens_for(AuditEvent, "after_insert")
def _note_change(mapper, connection, target: AuditEvent) -> None:
    if target.event not in CHANGE_EVENTS or target.user_id is None:
        return
    session = object_session(target)
    if session is not None and not session.info.get(SYNCING):
        session.info.setdefault(_PENDING, set()).add(target.user_id)


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    changed = session.info.pop(_PENDING, None)
    if changed and has_request_context():
        g.setdefault(_G_KEY, set()).update(changed)


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(_PENDING, None)


def init_app(app: Flask) -> None:
    app.after_request(_schedule)


def _schedule(response: Response) -> Response:
    changed = g.pop(_G_KEY, None)
    if changed and oidc.configured():
        app = current_app._get_current_object()
        response.call_on_close(partial(sync_after_change, app, sorted(changed)))
    return response


def sync_after_change(app: Flask, user_ids: Iterable[int]) -> None:
    """Sync each user in a fresh app context; a failure is recorded as the user's status, never raised."""
    for user_id in user_ids:
        try:
            with app.app_context():
                user = db.session.get(User, user_id)
                if user is not None and not user.disabled:
                    sync_user(user, Trigger.CHANGE, wait=LOCK_WAIT_SECONDS)
        except Exception:
            log.exception("the Casdoor sync after a change of user %s failed", user_id)
