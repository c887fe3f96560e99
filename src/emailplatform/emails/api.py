import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse

from emailplatform.campaigns.schemas import Sender
from emailplatform.deps import RuntimeDep, SessionDep
from emailplatform.emails import service
from emailplatform.emails.schemas import Email, EmailsAccepted, EmailsCreate, Recipient
from emailplatform.models import Message, Transaction, TransactionStatus
from emailplatform.openapi import error_responses
from emailplatform.pagination import Page
from emailplatform.tenants.auth import TenantDep, needs

router = APIRouter(
    prefix="/api/v1/emails", tags=["emails"], responses=error_responses(401, 403, 422), dependencies=[needs("emails")]
)


@router.post(
    "",
    response_model=EmailsAccepted,
    status_code=202,
    summary="Send an email",
    responses=error_responses(
        404,
        409,
        descriptions={
            404: "No such template (template_id).",
            409: "The template is archived: restore it first.",
        },
    ),
)
def send_emails(
    body: EmailsCreate,
    session: SessionDep,
    runtime: RuntimeDep,
    tenant_id: TenantDep,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
):
    """Send one email, or `{"emails": [...]}` (up to 500), now or at `send_at`: its own `subject`, `html` and/or
    `text`, or a `template_id` with `data`. Each recipient of `to`, `cc` and `bcc` gets their own copy through the
    campaigns' pipeline: suppressed addresses are not sent to, links and opens are tracked unless `tracking` is
    false, the sender's verified domain signs it. Accepted at once (202), one id an email, in order; a bad email
    refuses the whole request (422 naming its field). An `Idempotency-Key` header makes a retry answer the first
    request's ids instead of sending again."""
    return JSONResponse(service.send(session, runtime, tenant_id, body, idempotency_key), status_code=202)


@router.get("", response_model=Page[Email], response_model_by_alias=True, summary="List emails")
def list_emails(
    session: SessionDep,
    tenant_id: TenantDep,
    tag: Annotated[str | None, Query(max_length=64, description="Emails with this tag.")] = None,
    metadata: Annotated[list[str], Query(description="`key:value`: emails whose metadata has it (repeat: all).")] = [],
    status: TransactionStatus | None = None,
    since: Annotated[datetime | None, Query(description="Emails accepted at or after this time.")] = None,
    limit: int = 50,
    cursor: str | None = None,
):
    """The tenant's transactional emails, newest first, each with its recipients' statuses (not their history)."""
    rows, next_cursor = service.page_of_emails(
        session, tenant_id, tag=tag, metadata=metadata, status=status, sent_after=since, cursor=cursor, limit=limit
    )
    recipients = service.recipients_of(session, [t.id for t in rows])
    return Page(items=[_email(t, recipients[t.id]) for t in rows], next_cursor=next_cursor)


@router.get(
    "/{email_id}",
    response_model=Email,
    response_model_by_alias=True,
    responses=error_responses(404),
    summary="Get an email",
)
def get_email(email_id: uuid.UUID, session: SessionDep, tenant_id: TenantDep):
    """An email's status, and each recipient's status and history (sent, delivered, opened, bounced…)."""
    transaction = service.get(session, tenant_id, email_id)
    messages = service.recipients_of(session, [transaction.id])[transaction.id]
    return _email(transaction, messages, {m.id: service.history(session, m) for m in messages})


def _email(transaction: Transaction, messages: list[Message], histories: dict | None = None) -> Email:
    return Email(
        id=transaction.id,
        status=transaction.status,
        subject=transaction.name,
        sender=Sender(email=transaction.from_email, name=transaction.from_name),
        reply_to=transaction.reply_to,
        template_id=transaction.template_id,
        template_version=transaction.template_version,
        tags=transaction.tags or [],
        metadata=transaction.message_metadata or {},
        tracking=transaction.tracking,
        send_at=transaction.send_at,
        created_at=transaction.created_at,
        sent_at=transaction.sent_at,
        recipients=[
            Recipient(
                message_id=m.id,
                email=m.email,
                status=m.status,
                attempts=m.attempts,
                last_error=m.last_error,
                sent_at=m.sent_at,
                history=histories.get(m.id) if histories else None,
            )
            for m in messages
        ],
    )
