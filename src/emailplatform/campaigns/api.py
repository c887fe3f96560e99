import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Row

from emailplatform.campaigns import counts, pausing, queries, service, splitting
from emailplatform.campaigns.schemas import (
    BatchOut,
    Campaign,
    CampaignAccepted,
    CampaignCreate,
    MessageDetail,
    MessageOut,
    RecipientsCheck,
    RecipientsCheckRequest,
    Reschedule,
    RowErrorOut,
    Sender,
)
from emailplatform.deps import RuntimeDep, SessionDep, read
from emailplatform.models import Message, MessageStatus, Transaction, TransactionStatus
from emailplatform.openapi import error_responses
from emailplatform.pagination import Page
from emailplatform.tenants.auth import TenantDep, needs

router = APIRouter(
    prefix="/api/v1/email", tags=["campaigns"], responses=error_responses(401, 422), dependencies=[needs("campaigns")]
)


@router.post(
    "/campaigns",
    response_model=CampaignAccepted,
    status_code=202,
    responses=error_responses(404, 409, descriptions={409: "The template is archived: restore it first."}),
    summary="Create a campaign",
)
def create_campaign(
    body: CampaignCreate,
    session: SessionDep,
    runtime: RuntimeDep,
    tenant_id: TenantDep,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
):
    """Send a template to every row of an uploaded recipients file, now or at `schedule.send_at`. The campaign is
    accepted at once (202) and split in the background; follow it with Get a campaign. An `Idempotency-Key` header
    makes a retried request answer the first one's campaign instead of creating another."""
    return JSONResponse(service.create(session, runtime, tenant_id, body, idempotency_key), status_code=202)


@router.post(
    "/campaigns/check",
    summary="Check a recipients file",
    response_model=RecipientsCheck,
    dependencies=[needs("campaigns", "read")],
    responses=error_responses(404, descriptions={404: "No such template (or version) in this tenant."}),
)
def check_recipients(body: RecipientsCheckRequest, session: SessionDep, runtime: RuntimeDep, tenant_id: TenantDep):
    """What a campaign would make of an uploaded file, before it is created: how it is read, its counts, its first
    good rows and its first skipped rows; the same 4xx a campaign with it would get."""
    report = service.check_recipients(session, runtime, tenant_id, body)
    return RecipientsCheck(
        layout=report.layout.as_dict(),
        header=report.header,
        total_messages=report.good,
        invalid_rows=report.invalid,
        duplicate_rows=report.duplicates,
        first_rows=[dict(zip(report.header, row.values)) for row in report.first],
        bad_rows=[RowErrorOut(row_number=r.number, email=r.email, reason=r.reason) for r in report.bad],
    )


@router.get("/campaigns", summary="List campaigns", response_model=Page[Campaign], response_model_by_alias=True)
def list_campaigns(
    session: SessionDep,
    tenant_id: TenantDep,
    status: TransactionStatus | None = None,
    limit: int = 50,
    cursor: str | None = None,
):
    """The tenant's campaigns, newest first, optionally of one `status`; without their summaries."""
    rows, next_cursor = queries.page_of_campaigns(session, tenant_id, status=status, cursor=cursor, limit=limit)
    urls = queries.file_urls(session, rows)
    return Page(
        items=[_campaign(session, t, with_summary=False, file_url=urls.get(t.file_id)) for t in rows],
        next_cursor=next_cursor,
    )


@router.get(
    "/campaigns/{transaction_id}",
    response_model=Campaign,
    response_model_by_alias=True,
    responses=error_responses(404),
    summary="Get a campaign",
)
async def get_campaign(transaction_id: uuid.UUID, request: Request, tenant_id: TenantDep):
    """A campaign with its status and its summary: how many messages are pending, sent, delivered, bounced, opened…"""
    return await read(request, _campaign_status, tenant_id, transaction_id)


def _campaign_status(session, tenant_id: uuid.UUID, transaction_id: uuid.UUID) -> Campaign:
    transaction, file_url, by_status = queries.campaign_with_counts(session, tenant_id, transaction_id)
    return _campaign(session, transaction, file_url=file_url, summary=counts.summary_of(transaction, by_status))


@router.post(
    "/campaigns/{transaction_id}/cancel",
    response_model=Campaign,
    response_model_by_alias=True,
    responses=error_responses(404, 409),
    summary="Cancel a campaign",
)
def cancel_campaign(transaction_id: uuid.UUID, session: SessionDep, tenant_id: TenantDep):
    """Stop a campaign that has not finished sending: its messages not yet sent are cancelled. A campaign that is sent,
    completed, failed or cancelled already answers 409."""
    return _campaign(session, service.cancel(session, tenant_id, transaction_id))


@router.post(
    "/campaigns/{transaction_id}/pause",
    response_model=Campaign,
    response_model_by_alias=True,
    responses=error_responses(404, 409, descriptions={409: "The campaign is not sending (READY_TO_SEND)."}),
    summary="Pause a sending campaign",
)
def pause_campaign(transaction_id: uuid.UUID, session: SessionDep, tenant_id: TenantDep):
    """A READY_TO_SEND campaign becomes PAUSED: messages already handed to the transport go, the rest wait until it
    is resumed. A campaign also pauses by itself when its bounce or complaint rate passes the threshold settings;
    `status_reason` says why."""
    return _campaign(session, pausing.pause(session, tenant_id, transaction_id))


@router.post(
    "/campaigns/{transaction_id}/resume",
    response_model=Campaign,
    response_model_by_alias=True,
    responses=error_responses(404, 409, descriptions={409: "The campaign is not paused."}),
    summary="Resume a paused campaign",
)
def resume_campaign(transaction_id: uuid.UUID, session: SessionDep, tenant_id: TenantDep):
    """A PAUSED campaign is READY_TO_SEND again and sends the messages still waiting. Its bounce and complaint
    rates count afresh from here, so it pauses again only if the messages sent from now on pass the thresholds."""
    return _campaign(session, pausing.resume(session, tenant_id, transaction_id))


@router.get(
    "/campaigns/{transaction_id}/batches",
    response_model=Page[BatchOut],
    responses=error_responses(404),
    summary="List a campaign's batches",
)
def list_batches(
    transaction_id: uuid.UUID, session: SessionDep, tenant_id: TenantDep, limit: int = 100, cursor: str | None = None
):
    """The chunks the recipients file was split into, in order, with their status."""
    transaction = service.get(session, tenant_id, transaction_id)
    rows, next_cursor = queries.page_of_batches(session, transaction, cursor=cursor, limit=limit)
    return Page(items=[BatchOut.model_validate(b) for b in rows], next_cursor=next_cursor)


@router.get(
    "/campaigns/{transaction_id}/messages",
    response_model=Page[MessageOut],
    responses=error_responses(404),
    summary="List a campaign's messages",
)
async def list_messages(
    transaction_id: uuid.UUID,
    request: Request,
    tenant_id: TenantDep,
    status: MessageStatus | None = None,
    q: Annotated[str, Query(max_length=320, description="Addresses that start with this.")] = "",
    limit: int = 100,
    cursor: str | None = None,
):
    """In the file's order; `status` and `q` (the start of the address) search them, as the UI does."""
    page = await read(request, _messages_page, tenant_id, transaction_id, status, q, limit, cursor)
    # the page is already validated: as a Response it is not validated a second time against the response model
    return Response(page.model_dump_json(by_alias=True), media_type="application/json")


def _messages_page(
    session, tenant_id: uuid.UUID, transaction_id: uuid.UUID, status: str | None, q: str, limit: int, cursor: str | None
) -> Page[MessageOut]:
    transaction = service.get(session, tenant_id, transaction_id)
    rows, next_cursor = queries.search_messages(session, transaction, q=q, status=status, cursor=cursor, limit=limit)
    return Page(items=[_listed_message(row, transaction) for row in rows], next_cursor=next_cursor)


@router.get(
    "/campaigns/{transaction_id}/errors",
    response_model=Page[RowErrorOut],
    responses=error_responses(404),
    summary="List a campaign's rejected rows",
)
def list_row_errors(
    transaction_id: uuid.UUID, session: SessionDep, tenant_id: TenantDep, limit: int = 100, cursor: str | None = None
):
    """The rows of the recipients file that were not sent, with the reason: a bad address, a duplicate, a missing
    column."""
    transaction = service.get(session, tenant_id, transaction_id)
    rows, next_cursor = queries.page_of_row_errors(session, transaction, cursor=cursor, limit=limit)
    return Page(items=[RowErrorOut.model_validate(e) for e in rows], next_cursor=next_cursor)


@router.get(
    "/messages/{message_id}",
    response_model=MessageDetail,
    responses=error_responses(404),
    summary="Get a message",
)
def get_message(message_id: uuid.UUID, session: SessionDep, runtime: RuntimeDep, tenant_id: TenantDep):
    """One recipient's message: its status, the data of its row, and its history of events (sent,
    delivered, opened…)."""
    message = queries.get_message(session, tenant_id, message_id)
    transaction = queries.transaction_of(session, message)
    return MessageDetail(
        **_message(message, transaction).model_dump(),
        data=splitting.message_data(runtime.storage, session, message),
        history=queries.message_history(session, message),
    )


@router.post(
    "/campaigns/{transaction_id}/reschedule",
    response_model=Campaign,
    response_model_by_alias=True,
    summary="Move a scheduled campaign's send time",
    responses=error_responses(
        404, 409, descriptions={409: "Its sending has started or ended, or it was sent right away."}
    ),
)
def reschedule_campaign(transaction_id: uuid.UUID, body: Reschedule, session: SessionDep, tenant_id: TenantDep):
    """A campaign created with `schedule` goes at the new `send_at` instead, while it is ACCEPT, PROCESSING or
    SCHEDULED; once it is READY_TO_SEND (sending has started) or later, 409. A `send_at` in the past is 422. To
    stop it instead, cancel it."""
    return _campaign(session, service.reschedule(session, tenant_id, transaction_id, body.send_at))


def _message(message: Message, transaction: Transaction) -> MessageOut:
    return MessageOut.model_validate(message).model_copy(update={"scheduled_at": transaction.send_at})


def _listed_message(row: Row, transaction: Transaction) -> MessageOut:
    """A message of a list (a row of queries.LISTED_MESSAGE_COLUMNS)."""
    return MessageOut.model_validate(
        {**row._mapping, "transaction_id": transaction.id, "scheduled_at": transaction.send_at}
    )


def _campaign(
    session,
    transaction: Transaction,
    with_summary: bool = True,
    file_url: str | None = None,
    summary: dict | None = None,
) -> Campaign:
    """`file_url` and `summary`: the campaign's file's URL and its summary, when the caller read them already."""
    if file_url is None and transaction.file_id is not None:
        file_url = queries.file_urls(session, [transaction]).get(transaction.file_id)
    if summary is None and with_summary:
        summary = counts.summary(session, transaction)
    return Campaign(
        transaction_id=transaction.id,
        name=transaction.name,
        status=transaction.status,
        status_reason=transaction.status_reason,
        template_id=transaction.template_id,
        template_version=transaction.template_version,
        csv_file_url=file_url,
        sender=Sender(email=transaction.from_email, name=transaction.from_name),
        reply_to=transaction.reply_to,
        callback_url=transaction.callback_url,
        send_at=transaction.send_at,
        batch_size=transaction.batch_size,
        tracking=transaction.tracking,
        total_messages=transaction.total_messages,
        invalid_rows=transaction.invalid_rows,
        duplicate_rows=transaction.duplicate_rows,
        recipients_layout=transaction.recipients_layout,
        created_at=transaction.created_at,
        updated_at=transaction.updated_at,
        processed_at=transaction.processed_at,
        sent_at=transaction.sent_at,
        completed_at=transaction.completed_at,
        cancelled_at=transaction.cancelled_at,
        summary=summary,
    )
