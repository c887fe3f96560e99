"""Events: what happened to a message after it left. Append-only rows, from every source (SES, bounces,
tracking, SMTP replies), through this one door. A message's status only moves forward, duplicates and
late arrivals are harmless, and each event feeds suppression, webhooks and the campaign's completion."""

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from emailplatform.events import suppression
from emailplatform.models import (
    Event,
    Message,
    MessageStatus,
    Transaction,
    TransactionStatus,
    utcnow,
)
from emailplatform.webhooks import service as webhook_service

# The status an event moves its message to, and how far along that is; a message never moves back.
EVENT_STATUS = {
    "delivered": MessageStatus.DELIVERED,
    "bounced": MessageStatus.BOUNCED,
    "opened": MessageStatus.OPENED,
    "clicked": MessageStatus.CLICKED,
    "complained": MessageStatus.COMPLAINED,
    "rejected": MessageStatus.FAILED,
}
RANK = {
    MessageStatus.CREATED: 0, MessageStatus.SCHEDULED: 1, MessageStatus.READY_TO_SEND: 2, MessageStatus.SENDING: 3,
    MessageStatus.SENT: 10, MessageStatus.FAILED: 15, MessageStatus.DELIVERED: 20, MessageStatus.BOUNCED: 25,
    MessageStatus.OPENED: 30, MessageStatus.CLICKED: 40, MessageStatus.COMPLAINED: 50,
    MessageStatus.SUPPRESSED: 100, MessageStatus.CANCELLED: 100,
}
SUPPRESSING = {"complained": "complaint", "unsubscribed": "unsubscribe"}
FINAL_OUTCOMES = {
    MessageStatus.DELIVERED, MessageStatus.BOUNCED, MessageStatus.COMPLAINED, MessageStatus.OPENED,
    MessageStatus.CLICKED, MessageStatus.FAILED, MessageStatus.SUPPRESSED, MessageStatus.CANCELLED,
}
EVENT_TYPES = {"sent", "deferred", "failed", "delivery_delayed", "unsubscribed", *EVENT_STATUS}
WEBHOOK_TYPES = {"rejected": "failed"}  # what a subscriber hears of an event; types not subscribable stay quiet


@dataclass(frozen=True)
class NewEvent:
    message_id: uuid.UUID
    type: str
    occurred_at: datetime = field(default_factory=utcnow)
    details: dict = field(default_factory=dict)
    dedup_key: str | None = None  # e.g. the SNS MessageId: a second delivery of it is dropped

    @property
    def hard_bounce(self) -> bool:
        return self.type == "bounced" and bool(self.details.get("hard"))


def record(session: Session, event: NewEvent) -> bool:
    """Record one event; False when it was a duplicate or names no message."""
    return bool(record_many(session, [event]))


def record_many(session: Session, events: list[NewEvent]) -> list[NewEvent]:
    """Record events in bulk (the tracking endpoints buffer theirs); returns those that were new."""
    messages = _messages(session, {e.message_id for e in events})
    events = [e for e in events if e.message_id in messages and e.type in EVENT_TYPES]
    new = _insert_new(session, events, messages)
    moved = _advance_statuses(session, new)
    _suppress(session, new, messages)
    for event in new:
        message = messages[event.message_id]
        webhook_type = WEBHOOK_TYPES.get(event.type, event.type)
        if webhook_type in webhook_service.MESSAGE_EVENTS:
            webhook_service.message_event(session, message.tenant_id, webhook_type, payload(event, message))
    for transaction_id in {messages[m].transaction_id for m in moved}:
        complete_if_done(session, transaction_id)
    return new


def _messages(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, Message]:
    if not ids:
        return {}
    return {m.id: m for m in session.scalars(select(Message).where(Message.id.in_(ids)))}


def _insert_new(session: Session, events: list[NewEvent], messages: dict[uuid.UUID, Message]) -> list[NewEvent]:
    new = []
    for event in events:
        message = messages[event.message_id]
        row = {
            "tenant_id": message.tenant_id, "transaction_id": message.transaction_id, "message_id": message.id,
            "type": event.type, "occurred_at": event.occurred_at, "details": event.details, "dedup_key": event.dedup_key,
        }
        if event.dedup_key is None:
            session.execute(insert(Event).values(**row))
            new.append(event)
            continue
        dialect_insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        inserted = session.execute(
            dialect_insert(Event).values(**row).on_conflict_do_nothing(index_elements=["dedup_key"]).returning(Event.id)
        ).first()
        if inserted:
            new.append(event)
    return new


def _advance_statuses(session: Session, events: list[NewEvent]) -> set[uuid.UUID]:
    """Move each message to the furthest status its new events reach, never back; the ids that moved."""
    target: dict[uuid.UUID, MessageStatus] = {}
    for event in events:
        status = EVENT_STATUS.get(event.type)
        if status and RANK[status] > RANK.get(target.get(event.message_id), -1):
            target[event.message_id] = status
    by_status: dict[MessageStatus, list[uuid.UUID]] = defaultdict(list)
    for message_id, status in target.items():
        by_status[status].append(message_id)
    moved: set[uuid.UUID] = set()
    now = utcnow()
    for status, ids in by_status.items():
        behind = [s for s, rank in RANK.items() if rank < RANK[status] and rank >= RANK[MessageStatus.SENT]]
        rows = session.execute(
            update(Message)
            .where(Message.id.in_(ids), Message.status.in_(behind))
            .values(status=status, updated_at=now)
            .returning(Message.id)
            .execution_options(synchronize_session=False)
        ).scalars()
        moved.update(rows)
    return moved


def _suppress(session: Session, events: list[NewEvent], messages: dict[uuid.UUID, Message]) -> None:
    for event in events:
        reason = "hard_bounce" if event.hard_bounce else SUPPRESSING.get(event.type)
        if reason:
            message = messages[event.message_id]
            detail = event.details.get("reason") or event.details.get("diagnostic")
            suppression.add(session, message.tenant_id, message.email, reason, details=detail, message_id=message.id)


def complete_if_done(session: Session, transaction_id: uuid.UUID) -> None:
    """A SENT campaign is COMPLETED once every message has reached a final outcome."""
    waiting = session.scalar(
        select(Message.id)
        .where(Message.transaction_id == transaction_id, Message.status.not_in(FINAL_OUTCOMES))
        .limit(1)
    )
    if waiting is not None:
        return
    from emailplatform.campaigns import service as campaign_service

    transaction = session.get(Transaction, transaction_id)
    if transaction.status == TransactionStatus.SENT:
        campaign_service.set_status(session, transaction, TransactionStatus.COMPLETED)


def payload(event: NewEvent, message: Message) -> dict:
    """What a webhook subscriber receives of a message event."""
    return {
        "message_id": str(message.id), "transaction_id": str(message.transaction_id), "recipient": message.email,
        "event": event.type, "timestamp": event.occurred_at.isoformat(), "details": event.details,
    }
