"""What Prometheus scrapes: this process's HTTP requests, and the whole deployment's queue and campaigns.

Request counts and latencies belong to the process that served them (scrape every API process). Jobs and
campaigns are read from the database at each scrape, so any one process tells the state of them all."""

import time

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emailplatform.db import Database
from emailplatform.models import Job, JobState, Transaction, utcnow

UNFINISHED = (JobState.QUEUED, JobState.RUNNING, JobState.DEAD)  # done jobs are many and tell nothing


class HttpMetrics:
    """ASGI middleware counting each request by method, route template (not the raw path: ids would make a
    series each) and status, with its duration."""

    def __init__(self, app: ASGIApp, registry: CollectorRegistry):
        self.app = app
        self.requests = Counter(
            "emailplatform_http_requests", "HTTP requests answered.", ["method", "route", "status"], registry=registry
        )
        self.seconds = Histogram(
            "emailplatform_http_request_duration_seconds", "Time to answer an HTTP request.", ["method", "route"],
            registry=registry,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started, status = time.perf_counter(), 500

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.requests.labels(scope["method"], route, str(status)).inc()
            self.seconds.labels(scope["method"], route).observe(time.perf_counter() - started)


class DatabaseCollector(Collector):
    """Jobs by kind and state, how late the most overdue queued job is, and campaigns by status."""

    def __init__(self, db: Database):
        self.db = db

    def collect(self):
        with self.db.session(write=False) as session:
            jobs = session.execute(
                select(Job.kind, Job.state, func.count()).where(Job.state.in_(UNFINISHED)).group_by(Job.kind, Job.state)
            ).all()
            now = utcnow()
            oldest_due = session.scalar(
                select(func.min(Job.run_at)).where(Job.state == JobState.QUEUED, Job.run_at <= now)
            )
            campaigns = session.execute(select(Transaction.status, func.count()).group_by(Transaction.status)).all()
        by_state = GaugeMetricFamily("emailplatform_jobs", "Unfinished jobs, by kind and state.", labels=["kind", "state"])
        for kind, state, count in jobs:
            by_state.add_metric([kind, state], count)
        yield by_state
        late = (now - oldest_due).total_seconds() if oldest_due else 0.0
        yield GaugeMetricFamily(
            "emailplatform_jobs_queue_lag_seconds", "How long the most overdue queued job has been due.", value=late
        )
        by_status = GaugeMetricFamily("emailplatform_campaigns", "Campaigns, by status.", labels=["status"])
        for status, count in campaigns:
            by_status.add_metric([str(status)], count)
        yield by_status


def new_registry(db: Database) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(DatabaseCollector(db))
    return registry
