"""Events: what happened to a message after it left. Append-only rows, from every source (SES, bounces,
tracking, SMTP replies), through this one door. A message's status only moves forward, duplicates and
late arrivals are harmless, and each event feeds suppression, webhooks and the campaign's completion."""

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Row, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from emailplatform.campaigns import status as campaign_status
from emailplatform.models import (
    Event,
    Message,
    MessageStatus,
    utcnow,
)
from emailplatform.suppressions import service as suppression
from emailplatform.webhooks import endpoints as webhook_endpoints
from emailplatform.webhooks import fanout as webhook_fanout

# The status an event moves its message to (campaigns/status.py keeps the order: a message never moves back).
EVENT_STATUS = {
    "delivered": MessageStatus.DELIVERED,
    "bounced": MessageStatus.BOUNCED,
    "opened": MessageStatus.OPENED,
    "clicked": MessageStatus.CLICKED,
    "complained": MessageStatus.COMPLAINED,
    "rejected": MessageStatus.FAILED,
}
SUPPRESSING = {"complained": "complaint", "unsubscribed": "unsubscribe"}
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
    by_tenant_and_type: dict[tuple[uuid.UUID, str], list[dict]] = defaultdict(list)
    for event in new:
        webhook_type = WEBHOOK_TYPES.get(event.type, event.type)
        if webhook_type in webhook_endpoints.MESSAGE_EVENTS:
            message = messages[event.message_id]
            by_tenant_and_type[message.tenant_id, webhook_type].append(payload(event, message))
    for (tenant_id, webhook_type), payloads in by_tenant_and_type.items():
        webhook_fanout.message_events(session, tenant_id, webhook_type, payloads)
    if moved:  # their batches and campaigns complete once every message has an outcome
        campaign_status.complete_finished(session, {messages[m].batch_id for m in moved})
    return new


def _messages(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, Row]:
    if not ids:
        return {}
    columns = (Message.id, Message.tenant_id, Message.transaction_id, Message.batch_id, Message.email)
    return {m.id: m for m in session.execute(select(*columns).where(Message.id.in_(ids)))}


def _insert_new(session: Session, events: list[NewEvent], messages: dict[uuid.UUID, Row]) -> list[NewEvent]:
    """Events without a dedup key in one executemany; those with one each on its own, dropped if seen before."""
    plain = [_row(e, messages[e.message_id]) for e in events if e.dedup_key is None]
    if plain:
        session.execute(insert(Event), plain)
    dialect_insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    new = []
    for event in events:
        if event.dedup_key is not None:
            inserted = session.execute(
                dialect_insert(Event)
                .values(**_row(event, messages[event.message_id]))
                .on_conflict_do_nothing(index_elements=["dedup_key", "message_id"])
                .returning(Event.id)
            ).first()
            if not inserted:
                continue
        new.append(event)
    return new


def _row(event: NewEvent, message: Row) -> dict:
    return {
        "tenant_id": message.tenant_id,
        "transaction_id": message.transaction_id,
        "message_id": message.id,
        "type": event.type,
        "occurred_at": event.occurred_at,
        "details": event.details,
        "dedup_key": event.dedup_key,
    }


def _advance_statuses(session: Session, events: list[NewEvent]) -> set[uuid.UUID]:
    """Move each message to the furthest status its new events reach, never back; the ids that moved."""
    target: dict[uuid.UUID, MessageStatus] = {}
    for event in events:
        status = EVENT_STATUS.get(event.type)
        reached = target.get(event.message_id)
        if status and (reached is None or campaign_status.RANK[status] > campaign_status.RANK[reached]):
            target[event.message_id] = status
    return campaign_status.advance(session, target)


def _suppress(session: Session, events: list[NewEvent], messages: dict[uuid.UUID, Row]) -> None:
    for event in events:
        reason = "hard_bounce" if event.hard_bounce else SUPPRESSING.get(event.type)
        if reason:
            message = messages[event.message_id]
            detail = event.details.get("reason") or event.details.get("diagnostic")
            suppression.add(session, message.tenant_id, message.email, reason, details=detail, message_id=message.id)


def payload(event: NewEvent, message: Message | Row) -> dict:
    """What a webhook subscriber receives of a message event."""
    return {
        "message_id": str(message.id),
        "transaction_id": str(message.transaction_id),
        "recipient": message.email,
        "event": event.type,
        "timestamp": event.occurred_at.isoformat(),
        "details": event.details,
    }
