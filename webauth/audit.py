"""The audit trail: who did what, from where. Callers pass ids and names, never secrets.

Events join the caller's transaction, so an action and its record land together or not
at all.
"""

from __future__ import annotations

from typing import Any

from flask import has_request_context, request
from flask_login import current_user

from webauth.extensions import db
from webauth.models import AuditEvent, User


def client_ip() -> str:
    return (request.remote_addr or "")[:64] if has_request_context() else ""


def client_agent() -> str:
    return (request.user_agent.string or "")[:255] if has_request_context() else ""


def record(
    event: str,
    *,
    user: User | None = None,
    username: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit event to the current transaction; the actor is the signed-in user, if any."""
    actor = current_user if has_request_context() and current_user.is_authenticated else None
    entry = AuditEvent(
        event=event,
        user_id=user.id if user is not None else None,
        actor_id=actor.id if actor is not None else None,
        username=username if username is not None else (user.username if user is not None else ""),
        ip=client_ip(),
        user_agent=client_agent(),
        details=details or {},
    )
    db.session.add(entry)
    return entry
