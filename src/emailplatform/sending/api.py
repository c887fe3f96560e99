"""The outbox: what the capture transport kept, newest first, each message readable and downloadable."""

import uuid

from fastapi import APIRouter, Response

from emailplatform.deps import RuntimeDep, SessionDep
from emailplatform.errors import NotFound
from emailplatform.openapi import error_responses
from emailplatform.pagination import Page
from emailplatform.runtime import Runtime
from emailplatform.sending import outbox
from emailplatform.sending.schemas import OutboxHeader, OutboxMessage, OutboxMessageDetail
from emailplatform.sending.transports import capture
from emailplatform.tenants.auth import TenantDep, needs

router = APIRouter(
    prefix="/api/v1/outbox", tags=["outbox"], responses=error_responses(401, 422), dependencies=[needs("campaigns")]
)


@router.get("", summary="List captured messages", response_model=Page[OutboxMessage])
def list_outbox(
    session: SessionDep, runtime: RuntimeDep, tenant_id: TenantDep, limit: int = 50, cursor: str | None = None
):
    """What the `capture` transport kept instead of sending, newest first: the embedded deployment's outbox."""
    summaries, next_cursor = outbox.list_captured(session, runtime.storage, tenant_id, limit=limit, cursor=cursor)
    return Page(items=[OutboxMessage.model_validate(s) for s in summaries], next_cursor=next_cursor)


# declared before /{message_id}, which would otherwise take "….eml" as an id and refuse it
@router.get(
    "/{message_id}.eml",
    response_class=Response,
    responses=error_responses(404)
    | {
        200: {
            "description": "The message as it was captured: an .eml file (RFC 5322).",
            "content": {"message/rfc822": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
    summary="Download a captured message",
)
def download_outbox_message(message_id: uuid.UUID, runtime: RuntimeDep, tenant_id: TenantDep):
    """The captured message as it would have been sent: an .eml file."""
    raw = _captured(runtime, tenant_id, message_id)
    disposition = f'attachment; filename="{message_id}.eml"'
    return Response(raw, media_type="message/rfc822", headers={"Content-Disposition": disposition})


@router.get(
    "/{message_id}",
    response_model=OutboxMessageDetail,
    responses=error_responses(404),
    summary="Get a captured message",
)
def get_outbox_message(message_id: uuid.UUID, runtime: RuntimeDep, tenant_id: TenantDep):
    """A captured message's headers (decoded) and its text and HTML bodies."""
    message = capture.parse_captured(_captured(runtime, tenant_id, message_id))
    return OutboxMessageDetail(
        message_id=message_id,
        headers=[OutboxHeader(name=name, value=str(value)) for name, value in message.items()],
        text=outbox.body(message, "plain"),
        html=outbox.body(message, "html"),
    )


def _captured(runtime: Runtime, tenant_id: uuid.UUID, message_id: uuid.UUID) -> bytes:
    raw = capture.read_captured(runtime.storage, tenant_id, message_id)
    if raw is None:
        raise NotFound("no captured message with that id in this tenant's outbox", field="message_id")
    return raw
