"""Casdoor: sign-in with OpenID Connect, and a lossless two-way sync of a user's TOTP accounts
with the `mfaAccounts` list of their Casdoor user.

- `client`: the REST calls, every failure mapped to one exception hierarchy.
- `merge`: the pure three-way merge (no I/O), testable scenario by scenario.
- `oidc`: Authlib's Flask client: discovery, code + PKCE, id_token verification, refresh.
- `sync`: the service that reads, merges, pushes and applies through the vault.
- `status`: what a sync's outcome and a user's sync status are called, in words.
- `lease`: one sync of a user at a time, across processes.
- `triggers`: a sync after each local change, once the response is sent.

`init_app` wires it all when `WEBAUTH_CASDOOR_URL` and `WEBAUTH_CASDOOR_CLIENT_ID` are set;
without them the app shows no trace of Casdoor.
"""

from __future__ import annotations

from flask import Flask, current_app, g
from flask_login import current_user


def init_app(app: Flask) -> None:
    from webauth.casdoor import oidc, triggers

    oidc.init_app(app)
    app.add_template_global(enabled, "casdoor_enabled")
    app.add_template_global(_current_status, "casdoor_status")
    app.add_template_global(_mark_of, "casdoor_mark")
    app.add_template_global(signup_url, "casdoor_signup_url")
    if oidc.configured(app):
        triggers.init_app(app)
        _provide_admin_hooks(app)


def enabled() -> bool:
    from webauth.casdoor import oidc

    return oidc.configured()


def signup_url() -> str | None:
    application = current_app.config["WEBAUTH_CASDOOR_APPLICATION"]
    if not enabled() or not application:
        return None
    return f"{current_app.config['WEBAUTH_CASDOOR_URL']}/signup/{application}"


def _current_status():
    """The signed-in user's sync status (None when not linked), read once per request."""
    from webauth.casdoor import status

    if not enabled() or not current_user.is_authenticated:
        return None
    if "casdoor_status" not in g:
        g.casdoor_status = status.status_of(current_user)
    return g.casdoor_status


def _mark_of(account) -> str | None:
    """ "parameters" or "too-long" when the last sync marked this account of the signed-in user."""
    from webauth.casdoor import status

    if not enabled() or not current_user.is_authenticated:
        return None
    if "casdoor_marks" not in g:
        g.casdoor_marks = status.marks_of(current_user)
    return g.casdoor_marks.get(account.id)


def _provide_admin_hooks(app: Flask) -> None:
    """The admin console's "last sync" column and "sync now" button."""
    from sqlalchemy import select

    from webauth import admin
    from webauth.casdoor import status, sync
    from webauth.extensions import db
    from webauth.models import CasdoorLink

    def last_results(user_ids):
        links = db.session.scalars(select(CasdoorLink).where(CasdoorLink.user_id.in_(list(user_ids))))
        return {
            link.user_id: admin.SyncResult(
                ok=link.last_result == "ok",
                at=link.last_attempt_at,
                message=status.error_message(link.last_error, link.last_detail) if link.last_result == "error" else "",
            )
            for link in links
            if link.last_result is not None
        }

    def force(user):
        report = sync.sync_user(user, sync.Trigger.ADMIN, force=True, wait=10.0)
        link = db.session.get(CasdoorLink, user.id)
        at = link.last_attempt_at if link is not None else None
        return admin.SyncResult(ok=report.ok, at=at, message="" if report.ok else report.message)

    admin.provide_sync_hooks(app, admin.SyncHooks(last_results=last_results, force=force))
