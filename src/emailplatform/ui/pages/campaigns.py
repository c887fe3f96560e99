"""Campaigns: the list, a new one (template, CSV upload and check, sender, time), and one campaign as it sends."""

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import ValidationError

from emailplatform.analytics import service as analytics
from emailplatform.campaigns import counts as campaign_counts
from emailplatform.campaigns import pausing, recipients, splitting
from emailplatform.campaigns import queries as campaign_queries
from emailplatform.campaigns import service as campaign_service
from emailplatform.campaigns.schemas import CampaignCreate
from emailplatform.deliverability import service as deliverability
from emailplatform.deps import RuntimeDep, get_runtime
from emailplatform.domains import service as domain_service
from emailplatform.errors import AppError, Invalid
from emailplatform.models import MessageStatus, Transaction, TransactionStatus
from emailplatform.storage import service as storage_service
from emailplatform.templates import service as template_service
from emailplatform.tenants import service as tenant_service
from emailplatform.testsends import service as test_sends
from emailplatform.ui.deps import DbDep, Editor, ReadDbDep, ReplicaDbDep, Viewer
from emailplatform.ui.views import UiRoute, render

router = APIRouter(route_class=UiRoute)
PAGE_SIZE = 25
MESSAGES_PAGE = 50
SAMPLE_ROWS = 5
NAMED_BAD_ROWS = 20
WORKING = {TransactionStatus.ACCEPT, TransactionStatus.PROCESSING, TransactionStatus.READY_TO_SEND}
WAITING = {TransactionStatus.SCHEDULED, TransactionStatus.SENT}


@router.get("/ui/campaigns")
def list_campaigns(request: Request, session: ReplicaDbDep, me: Viewer, cursor: str | None = None):
    rows, next_cursor = campaign_queries.page_of_campaigns(session, me.tenant_id, cursor=cursor, limit=PAGE_SIZE)
    counts = analytics.counts_by_campaign(session, (c.id for c in rows))
    return render(request, "campaigns/list.html", campaigns=[(c, counts[c.id]) for c in rows], next_cursor=next_cursor)


@router.get("/ui/campaigns/new")
def new_campaign_page(request: Request, session: DbDep, me: Editor, template_id: uuid.UUID | None = None):
    sender = tenant_service.default_sender(session, me.tenant_id)
    sender = sender or campaign_queries.last_sender(session, me.tenant_id) or ("", "")
    values = {
        "template_id": str(template_id or ""),
        "from_email": sender[0],
        "from_name": sender[1] or "",
        "name": "",
        "file_url": "",
        "filename": "",
        "send_mode": "now",
        "send_at_local": "",
        "time_zone": "",
    }
    return _new_page(request, session, me, values, error=None)


@router.post("/ui/campaigns/upload-url")
def create_upload(session: DbDep, runtime: RuntimeDep, me: Editor, filename: Annotated[str, Form(max_length=255)]):
    """Where the browser PUTs the recipients file (with a progress bar), and the file's URL for the campaign."""
    new = storage_service.create_upload(
        session, runtime.storage, runtime.settings, me.tenant_id, "recipients", filename
    )
    return JSONResponse({"upload_url": new.upload.url, "file_url": new.file.url})


@router.post("/ui/campaigns/check")
def check_recipients(
    request: Request,
    session: ReadDbDep,
    runtime: RuntimeDep,
    me: Editor,
    template_id: Annotated[str, Form()] = "",
    file_url: Annotated[str, Form()] = "",
    column_key: Annotated[list[str], Form()] = [],
    column_value: Annotated[list[str], Form()] = [],
):
    """How the uploaded file is read, its columns matched to the template's placeholders (which the user may
    change), its counts, its first rows and its skipped rows."""
    if not template_id or not file_url:
        return render(request, "campaigns/check.html", error=None, report=None)
    version, file = None, None
    try:
        version = template_service.get_version(session, me.tenant_id, _uuid(template_id, "template_id"))
        file = storage_service.get_by_url(session, me.tenant_id, file_url, field="file")
        chosen = _chosen_columns(column_key, column_value, version.placeholders)
        report = campaign_service.inspect_recipients(
            runtime, file, version.placeholders, chosen, sample_rows=SAMPLE_ROWS, named_bad_rows=NAMED_BAD_ROWS
        )
    except AppError as exc:
        matching, header = [], []
        if version is not None and file is not None:
            header = campaign_service.recipients_header(runtime.storage, file)
            picked = dict(zip(column_key, column_value))
            matching = [(key, picked.get(key, "")) for key in recipients.needed_columns(version.placeholders)]
        return render(request, "campaigns/check.html", error=exc.message, report=None, matching=matching, header=header)
    matching = list(report.layout.columns.items())
    return render(
        request,
        "campaigns/check.html",
        error=None,
        report=report,
        placeholders=version.placeholders,
        matching=matching,
        header=report.header,
        read_as=recipients.describe(report.layout),
    )


def _chosen_columns(keys: list[str], values: list[str], placeholders: list[str]) -> dict[str, str] | None:
    """The columns the user matched by hand, for this template's placeholders (an earlier template's are left)."""
    needed = set(recipients.needed_columns(placeholders))
    return {key: value for key, value in zip(keys, values) if value and key in needed} or None


@router.post("/ui/campaigns")
def create_campaign(
    request: Request,
    session: DbDep,
    runtime: RuntimeDep,
    me: Editor,
    template_id: Annotated[str, Form()],
    file_url: Annotated[str, Form()],
    from_email: Annotated[str, Form(max_length=320)],
    idempotency_key: Annotated[str, Form(max_length=255)],
    from_name: Annotated[str, Form(max_length=200)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    filename: Annotated[str, Form(max_length=255)] = "",
    send_mode: Annotated[str, Form()] = "now",
    send_at_local: Annotated[str, Form()] = "",
    time_zone: Annotated[str, Form(max_length=100)] = "",
    column_key: Annotated[list[str], Form()] = [],
    column_value: Annotated[list[str], Form()] = [],
):
    values = {k: v for k, v in locals().items() if isinstance(v, str)}
    try:
        body = _campaign_body(values, dict(zip(column_key, column_value)))
        accepted = campaign_service.create(session, runtime, me.tenant_id, body, idempotency_key)
    except AppError as exc:
        session.rollback()
        return _new_page(request, session, me, values, error=exc)
    return RedirectResponse(f"/ui/campaigns/{accepted['transaction_id']}", status_code=303)


@dataclass(frozen=True)
class DraftForm:
    """The new-campaign page's fields that a test send and a deliverability check read."""

    template_id: str
    file_url: str
    from_email: str
    from_name: str
    columns: dict[str, str]

    def body(self) -> CampaignCreate:
        values = asdict(self) | {"name": "", "send_mode": "now"}
        return _campaign_body(values, self.columns)


def draft_form(
    template_id: Annotated[str, Form()] = "",
    file_url: Annotated[str, Form()] = "",
    from_email: Annotated[str, Form(max_length=320)] = "",
    from_name: Annotated[str, Form(max_length=200)] = "",
    column_key: Annotated[list[str], Form()] = [],
    column_value: Annotated[list[str], Form()] = [],
) -> DraftForm:
    return DraftForm(template_id, file_url, from_email, from_name, dict(zip(column_key, column_value)))


DraftFormDep = Annotated[DraftForm, Depends(draft_form)]


@router.post("/ui/campaigns/test")
def send_test(
    request: Request,
    session: ReadDbDep,
    runtime: RuntimeDep,
    me: Editor,
    draft: DraftFormDep,
    test_to: Annotated[str, Form(max_length=4000)] = "",
):
    """The campaign on the page, sent only to the seed addresses as a test, with the file's first rows."""
    try:
        seeds = test_sends.parse_seeds(test_to)
        results = test_sends.send_new_campaign_test(session, runtime, me.tenant_id, draft.body(), to=seeds)
    except AppError as exc:
        return render(request, "partials/test_result.html", error=exc, results=[])
    captured = runtime.settings.transport == "capture"
    return render(request, "partials/test_result.html", error=None, results=results, captured=captured)


@router.post("/ui/campaigns/deliverability")
def check_deliverability(request: Request, session: ReadDbDep, runtime: RuntimeDep, me: Editor, draft: DraftFormDep):
    """The deliverability report of the campaign on the page, as its first recipient would get it."""
    try:
        report = deliverability.check_new_campaign(session, runtime, me.tenant_id, draft.body())
    except AppError as exc:
        return render(request, "partials/deliverability.html", error=exc, report=None)
    return render(request, "partials/deliverability.html", error=None, report=report)


@router.get("/ui/campaigns/{transaction_id}")
def campaign_page(request: Request, session: DbDep, me: Viewer, transaction_id: uuid.UUID):
    transaction = campaign_service.get(session, me.tenant_id, transaction_id)
    assert transaction.template_id is not None, "a campaign has a template"
    template = template_service.get(session, me.tenant_id, transaction.template_id)
    return render(
        request,
        "campaigns/show.html",
        campaign=transaction,
        template=template,
        reschedulable=transaction.send_at is not None and transaction.status in campaign_service.RESCHEDULABLE,
        **_details(session, transaction),
        **_progress(session, transaction),
        **_messages(session, transaction, q="", status="", cursor=None),
    )


# The progress polls the replica (when there is one); the details and messages, which a change made on this page
# asks for again at once, read the primary, as the page does, which a form's redirect lands on.
@router.get("/ui/campaigns/{transaction_id}/progress")
def campaign_progress(request: Request, session: ReplicaDbDep, me: Viewer, transaction_id: uuid.UUID, seen: str = ""):
    """The live part of the campaign page; when the status moved on since `seen`, the page's other parts
    (messages, bad rows, batches) are told to refresh too."""
    transaction = campaign_service.get(session, me.tenant_id, transaction_id)
    response = render(request, "campaigns/progress.html", campaign=transaction, **_progress(session, transaction))
    if seen and seen != transaction.status:
        response.headers["HX-Trigger"] = "campaign-changed"
    return response


@router.get("/ui/campaigns/{transaction_id}/details")
def campaign_details(request: Request, session: DbDep, me: Viewer, transaction_id: uuid.UUID):
    transaction = campaign_service.get(session, me.tenant_id, transaction_id)
    return render(request, "campaigns/details.html", campaign=transaction, **_details(session, transaction))


@router.get("/ui/campaigns/{transaction_id}/messages")
def campaign_messages(
    request: Request,
    session: DbDep,
    me: Viewer,
    transaction_id: uuid.UUID,
    q: str = "",
    status: str = "",
    cursor: str | None = None,
):
    transaction = campaign_service.get(session, me.tenant_id, transaction_id)
    return render(
        request, "campaigns/messages.html", campaign=transaction, **_messages(session, transaction, q, status, cursor)
    )


@router.post("/ui/campaigns/{transaction_id}/cancel")
def cancel_campaign(session: DbDep, me: Editor, transaction_id: uuid.UUID):
    campaign_service.cancel(session, me.tenant_id, transaction_id)
    return RedirectResponse(f"/ui/campaigns/{transaction_id}", status_code=303)


@router.post("/ui/campaigns/{transaction_id}/pause")
def pause_campaign(session: DbDep, me: Editor, transaction_id: uuid.UUID):
    pausing.pause(session, me.tenant_id, transaction_id)
    return RedirectResponse(f"/ui/campaigns/{transaction_id}", status_code=303)


@router.post("/ui/campaigns/{transaction_id}/resume")
def resume_campaign(session: DbDep, me: Editor, transaction_id: uuid.UUID):
    pausing.resume(session, me.tenant_id, transaction_id)
    return RedirectResponse(f"/ui/campaigns/{transaction_id}", status_code=303)


@router.post("/ui/campaigns/{transaction_id}/reschedule")
def reschedule_campaign(
    session: DbDep,
    me: Editor,
    transaction_id: uuid.UUID,
    send_at_local: Annotated[str, Form(max_length=40)] = "",
    time_zone: Annotated[str, Form(max_length=100)] = "",
):
    """A scheduled campaign's new send time, in the user's time zone."""
    campaign_service.reschedule(session, me.tenant_id, transaction_id, _local_time(send_at_local, time_zone))
    return RedirectResponse(f"/ui/campaigns/{transaction_id}", status_code=303)


@router.get("/ui/messages/{message_id}")
def message_page(request: Request, session: DbDep, runtime: RuntimeDep, me: Viewer, message_id: uuid.UUID):
    message = campaign_queries.get_message(session, me.tenant_id, message_id)
    transaction = campaign_service.get(session, me.tenant_id, message.transaction_id)
    assert transaction.template_id is not None, "a campaign has a template"
    data = splitting.message_data(runtime.storage, session, message)
    rendered = None
    render_error: str | None = "the recipient's row data is no longer in storage"
    if data is not None:
        try:
            rendered, render_error = (
                template_service.preview(
                    session, runtime.settings, me.tenant_id, transaction.template_id, data, transaction.template_version
                ),
                None,
            )
        except AppError as exc:
            render_error = exc.message
    return render(
        request,
        "campaigns/message.html",
        message=message,
        campaign=transaction,
        data=data,
        rendered=rendered,
        render_error=render_error,
        history=campaign_queries.message_history(session, message),
        in_outbox=runtime.settings.transport == "capture" and message.sent_at is not None,
    )


def _campaign_body(values: dict[str, str], columns: dict[str, str]) -> CampaignCreate:
    if not values["file_url"]:
        raise Invalid("upload the recipients file first", field="file")
    schedule = None
    if values["send_mode"] == "later":
        schedule = {"send_at": _local_time(values["send_at_local"], values["time_zone"])}
    try:
        return CampaignCreate.model_validate(
            {
                "template_id": _uuid(values["template_id"], "template_id"),
                "csv_file_url": values["file_url"],
                "from": {"email": values["from_email"], "name": values["from_name"] or None},
                "name": values["name"] or None,
                "schedule": schedule,
                "columns": {key: value for key, value in columns.items() if value} or None,
            }
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise Invalid(f"{field}: {first['msg']}", field=field) from None


def _local_time(local: str, zone: str) -> datetime:
    """A date and time as the user's browser gave it, in the user's time zone."""
    try:
        tz = ZoneInfo(zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"{zone!r} is not a time zone this server knows", field="time_zone") from None
    try:
        return datetime.fromisoformat(local).replace(tzinfo=tz)
    except ValueError:
        raise Invalid("choose the date and time to send at", field="send_at_local") from None


def _uuid(value: str, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise Invalid("choose one from the list", field=field) from None


def _new_page(request: Request, session, me, values: dict, error: AppError | None):
    templates, _ = template_service.list_templates(session, me.tenant_id, cursor=None, limit=200)
    return render(
        request,
        "campaigns/new.html",
        status_code=error.status_code if error else 200,
        templates=[t for t in templates if t.latest_version],
        values=values,
        error=error,
        idempotency_key=values.get("idempotency_key") or str(uuid.uuid4()),
        unverified_allowed=domain_service.unverified_domains_allowed(get_runtime(request).settings),
    )


def _details(session, transaction: Transaction) -> dict:
    batches, more_batches = campaign_queries.page_of_batches(session, transaction, cursor=None, limit=100)
    bad_rows, more_bad = campaign_queries.page_of_row_errors(session, transaction, cursor=None, limit=100)
    layout = transaction.recipients_layout
    read_as = recipients.describe(recipients.Layout.from_dict(layout)) if layout else None
    return {
        "batches": batches,
        "more_batches": more_batches,
        "bad_rows": bad_rows,
        "more_bad": more_bad,
        "read_as": read_as,
    }


def _progress(session, transaction: Transaction) -> dict:
    summary = campaign_counts.summary(session, transaction)
    counts = analytics.Counts()
    for status, count in summary["by_status"].items():
        counts.add(status, count)
    poll = "1500ms" if transaction.status in WORKING else "15s" if transaction.status in WAITING else None
    return {"summary": summary, "counts": counts, "poll": poll}


def _messages(session, transaction: Transaction, q: str, status: str, cursor: str | None) -> dict:
    rows, next_cursor = campaign_queries.search_messages(
        session, transaction, q=q, status=status, cursor=cursor, limit=MESSAGES_PAGE
    )
    return {"messages": rows, "next_cursor": next_cursor, "q": q, "status": status, "statuses": list(MessageStatus)}
