"""For the people running the service: `/healthz` for load balancers, `/metrics` for Prometheus."""

from __future__ import annotations

import hmac
from ipaddress import ip_address

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from webauth import metrics
from webauth.extensions import db

bp = Blueprint("ops", __name__)
bp.record_once(lambda state: metrics.init_app(state.app))


@bp.get("/healthz")
def healthz():
    """200 when the database answers, 503 when it does not: a balancer then stops sending traffic."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        current_app.logger.warning("health check: the database does not answer", exc_info=True)
        return jsonify(status="unavailable"), 503
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
