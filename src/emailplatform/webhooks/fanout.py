"""Webhook fan-out: what other domains call when something happens (a campaign's status changes, a message is
sent, delivered, bounced, …): one delivery of the event to each destination that hears it, enqueued on the
caller's session."""

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from emailplatform.models import Transaction, TransactionKind, WebhookDelivery, utcnow
from emailplatform.webhooks.deliveries import enqueue_attempt, iso
from emailplatform.webhooks.endpoints import (
    EVENT_TYPES,
    TRANSACTION_STATUS_CHANGED,
    callback_secret,
    subscribed_endpoints,
)


def transaction_status_changed(session: Session, transaction: Transaction, summary: dict) -> None:
    """Enqueue, on the caller's session, one delivery of the transaction's new status to its callback_url and to
    every enabled endpoint of the tenant subscribed to transaction.status_changed."""
    payload = {
        "type": TRANSACTION_STATUS_CHANGED,
        "transaction_id": str(transaction.id),
        "status": str(transaction.status),
        "timestamp": iso(utcnow()),
        "summary": summary,
    } | _labels(transaction.tags, transaction.message_metadata)
    endpoints = subscribed_endpoints(session, transaction.tenant_id, TRANSACTION_STATUS_CHANGED)
    destinations: list[tuple[uuid.UUID | None, str]] = [(e.id, e.url) for e in endpoints]
    if transaction.callback_url:
        callback_secret(session, transaction.tenant_id)
        destinations.insert(0, (None, transaction.callback_url))
    _deliver(session, transaction.tenant_id, TRANSACTION_STATUS_CHANGED, payload, destinations, transaction.id)


def message_event(session: Session, tenant_id: uuid.UUID, event_type: str, payload: dict) -> None:
    """Enqueue one delivery of a message event ("sent" or "message.sent", …) to every enabled endpoint of the
    tenant subscribed to it. `payload` carries message_id, transaction_id, recipient and the event's details."""
    message_events(session, tenant_id, event_type, [payload])


def message_events(session: Session, tenant_id: uuid.UUID, event_type: str, payloads: list[dict]) -> None:
    """`message_event` for many events of one type and tenant: the subscribed endpoints are looked up once."""
    event_type = event_type if event_type.startswith("message.") else f"message.{event_type}"
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown message event {event_type!r}")
    endpoints = [(e.id, e.url) for e in subscribed_endpoints(session, tenant_id, event_type)]
    if not endpoints:
        return
    timestamp = iso(utcnow())
    labels = _labels_of(session, {p["transaction_id"] for p in payloads if p.get("transaction_id")})
    for payload in payloads:
        transaction_id = payload.get("transaction_id")
        body = {"type": event_type, "timestamp": timestamp} | payload | labels.get(str(transaction_id), {})
        _deliver(
            session, tenant_id, event_type, body, endpoints, uuid.UUID(str(transaction_id)) if transaction_id else None
        )


def _labels_of(session: Session, transaction_ids: set) -> dict[str, dict]:
    """The tags and metadata of transactional emails, by transaction id, that their events carry."""
    if not transaction_ids:
        return {}
    rows = session.execute(
        select(Transaction.id, Transaction.tags, Transaction.message_metadata)
        .where(Transaction.id.in_([uuid.UUID(str(t)) for t in transaction_ids]))
        .where(Transaction.kind == TransactionKind.EMAIL)
    ).all()
    return {str(row.id): _labels(row.tags, row.message_metadata) for row in rows}


def _labels(tags: list | None, metadata: dict | None) -> dict:
    return ({"tags": tags} if tags else {}) | ({"metadata": metadata} if metadata else {})


def _deliver(
    session: Session,
    tenant_id: uuid.UUID,
    event_type: str,
    payload: dict,
    destinations: Sequence[tuple[uuid.UUID | None, str]],
    transaction_id: uuid.UUID | None,
) -> None:
    now = utcnow()
    deliveries = [
        WebhookDelivery(
            id=uuid.uuid4(),
            tenant_id=tenant_id,
            endpoint_id=endpoint_id,
            callback=endpoint_id is None,
            transaction_id=transaction_id,
            url=url,
            event_type=event_type,
            payload=payload,
            next_attempt_at=now,
        )
        for endpoint_id, url in destinations
    ]
    session.add_all(deliveries)
    for delivery in deliveries:
        enqueue_attempt(session, delivery.id, tenant_id, now, attempts_made=0)


def has_subscribers(session: Session, tenant_id: uuid.UUID, event_type: str) -> bool:
    """Whether any enabled endpoint of the tenant hears `event_type` ("sent" or "message.sent", …)."""
    event_type = event_type if event_type.startswith("message.") else f"message.{event_type}"
    return bool(subscribed_endpoints(session, tenant_id, event_type))
