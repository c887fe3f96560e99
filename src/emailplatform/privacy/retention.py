"""Retention: what a tenant's finished campaigns keep, and for how long (the `retention_*` settings; 0 keeps for
ever). A campaign is finished once COMPLETED, CANCELLED or FAILED; its age is counted from then. Source files
and batch files, captured messages and events go a campaign at a time (RetentionPurge remembers which are done,
so a run never scans what an earlier one removed); webhook delivery logs and audit entries go by their own age.
On PostgreSQL a month of events goes whole, a partition dropped, once every campaign with messages in that month
is due (partitions.py), and each run makes the months ahead."""

from collections.abc import Iterator
from datetime import date, datetime, timedelta

from sqlalchemy import and_, column, delete, exists, func, select, table
from sqlalchemy.orm import Session

from emailplatform import audit_trail as audit
from emailplatform import partitions
from emailplatform.config import Settings
from emailplatform.models import (
    Batch,
    Event,
    File,
    Message,
    RetentionPurge,
    Transaction,
    TransactionStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
    utcnow,
)
from emailplatform.runtime import Runtime
from emailplatform.sending.transports import capture

FINISHED = (TransactionStatus.COMPLETED, TransactionStatus.CANCELLED, TransactionStatus.FAILED)
CAMPAIGNS_A_RUN = 50  # per kind; the rest wait for the next run
ROWS_A_STATEMENT = 1000


def _ended():
    return func.coalesce(Transaction.completed_at, Transaction.cancelled_at, Transaction.updated_at)


def _days(settings: Settings) -> dict[str, float]:
    return {
        "files": settings.retention_files_days,
        "captured": settings.retention_captured_days,
        "events": settings.retention_events_days,
    }


def apply(runtime: Runtime, now: datetime | None = None) -> dict[str, int]:
    """One run: how many campaigns had each kind removed, and how many webhook deliveries and audit entries went."""
    now = now or utcnow()
    settings = runtime.settings
    done = {}
    with runtime.db.session() as session:
        partitions.make_months(session.connection(), now)
        days = settings.retention_events_days
        done["event_months"] = _drop_event_months(session, now - timedelta(days=days)) if days else 0
    for kind, days in _days(settings).items():
        done[kind] = _purge_campaigns(runtime, kind, now - timedelta(days=days)) if days else 0
    with runtime.db.session() as session:
        days = settings.retention_webhook_logs_days
        done["webhook_deliveries"] = _purge_deliveries(session, now - timedelta(days=days)) if days else 0
        days = settings.retention_audit_days
        done["audit_entries"] = audit.prune(session, now - timedelta(days=days)) if days else 0
    return done


def _purge_campaigns(runtime: Runtime, kind: str, before: datetime) -> int:
    with runtime.db.session() as session:
        due = list(
            session.scalars(
                select(Transaction.id)
                .where(Transaction.status.in_(FINISHED), _ended() < before)
                .where(~exists().where(RetentionPurge.transaction_id == Transaction.id, RetentionPurge.kind == kind))
                .order_by(Transaction.id)
                .limit(CAMPAIGNS_A_RUN)
            )
        )
    for transaction_id in due:
        with runtime.db.session() as session:
            PURGES[kind](runtime, session, session.get_one(Transaction, transaction_id), before)
            session.add(RetentionPurge(transaction_id=transaction_id, kind=kind))
    return len(due)


def _purge_files(runtime: Runtime, session: Session, transaction: Transaction, before: datetime) -> None:
    """Its batch files; and its source file, unless a campaign that is not yet due sends the same file."""
    for key in session.scalars(select(Batch.storage_key).where(Batch.transaction_id == transaction.id)):
        runtime.storage.delete(key)
    still_needed = session.scalar(
        select(
            exists().where(
                Transaction.file_id == transaction.file_id,
                Transaction.id != transaction.id,
                ~and_(Transaction.status.in_(FINISHED), _ended() < before),
            )
        )
    )
    if not still_needed:
        runtime.storage.delete(session.get_one(File, transaction.file_id).storage_key)


def _purge_captured(runtime: Runtime, session: Session, transaction: Transaction, _before: datetime) -> None:
    for message_id in _sent_message_ids(session, transaction):
        runtime.storage.delete(capture.outbox_key(transaction.tenant_id, message_id))


def _sent_message_ids(session: Session, transaction: Transaction) -> Iterator:
    """A page at a time: a campaign of a million messages is not held in memory."""
    after = None
    while True:
        stmt = select(Message.id).where(Message.transaction_id == transaction.id, Message.sent_at.is_not(None))
        page = list(
            session.scalars(
                (stmt.where(Message.id > after) if after else stmt).order_by(Message.id).limit(ROWS_A_STATEMENT)
            )
        )
        yield from page
        if len(page) < ROWS_A_STATEMENT:
            return
        after = page[-1]


def _purge_events(_runtime: Runtime, session: Session, transaction: Transaction, _before: datetime) -> None:
    session.execute(delete(Event).where(Event.transaction_id == transaction.id))


PURGES = {"files": _purge_files, "captured": _purge_captured, "events": _purge_events}


def _drop_event_months(session: Session, before: datetime) -> int:
    """Each month of events (on PostgreSQL) whose campaigns are all due, or done, dropped whole: how many."""
    connection = session.connection()
    if not partitions.is_partitioned(connection):
        return 0
    with_messages = set(partitions.months(connection, "messages"))
    dropped = 0
    for month in partitions.months(connection, "events"):
        if not partitions.ended_before(month, before):  # a campaign with messages in it cannot be due yet
            break
        if month in with_messages and not _events_kept(session, month, before):
            dropped += partitions.drop(connection, "events", month)
    return dropped


def _events_kept(session: Session, month: date, before: datetime) -> bool:
    """Whether a campaign with messages in the month keeps its events still."""
    messages = table(partitions.name_of("messages", month), column("transaction_id"))
    return bool(
        session.scalar(
            select(
                exists().where(
                    exists().where(messages.c.transaction_id == Transaction.id),
                    ~exists().where(RetentionPurge.transaction_id == Transaction.id, RetentionPurge.kind == "events"),
                    ~and_(Transaction.status.in_(FINISHED), _ended() < before),
                )
            )
        )
    )


def _purge_deliveries(session: Session, before: datetime) -> int:
    """Finished deliveries created before `before`, with their attempts, a statement's worth at a time."""
    removed = 0
    while ids := list(
        session.scalars(
            select(WebhookDelivery.id)
            .where(WebhookDelivery.created_at < before, WebhookDelivery.status != WebhookDeliveryStatus.PENDING)
            .limit(ROWS_A_STATEMENT)
        )
    ):
        session.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(ids)))
        session.execute(delete(WebhookDelivery).where(WebhookDelivery.id.in_(ids)))
        removed += len(ids)
    return removed
