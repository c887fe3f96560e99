"""Events of a message and of a campaign, a page at a time (the UI shows them on the message and campaign pages)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from emailplatform.deps import SessionDep
from emailplatform.events import history
from emailplatform.events.schemas import EventOut
from emailplatform.models import Event
from emailplatform.openapi import error_responses
from emailplatform.pagination import Page
from emailplatform.tenants.auth import TenantDep, needs

router = APIRouter(
    prefix="/api/v1/email", tags=["events"], responses=error_responses(401, 404, 422), dependencies=[needs("events")]
)


@router.get("/messages/{message_id}/events", response_model=Page[EventOut], summary="A message's events")
def list_message_events(
    message_id: uuid.UUID, session: SessionDep, tenant_id: TenantDep, limit: int = 100, cursor: str | None = None
):
    """What happened to the message after it left (delivered, bounced, opened, clicked, …), oldest first."""
    rows, next_cursor = history.message_events(session, tenant_id, message_id, cursor=cursor, limit=limit)
    return Page(items=[_event(e, email) for e, email in rows], next_cursor=next_cursor)


@router.get("/campaigns/{transaction_id}/events", response_model=Page[EventOut], summary="A campaign's events")
def list_campaign_events(
    transaction_id: uuid.UUID,
    session: SessionDep,
    tenant_id: TenantDep,
    type: Annotated[str | None, Query(max_length=30, description="Only events of this type, e.g. bounced.")] = None,
    limit: int = 100,
    cursor: str | None = None,
):
    """Every event of the campaign's messages in the order they were recorded; `type` keeps one kind."""
    rows, next_cursor = history.campaign_events(
        session, tenant_id, transaction_id, event_type=type, cursor=cursor, limit=limit
    )
    return Page(items=[_event(e, email) for e, email in rows], next_cursor=next_cursor)


def _event(event: Event, recipient: str) -> EventOut:
    return EventOut(
        event_id=event.id,
        message_id=event.message_id,
        transaction_id=event.transaction_id,
        recipient=recipient,
        type=event.type,
        occurred_at=event.occurred_at,
        details=event.details or {},
    )
