"""For the people running the service: `/healthz` for load balancers, `/metrics` for Prometheus, and
the refusal to serve while the keyring cannot open the vaults."""

from __future__ import annotations

import hmac
from ipaddress import ip_address

from flask import Blueprint, Response, current_app, jsonify, request
from flask_babel import gettext as _
from sqlalchemy import text, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from webauth import keys, metrics
from webauth.extensions import db
from webauth.models import Heartbeat, utcnow
from webauth.views.common import render_error

bp = Blueprint("ops", __name__)
bp.record_once(lambda state: metrics.init_app(state.app))


# What answers while the keyring cannot open the vaults: health and metrics say so themselves.
_SERVED_WITHOUT_KEYS = {"static", "ops.healthz", "ops.scrape"}


@bp.before_app_request
def refuse_without_keys():
    """Serve nothing while the keyring cannot open the users' data keys (keys.py): sign-in would
    work and every vault fail. The page names the missing key ids for whoever runs the service."""
    if request.endpoint in _SERVED_WITHOUT_KEYS:
        return None
    try:
        problem = keys.serving_problem()
    except SQLAlchemyError:
        db.session.rollback()
        return None  # the database does not answer: the request fails on its own, health says why
    if problem is None:
        return None
    message = _("This service cannot open its vaults: %(problem)s", problem=problem)
    return render_error(503, message)


def _database_problem() -> str | None:
    """Why the database cannot serve: it does not answer, or it answers but cannot be written."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        current_app.logger.warning("health check: the database does not answer", exc_info=True)
        return "the database does not answer"
    try:
        beat = db.session.execute(update(Heartbeat).where(Heartbeat.id == 1).values(beat_at=utcnow()))
        if beat.rowcount == 0:  # the row went missing (a restore from an older dump): put it back
            insert = postgresql_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
            db.session.execute(insert(Heartbeat).values(id=1, beat_at=utcnow()).on_conflict_do_nothing())
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        current_app.logger.warning("health check: the database cannot be written", exc_info=True)
        return "the database answers but cannot be written (read-only file, full disk or read-only server?)"
    return None


@bp.app_errorhandler(SQLAlchemyError)
def database_error(error: SQLAlchemyError):
    """A database that stopped taking writes (or answering) is a 503 that says so, not a 500."""
    db.session.rollback()
    if _database_problem() is None:
        raise error  # a bug, not the database: the usual 500
    current_app.logger.error("the database failed a request", exc_info=error)
    return render_error(503, _("The database cannot store changes just now, so nothing was saved. Try again later."))


@bp.get("/healthz")
def healthz():
    """200 when the database can be written and the keyring opens every user's data key; 503 with
    the reasons otherwise, so a balancer stops sending traffic and whoever looks knows why."""
    problems = []
    database = _database_problem()
    if database:
        problems.append(database)
    else:
        try:
            keyring = keys.keyring_problem()
        except SQLAlchemyError:
            db.session.rollback()
            keyring = "the users' keys could not be read from the database"
        if keyring:
            problems.append(f"the keyring cannot open the vaults: {keyring}")
    if problems:
        return jsonify(status="unavailable", problems=problems), 503
    return jsonify(status="ok")


def _loopback_and_direct() -> bool:
    """A request from this machine that no proxy forwarded (a local proxy would make every visitor loopback)."""
    if request.headers.get("X-Forwarded-For") or request.headers.get("Forwarded"):
        return False
    try:
        return ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


@bp.get("/metrics")
def scrape():
    """Prometheus metrics: with WEBAUTH_METRICS_TOKEN as a bearer token, or else from loopback only."""
    token = current_app.config["WEBAUTH_METRICS_TOKEN"]
    if token:
        sent = request.headers.get("Authorization", "")
        if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
            return Response(
                "A bearer token is needed.\n", 401, mimetype="text/plain", headers={"WWW-Authenticate": "Bearer"}
            )
    elif not _loopback_and_direct():
        return Response(
            "Metrics are served to this machine only; set WEBAUTH_METRICS_TOKEN to scrape from elsewhere.\n",
            403,
            mimetype="text/plain",
        )
    body, content_type = metrics.exposition()
    return Response(body, content_type=content_type)
