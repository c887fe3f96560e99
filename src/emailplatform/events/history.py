"""Reading events back: a message's events in the order they happened, a campaign's in the order they arrived,
a page at a time, each with its recipient's address (read for the whole page at once)."""

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from emailplatform.campaigns import queries as campaign_queries
from emailplatform.campaigns import service as campaign_service
from emailplatform.errors import Invalid
from emailplatform.events.service import EVENT_TYPES
from emailplatform.models import Event, Message
from emailplatform.pagination import paginate


def message_events(
    session: Session, tenant_id: uuid.UUID, message_id: uuid.UUID, *, cursor: str | None, limit: int
) -> tuple[list[tuple[Event, str]], str | None]:
    """A page of the tenant's message's events, oldest first, each with the address; NotFound for another's."""
    message = campaign_queries.get_message(session, tenant_id, message_id)
    stmt = select(Event).where(Event.message_id == message.id, Event.tenant_id == tenant_id)
    rows, next_cursor = paginate(session, stmt, (Event.occurred_at, Event.id), cursor=cursor, limit=limit)
    return [(event, message.email) for event in rows], next_cursor


def campaign_events(
    session: Session,
    tenant_id: uuid.UUID,
    transaction_id: uuid.UUID,
    *,
    event_type: str | None = None,
    cursor: str | None,
    limit: int,
) -> tuple[list[tuple[Event, str]], str | None]:
    """A page of the tenant's campaign's events as they were recorded (of one type), each with its recipient."""
    transaction = campaign_service.get(session, tenant_id, transaction_id)
    stmt = select(Event).where(Event.transaction_id == transaction.id, Event.tenant_id == tenant_id)
    if event_type:
        if event_type not in EVENT_TYPES:
            raise Invalid(f"the type must be one of: {', '.join(sorted(EVENT_TYPES))}", field="type")
        stmt = stmt.where(Event.type == event_type)
    rows, next_cursor = paginate(session, stmt, (Event.id,), cursor=cursor, limit=limit)
    return _with_recipients(session, rows), next_cursor


def _with_recipients(session: Session, events: list[Event]) -> list[tuple[Event, str]]:
    ids = {event.message_id for event in events}
    rows = session.execute(select(Message.id, Message.email).where(Message.id.in_(ids))).all() if ids else []
    emails = {message_id: email for message_id, email in rows}
    return [(event, emails.get(event.message_id, "")) for event in events]
