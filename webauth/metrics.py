"""Prometheus metrics: requests and latency, sign-ins and sync runs by result, totals.

Labels are endpoints, methods, statuses and results, never a user, an account or anything
typed into a form, so a scrape tells nothing about any one person.

Sign-ins and sync runs are counted from the audit trail as it commits (`signin.success`,
`signin.failure`, and `sync.<result>` events), so the numbers agree with the audit log
and every way of signing in or syncing is counted without calling this module.

Several processes: gunicorn workers each count their own requests. With
`PROMETHEUS_MULTIPROC_DIR` set in gunicorn's environment (an empty directory, wiped before
each start), prometheus-client keeps the counters in files there and a scrape adds up
every worker's, whichever worker answers it. Without it, a scrape shows the default
registry of the process that answers. Totals (accounts, users) are counted in the database
at scrape time, so they are right either way.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable

from flask import Flask, Response, g, request, request_started
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import multiprocess as prometheus_multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import event, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, object_session

from webauth.extensions import db
from webauth.models import Account, AuditEvent, User

REQUESTS = Counter(
    "webauth_http_requests_total", "HTTP requests answered, by endpoint, method and status.",
    ["endpoint", "method", "status"],
)
LATENCY = Histogram(
    "webauth_http_request_duration_seconds", "Time spent answering a request, by endpoint.", ["endpoint"]
)
SIGNINS = Counter("webauth_signins_total", "Sign-in attempts, by result (success or failure).", ["result"])
SYNC_RESULTS = Counter("webauth_sync_results_total", "Casdoor sync runs, by result.", ["result"])

_PENDING = "webauth.metrics.pending_events"


def init_app(app: Flask) -> None:
    """Time every request of `app`, from before its first `before_request` function."""
    request_started.connect(_start_timer, app)
    app.after_request(_observe)


def _start_timer(sender: Flask, **extra) -> None:
    g.metrics_started = time.perf_counter()


def _observe(response: Response) -> Response:
    endpoint = request.endpoint or "unmatched"  # unknown URLs share one label: paths are unbounded
    REQUESTS.labels(endpoint, request.method, str(response.status_code)).inc()
    started = g.get("metrics_started")
    if started is not None:
        LATENCY.labels(endpoint).observe(time.perf_counter() - started)
    return response


# Counting audit events once their transaction commits ---------------------------------------


@event.listens_for(AuditEvent, "after_insert")
def _queue_event(mapper, connection, target: AuditEvent) -> None:
    session = object_session(target)
    if session is not None:
        session.info.setdefault(_PENDING, []).append(target.event)


@event.listens_for(Session, "after_commit")
def _count_committed(session: Session) -> None:
    for name in session.info.pop(_PENDING, ()):
        family, _dot, result = name.partition(".")
        if family == "signin" and result in {"success", "failure"}:
            SIGNINS.labels(result).inc()
        elif family == "sync" and result:
            SYNC_RESULTS.labels(result).inc()


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_PENDING, None)


# Exposition ---------------------------------------------------------------------------------


class _ProcessRegistry:
    """The default registry, seen through the scrape's registry (single-process mode)."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


class _DatabaseTotals:
    """Totals counted in the database at scrape time, and whether the database answered."""

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily("webauth_database_up", "1 when the database answered the scrape, else 0.")
        try:
            accounts = db.session.execute(
                select(Account.type, func.count(Account.id)).where(Account.deleted_at.is_(None)).group_by(Account.type)
            ).all()
            users = db.session.execute(select(User.disabled, func.count(User.id)).group_by(User.disabled)).all()
        except SQLAlchemyError:
            db.session.rollback()
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        account_totals = GaugeMetricFamily(
            "webauth_accounts", "Accounts in all vaults, not counting the trash, by type.", labels=["type"]
        )
        for kind, count in accounts:
            account_totals.add_metric([kind], count)
        user_totals = GaugeMetricFamily("webauth_users", "Users, by state.", labels=["state"])
        counts = dict(users)
        user_totals.add_metric(["active"], counts.get(False, 0))
        user_totals.add_metric(["disabled"], counts.get(True, 0))
        return [up, account_totals, user_totals]


def exposition() -> tuple[bytes, str]:
    """The scrape's body and content type."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        prometheus_multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ProcessRegistry())
    registry.register(_DatabaseTotals())
    return generate_latest(registry), CONTENT_TYPE_LATEST
