"""What Prometheus scrapes of the whole deployment: its queue, campaigns and messages (this process's HTTP requests
are counted by middleware.py).

Jobs, campaigns and messages are read from the database at each scrape, so any one process tells the state of them
all. Messages are read from their counts by campaign (campaigns/counts.py), never from the messages table itself:
a scrape grows with the campaigns, not with their messages. The alert rules on all of these ship beside this file
(alerts.yml). A server that runs workers (its own thread or processes, or those of the `serve` command that
started it) tells whether they all run and how many it restarted. Request counts and latencies are the
middleware's (middleware.py)."""

import threading
from collections.abc import Callable

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from emailplatform.campaigns.counts import DELIVERED, PENDING, SENT_OUT
from emailplatform.db import Database
from emailplatform.models import Job, JobState, MessageCount, MessageStatus, Transaction, TransactionStatus, utcnow

UNFINISHED = (JobState.QUEUED, JobState.RUNNING, JobState.DEAD)  # done jobs are many and tell nothing
# Messages by outcome, counted as the campaign API counts them (a delivered message may since have been opened).
OUTCOMES = {
    "sent": ("Messages handed to the transport and accepted (bounced and delivered ones too).", SENT_OUT),
    "delivered": ("Messages delivered (opened, clicked and complained-of ones too).", DELIVERED),
    "bounced": ("Messages that bounced (an SMTP 5xx reply, a DSN, an SES bounce).", {MessageStatus.BOUNCED}),
    "complained": ("Messages their recipient reported as spam.", {MessageStatus.COMPLAINED}),
    "failed": (
        "Messages given up on without a bounce (temporary refusals to the last attempt, SES rejects).",
        {MessageStatus.FAILED},
    ),
}


class DatabaseCollector(Collector):
    """Jobs by kind and state, how late the most overdue queued job is, campaigns by status, and messages by
    status and by outcome, with how far sending is behind."""

    def __init__(self, db: Database):
        self.db = db
        self.highest: dict[str, int] = {}
        self.highest_lock = threading.Lock()  # scrapes may overlap

    def collect(self):
        with self.db.session(write=False) as session:
            families = [*self.jobs_and_campaigns(session), *self.messages(session)]
        yield from families

    def jobs_and_campaigns(self, session: Session) -> list[Metric]:
        jobs = session.execute(
            select(Job.kind, Job.state, func.count()).where(Job.state.in_(UNFINISHED)).group_by(Job.kind, Job.state)
        ).all()
        now = utcnow()
        oldest_due = session.scalar(select(func.min(Job.run_at)).where(Job.state == JobState.QUEUED, Job.run_at <= now))
        campaigns = session.execute(select(Transaction.status, func.count()).group_by(Transaction.status)).all()
        by_state = GaugeMetricFamily(
            "emailplatform_jobs", "Unfinished jobs, by kind and state.", labels=["kind", "state"]
        )
        for kind, state, count in jobs:
            by_state.add_metric([kind, state], count)
        late = (now - oldest_due).total_seconds() if oldest_due else 0.0
        by_status = GaugeMetricFamily("emailplatform_campaigns", "Campaigns, by status.", labels=["status"])
        for status, count in campaigns:
            by_status.add_metric([str(status)], count)
        return [
            by_state,
            GaugeMetricFamily(
                "emailplatform_jobs_queue_lag_seconds", "How long the most overdue queued job has been due.", value=late
            ),
            by_status,
        ]

    def messages(self, session: Session) -> list[Metric]:
        by_counted_status = select(MessageCount.status, func.sum(MessageCount.count)).group_by(MessageCount.status)
        counted = dict(session.execute(by_counted_status).all())
        waiting = session.scalar(
            select(func.coalesce(func.sum(MessageCount.count), 0))
            .join(Transaction, Transaction.id == MessageCount.transaction_id)
            .where(Transaction.status == TransactionStatus.READY_TO_SEND, MessageCount.status == PENDING)
        )
        sending = session.execute(
            select(Transaction.processed_at, Transaction.send_at).where(
                Transaction.status == TransactionStatus.READY_TO_SEND
            )
        ).all()
        now = utcnow()
        due = [max(processed_at, send_at or processed_at) for processed_at, send_at in sending if processed_at]
        by_status = GaugeMetricFamily(
            "emailplatform_messages",
            "Messages now in each status (the unsent ones together as PENDING).",
            labels=["status"],
        )
        for status, count in sorted(counted.items()):
            by_status.add_metric([status], count)
        outcomes = [
            CounterMetricFamily(
                f"emailplatform_messages_{outcome}",
                documentation,
                value=self.never_lower(outcome, sum(counted.get(status, 0) for status in statuses)),
            )
            for outcome, (documentation, statuses) in OUTCOMES.items()
        ]
        return [
            by_status,
            *outcomes,
            GaugeMetricFamily(
                "emailplatform_messages_waiting",
                "Unsent messages of the campaigns that are sending (READY_TO_SEND).",
                value=waiting,
            ),
            GaugeMetricFamily(
                "emailplatform_campaigns_oldest_sending_seconds",
                "How long the campaign sending the longest has been due to send (0: none is sending).",
                value=max(((now - moment).total_seconds() for moment in due), default=0.0),
            ),
        ]

    def never_lower(self, outcome: str, total: int) -> int:
        """A message only moves forward, but forward can be out of an outcome (a bounced message opened after
        all): a total that went down would read as a counter reset, and `rate()` as a burst of the whole total,
        so a process reports the highest total it has seen."""
        with self.highest_lock:
            self.highest[outcome] = max(total, self.highest.get(outcome, 0))
            return self.highest[outcome]


class WorkerCollector(Collector):
    """The server's workers, if it has any: `worker()` is what /readyz reads too (with `alive` and `restarts`)."""

    def __init__(self, worker: Callable[[], object | None]):
        self.worker = worker

    def collect(self):
        worker = self.worker()
        if worker is None:
            return
        yield GaugeMetricFamily(
            "emailplatform_worker_up",
            "1 while every worker of this server runs, 0 while one is being restarted.",
            value=int(worker.alive),
        )
        yield CounterMetricFamily(
            "emailplatform_worker_restarts",
            "Workers of this server started again after one died.",
            value=worker.restarts,
        )


def new_registry(db: Database, worker: Callable[[], object | None]) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(DatabaseCollector(db))
    registry.register(WorkerCollector(worker))
    return registry
