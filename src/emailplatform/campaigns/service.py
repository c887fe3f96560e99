"""Campaigns (the design documents' transactions): accept, split into batches and messages, track, cancel."""

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from emailplatform import idempotency
from emailplatform.campaigns import recipients, status
from emailplatform.campaigns.schemas import CampaignCreate
from emailplatform.db import get_for_tenant, rowcount
from emailplatform.domains import service as domain_service
from emailplatform.errors import AppError, Conflict, Invalid, NotFound
from emailplatform.jobs import queue
from emailplatform.models import (
    File,
    Transaction,
    TransactionKind,
    TransactionStatus,
    utcnow,
)
from emailplatform.runtime import Runtime, Storage
from emailplatform.storage import service as file_service
from emailplatform.templates import service as template_service
from emailplatform.tenants import service as tenant_service
from emailplatform.webhooks import endpoints as webhook_endpoints

RESCHEDULABLE = {TransactionStatus.ACCEPT, TransactionStatus.PROCESSING, TransactionStatus.SCHEDULED}
RELEASE_JOB = "release_campaign"


def create(
    session: Session, runtime: Runtime, tenant_id: uuid.UUID, body: CampaignCreate, idempotency_key: str | None
) -> dict:
    """Accept a campaign and enqueue its split; with an Idempotency-Key, a retry gets the first answer."""
    if body.callback_url:
        webhook_endpoints.check_url(body.callback_url, runtime.settings)
    return idempotency.answer_once(
        session,
        tenant_id,
        idempotency_key,
        body.model_dump_json(by_alias=True),
        lambda: _accept(session, runtime, tenant_id, body),
    )


def _accept(session: Session, runtime: Runtime, tenant_id: uuid.UUID, body: CampaignCreate) -> dict:
    version = template_service.get_version(
        session, tenant_id, body.template_id, body.template_version, for_campaign=True
    )
    file = file_service.get_by_url(session, tenant_id, body.csv_file_url, field="csv_file_url")
    file_service.uploaded_size(runtime.storage, runtime.settings, file, field="csv_file_url")
    with runtime.storage.open(file.storage_key) as stream:
        layout = recipients.read_layout(stream, version.placeholders, body.columns, field="csv_file_url")
    if body.schedule and body.schedule.send_at <= utcnow():
        raise Invalid("send_at is in the past; leave out schedule to send now", field="schedule.send_at")
    from_email, from_name = _sender(session, tenant_id, body)
    warning = domain_service.check_sender(session, tenant_id, from_email, runtime.settings)
    transaction = Transaction(
        tenant_id=tenant_id,
        name=body.name,
        template_id=version.template_id,
        template_version=version.version,
        file_id=file.id,
        from_email=from_email,
        from_name=from_name,
        reply_to=str(body.reply_to) if body.reply_to else None,
        callback_url=body.callback_url,
        send_at=body.schedule.send_at if body.schedule else None,
        batch_size=body.batch_size or runtime.settings.default_batch_size,
        tracking=body.tracking,
        recipients_layout=layout.as_dict(),
    )
    session.add(transaction)
    session.flush()
    queue.enqueue(session, "split_file", {"transaction_id": str(transaction.id)}, tenant_id=tenant_id)
    status.set_status(session, transaction, TransactionStatus.ACCEPT)
    return {
        "transaction_id": str(transaction.id),
        "status": transaction.status,
        "warnings": [warning] if warning else [],
    }


def _sender(session: Session, tenant_id: uuid.UUID, body: CampaignCreate) -> tuple[str, str | None]:
    """The campaign's `from`, else the tenant's default sender."""
    if body.sender is not None:
        return str(body.sender.email), body.sender.name
    default = tenant_service.default_sender(session, tenant_id)
    if default is None:
        raise Invalid(
            "the campaign has no sender: give `from`, or set the tenant's default sender (PUT /api/v1/tenant)",
            field="from",
        )
    return default


def get(
    session: Session, tenant_id: uuid.UUID, transaction_id: uuid.UUID, kind: str = TransactionKind.CAMPAIGN
) -> Transaction:
    """The tenant's campaign (or, of `kind` email, transactional email)."""
    transaction = get_for_tenant(session, Transaction, transaction_id, tenant_id, field="transaction_id", what=kind)
    if transaction.kind != kind:
        raise NotFound(f"no such {kind}", field="transaction_id")
    return transaction


def cancel(session: Session, tenant_id: uuid.UUID, transaction_id: uuid.UUID) -> Transaction:
    """Stop a campaign: every message not yet handed to a transport is cancelled and never goes."""
    transaction = get(session, tenant_id, transaction_id)
    if not status.cancel(session, transaction):
        raise Conflict(f"a campaign that is {transaction.status} cannot be cancelled", field="transaction_id")
    return transaction


def reschedule(session: Session, tenant_id: uuid.UUID, transaction_id: uuid.UUID, send_at: datetime) -> Transaction:
    """Move a scheduled campaign's send time, and its release job with it; refused (Conflict) once its sending
    started, and for a campaign sent right away."""
    transaction = get(session, tenant_id, transaction_id)
    if send_at <= utcnow():
        raise Invalid("send_at is in the past: give a time to come, or cancel the campaign", field="send_at")
    moved = session.execute(
        update(Transaction)
        .where(
            Transaction.id == transaction.id, Transaction.status.in_(RESCHEDULABLE), Transaction.send_at.is_not(None)
        )
        .values(send_at=send_at, updated_at=utcnow())
    )
    session.refresh(transaction)
    if rowcount(moved) == 0:
        if transaction.status in RESCHEDULABLE:
            raise Conflict("the campaign was sent right away: it has no send time to move", field="transaction_id")
        raise Conflict(
            f"a campaign that is {transaction.status} cannot be rescheduled: its sending has started or ended",
            field="transaction_id",
        )
    # A campaign still being split gets its release job when the split finishes, at the send time it reads then.
    if transaction.status == TransactionStatus.SCHEDULED and not queue.move_queued(
        session, RELEASE_JOB, transaction.tenant_id, {"transaction_id": str(transaction.id)}, send_at
    ):
        queue.enqueue(
            session, RELEASE_JOB, {"transaction_id": str(transaction.id)}, tenant_id=tenant_id, run_at=send_at
        )
    return transaction


@dataclass(frozen=True)
class RecipientsCheck:
    """What a campaign would make of a recipients file, before it is created: the same counts its split makes."""

    layout: recipients.Layout
    columns: list[tuple[str, str]]  # each column of the file and what it is used for
    first: list[recipients.Row]  # the first good rows
    good: int  # the recipients sent to: rows with a valid address, each address once
    invalid: int
    duplicates: int
    bad: list[recipients.Skipped]  # the first skipped rows (invalid or duplicate), in file order

    @property
    def header(self) -> list[str]:
        return self.layout.header

    @property
    def bad_count(self) -> int:
        return self.invalid + self.duplicates


def inspect_recipients(
    runtime: Runtime,
    file: File,
    placeholders: list[str],
    columns: dict[str, str] | None = None,
    *,
    field: str = "file",
    sample_rows: int = 5,
    named_bad_rows: int = 20,
) -> RecipientsCheck:
    """Read an uploaded recipients file as the campaign's split reads it: its layout, its columns matched to the
    template's placeholders, its first good rows, its first skipped rows and how many recipients it has."""
    file_service.uploaded_size(runtime.storage, runtime.settings, file, field=field)
    with runtime.storage.open(file.storage_key) as stream:
        layout = recipients.read_layout(stream, placeholders, columns, field=field)
    good, invalid, duplicates = 0, 0, 0
    first: list[recipients.Row] = []
    bad: list[recipients.Skipped] = []
    with runtime.storage.open(file.storage_key) as stream:
        _, rows = recipients.read_rows(stream, layout)
        for row in rows:
            if isinstance(row, recipients.Row):
                good += 1
                if len(first) < sample_rows:
                    first.append(row)
                continue
            if row.duplicate:
                duplicates += 1
            else:
                invalid += 1
            if len(bad) < named_bad_rows:
                bad.append(row)
    uses = {column: key for key, column in reversed(layout.columns.items())}
    described = [(name, _column_use(uses.get(name))) for name in layout.header]
    return RecipientsCheck(layout, described, first, good, invalid, duplicates, bad)


def check_recipients(session: Session, runtime: Runtime, tenant_id: uuid.UUID, body) -> RecipientsCheck:
    """The API's check of a file for a template: the errors name the fields a campaign request has."""
    version = template_service.get_version(session, tenant_id, body.template_id, body.template_version)
    file = file_service.get_by_url(session, tenant_id, body.csv_file_url, field="csv_file_url")
    return inspect_recipients(runtime, file, version.placeholders, body.columns, field="csv_file_url")


def recipients_header(storage: Storage, file: File) -> list[str]:
    """The column names of an uploaded file, for matching them by hand; [] when it cannot be read."""
    try:
        with storage.open(file.storage_key) as stream:
            return recipients.read_header(stream, field="file").header
    except AppError:
        return []


def _column_use(key: str | None) -> str:
    if key == recipients.EMAIL_COLUMN:
        return "the recipient's address"
    return f"fills {{{{ {key} }}}}" if key else "not used by this template"
