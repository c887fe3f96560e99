"""Campaigns (the design documents' transactions): accept, split into batches and messages, track, cancel."""

import hashlib
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from emailplatform.campaigns import counts, recipients
from emailplatform.campaigns.schemas import CampaignCreate
from emailplatform.domains import service as domain_service
from emailplatform.db import get_for_tenant
from emailplatform.errors import AppError, Conflict, Invalid
from emailplatform.jobs import queue
from emailplatform.models import (
    UNSENT_MESSAGE_STATUSES,
    WAITING_MESSAGE_STATUSES,
    Batch,
    BatchStatus,
    File,
    IdempotencyKey,
    Message,
    MessageStatus,
    Transaction,
    TransactionStatus,
    utcnow,
)
from emailplatform.runtime import Runtime
from emailplatform.storage import service as file_service
from emailplatform.templates import service as template_service
from emailplatform.tenants import service as tenant_service
from emailplatform.webhooks import endpoints as webhook_endpoints
from emailplatform.webhooks import fanout as webhook_fanout

CANCELLABLE = {
    TransactionStatus.ACCEPT,
    TransactionStatus.PROCESSING,
    TransactionStatus.SCHEDULED,
    TransactionStatus.READY_TO_SEND,
}
RESCHEDULABLE = {TransactionStatus.ACCEPT, TransactionStatus.PROCESSING, TransactionStatus.SCHEDULED}
RELEASE_JOB = "release_campaign"
STATUS_TIMESTAMPS = {
    TransactionStatus.SENT: "sent_at",
    TransactionStatus.COMPLETED: "completed_at",
    TransactionStatus.CANCELLED: "cancelled_at",
}
SENT_OUT = {
    MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.BOUNCED,
    MessageStatus.COMPLAINED, MessageStatus.OPENED, MessageStatus.CLICKED,
}
DELIVERED = {MessageStatus.DELIVERED, MessageStatus.COMPLAINED, MessageStatus.OPENED, MessageStatus.CLICKED}


def create(
    session: Session, runtime: Runtime, tenant_id: uuid.UUID, body: CampaignCreate, idempotency_key: str | None
) -> dict:
    """Accept a campaign and enqueue its split; with an Idempotency-Key, a retry gets the first answer."""
    if body.callback_url:
        webhook_endpoints.check_url(body.callback_url, runtime.settings)
    if idempotency_key is None:
        return _accept(session, runtime, tenant_id, body)
    request_hash = hashlib.sha256(body.model_dump_json(by_alias=True).encode()).hexdigest()
    stored = _stored_answer(session, tenant_id, idempotency_key)
    if stored is None:
        try:
            with session.begin_nested():
                record = IdempotencyKey(
                    tenant_id=tenant_id, key=idempotency_key, request_hash=request_hash, status_code=202, response={}
                )
                session.add(record)
                session.flush()
        except IntegrityError:  # the same key arrived at the same moment; its answer is committed now
            stored = _stored_answer(session, tenant_id, idempotency_key)
        else:
            record.response = _accept(session, runtime, tenant_id, body)
            return record.response
    if stored.request_hash != request_hash:
        raise Invalid("this Idempotency-Key was used with a different request body", field="Idempotency-Key")
    return stored.response


def _stored_answer(session: Session, tenant_id: uuid.UUID, key: str) -> IdempotencyKey | None:
    return session.scalar(select(IdempotencyKey).where(IdempotencyKey.tenant_id == tenant_id, IdempotencyKey.key == key))


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
    set_status(session, transaction, TransactionStatus.ACCEPT)
    return {"transaction_id": str(transaction.id), "status": transaction.status, "warnings": [warning] if warning else []}


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


def get(session: Session, tenant_id: uuid.UUID, transaction_id: uuid.UUID) -> Transaction:
    return get_for_tenant(session, Transaction, transaction_id, tenant_id, field="transaction_id", what="campaign")


def set_status(session: Session, transaction: Transaction, status: TransactionStatus, reason: str | None = None) -> None:
    """Move a campaign to `status`, stamp the time, and tell its subscribers."""
    now = utcnow()
    transaction.status = status
    transaction.status_reason = reason
    transaction.updated_at = now
    if status in STATUS_TIMESTAMPS:
        setattr(transaction, STATUS_TIMESTAMPS[status], now)
    session.flush()
    webhook_fanout.transaction_status_changed(session, transaction, summary(session, transaction))


def summary(session: Session, transaction: Transaction) -> dict:
    """Message counts by status (the unsent ones together as PENDING), and the cumulative counts a sender reads
    (an opened message was delivered), from the campaign's counts, not its messages."""
    by_status = counts.of_campaign(session, transaction.id)

    def total(statuses) -> int:
        return sum(by_status.get(s, 0) for s in statuses)

    return {
        "total_messages": transaction.total_messages,
        "pending": total([counts.PENDING]),
        "sent": total(SENT_OUT),
        "delivered": total(DELIVERED),
        "bounced": total([MessageStatus.BOUNCED]),
        "complained": total([MessageStatus.COMPLAINED]),
        "opened": total([MessageStatus.OPENED, MessageStatus.CLICKED]),
        "clicked": total([MessageStatus.CLICKED]),
        "failed": total([MessageStatus.FAILED]),
        "suppressed": total([MessageStatus.SUPPRESSED]),
        "cancelled": total([MessageStatus.CANCELLED]),
        "by_status": by_status,
    }


def cancel(session: Session, tenant_id: uuid.UUID, transaction_id: uuid.UUID) -> Transaction:
    """Stop a campaign: every message not yet handed to a transport is cancelled and never goes."""
    transaction = get(session, tenant_id, transaction_id)
    locked = session.execute(
        update(Transaction)
        .where(Transaction.id == transaction.id, Transaction.status.in_(CANCELLABLE))
        .values(status=TransactionStatus.CANCELLED)
    )
    if locked.rowcount == 0:
        session.refresh(transaction)
        raise Conflict(f"a campaign that is {transaction.status} cannot be cancelled", field="transaction_id")
    now = utcnow()
    cancelled = session.execute(
        update(Message)
        .where(Message.transaction_id == transaction.id, Message.status.in_(WAITING_MESSAGE_STATUSES))
        .values(status=MessageStatus.CANCELLED, updated_at=now)
        .returning(Message.email)
        .execution_options(synchronize_session=False)
    ).scalars()
    counts.record_move(session, transaction.id, cancelled, counts.PENDING, MessageStatus.CANCELLED)
    session.execute(
        update(Batch)
        .where(Batch.transaction_id == transaction.id, Batch.status.in_([BatchStatus.PROCESSING, BatchStatus.READY]))
        .values(status=BatchStatus.CANCELLED, updated_at=now)
    )
    session.refresh(transaction)
    set_status(session, transaction, TransactionStatus.CANCELLED, "cancelled by request")
    return transaction


def reschedule(session: Session, tenant_id: uuid.UUID, transaction_id: uuid.UUID, send_at: datetime) -> Transaction:
    """Move a scheduled campaign's send time, and its release job with it; refused (Conflict) once its sending
    started, and for a campaign sent right away."""
    transaction = get(session, tenant_id, transaction_id)
    if send_at <= utcnow():
        raise Invalid("send_at is in the past: give a time to come, or cancel the campaign", field="send_at")
    moved = session.execute(
        update(Transaction)
        .where(Transaction.id == transaction.id, Transaction.status.in_(RESCHEDULABLE), Transaction.send_at.is_not(None))
        .values(send_at=send_at, updated_at=utcnow())
    )
    session.refresh(transaction)
    if moved.rowcount == 0:
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
        queue.enqueue(session, RELEASE_JOB, {"transaction_id": str(transaction.id)}, tenant_id=tenant_id, run_at=send_at)
    return transaction


def release(session: Session, transaction: Transaction) -> None:
    """The send time has come: every batch gets its send job."""
    set_status(session, transaction, TransactionStatus.READY_TO_SEND)
    for batch_id in session.scalars(select(Batch.id).where(Batch.transaction_id == transaction.id).order_by(Batch.seq)):
        enqueue_send(session, transaction.tenant_id, batch_id)


def enqueue_send(session: Session, tenant_id: uuid.UUID, batch_id: uuid.UUID, run_at: datetime | None = None) -> None:
    queue.enqueue(session, "send_batch", {"batch_id": str(batch_id)}, tenant_id=tenant_id, run_at=run_at)


def finish_batch_if_sent(session: Session, batch: Batch, sent_before: datetime | None = None) -> None:
    """Mark the batch, then the campaign, SENT once none of their messages waits to be sent, and COMPLETED at
    once when every message already has an outcome (see `complete_finished`)."""
    if _has_unsent(session, Message.batch_id == batch.id):
        return
    session.execute(
        update(Batch).where(Batch.id == batch.id, Batch.status == BatchStatus.READY)
        .values(status=BatchStatus.SENT, updated_at=utcnow())
    )
    complete_batches(session, [batch.id], sent_before)
    if _has_unsent(session, Message.transaction_id == batch.transaction_id):
        return
    won = session.execute(
        update(Transaction)
        .where(Transaction.id == batch.transaction_id, Transaction.status == TransactionStatus.READY_TO_SEND)
        .values(status=TransactionStatus.SENT)
    )
    if won.rowcount:
        transaction = session.get(Transaction, batch.transaction_id)
        session.refresh(transaction)
        set_status(session, transaction, TransactionStatus.SENT)
    complete_campaigns(session, [batch.transaction_id])


def complete_finished(
    session: Session, batch_ids: Collection[uuid.UUID] | None = None, sent_before: datetime | None = None
) -> None:
    """Batches (those of `batch_ids`, or all) whose every message has an outcome become COMPLETED, then the SENT
    campaigns (theirs, or all) whose every batch is COMPLETED. A message SENT before `sent_before` with no
    outcome since has one: SENT is final after the outcome window. Set-based and idempotent."""
    campaign_ids = complete_batches(session, batch_ids, sent_before)
    complete_campaigns(session, None if batch_ids is None else campaign_ids)


def complete_batches(
    session: Session, batch_ids: Collection[uuid.UUID] | None, sent_before: datetime | None = None
) -> set[uuid.UUID]:
    """SENT batches (of `batch_ids`, or all) none of whose messages still waits for an outcome become COMPLETED;
    the campaigns of those that did. Locked in id order, so two writers never wait for each other in a cycle."""
    waiting = select(Message.id).where(Message.batch_id == Batch.id, _awaits_outcome(sent_before))
    done = select(Batch.id, Batch.transaction_id).where(Batch.status == BatchStatus.SENT, ~waiting.exists())
    if batch_ids is not None:
        done = done.where(Batch.id.in_(batch_ids))
    rows = session.execute(done.order_by(Batch.id).with_for_update()).all()
    if rows:
        session.execute(
            update(Batch)
            .where(Batch.id.in_([row.id for row in rows]), Batch.status == BatchStatus.SENT)
            .values(status=BatchStatus.COMPLETED, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    return {row.transaction_id for row in rows}


def complete_campaigns(session: Session, transaction_ids: Collection[uuid.UUID] | None) -> None:
    """SENT campaigns (of `transaction_ids`, or all) whose every batch is COMPLETED (or cancelled) become
    COMPLETED, and tell their subscribers."""
    if transaction_ids is not None and not transaction_ids:
        return
    open_batch = select(Batch.id).where(
        Batch.transaction_id == Transaction.id, Batch.status.not_in([BatchStatus.COMPLETED, BatchStatus.CANCELLED])
    )
    done = select(Transaction.id).where(Transaction.status == TransactionStatus.SENT, ~open_batch.exists())
    if transaction_ids is not None:
        done = done.where(Transaction.id.in_(transaction_ids))
    for transaction_id in session.scalars(done.order_by(Transaction.id)).all():
        won = session.execute(
            update(Transaction)
            .where(Transaction.id == transaction_id, Transaction.status == TransactionStatus.SENT)
            .values(status=TransactionStatus.COMPLETED)
        )
        if won.rowcount:
            transaction = session.get(Transaction, transaction_id)
            session.refresh(transaction)
            set_status(session, transaction, TransactionStatus.COMPLETED)


def _awaits_outcome(sent_before: datetime | None):
    """A message with no outcome yet: not sent, or SENT (after `sent_before`, when there is a window)."""
    sent = Message.status == MessageStatus.SENT
    if sent_before is not None:
        sent = and_(sent, or_(Message.sent_at.is_(None), Message.sent_at > sent_before))
    return or_(Message.status.in_(UNSENT_MESSAGE_STATUSES), sent)


def _has_unsent(session: Session, where) -> bool:
    return session.scalar(select(Message.id).where(where, Message.status.in_(UNSENT_MESSAGE_STATUSES)).limit(1)) is not None


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
    runtime: Runtime, file: File, placeholders: list[str], columns: dict[str, str] | None = None, *,
    field: str = "file", sample_rows: int = 5, named_bad_rows: int = 20,
) -> RecipientsCheck:
    """Read an uploaded recipients file as the campaign's split reads it: its layout, its columns matched to the
    template's placeholders, its first good rows, its first skipped rows and how many recipients it has."""
    file_service.uploaded_size(runtime.storage, runtime.settings, file, field=field)
    with runtime.storage.open(file.storage_key) as stream:
        layout = recipients.read_layout(stream, placeholders, columns, field=field)
    good, invalid, duplicates, first, bad = 0, 0, 0, [], []
    with runtime.storage.open(file.storage_key) as stream:
        _, rows = recipients.read_rows(stream, layout)
        for row in rows:
            if type(row) is recipients.Row:
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


def recipients_header(runtime: Runtime, file: File) -> list[str]:
    """The column names of an uploaded file, for matching them by hand; [] when it cannot be read."""
    try:
        with runtime.storage.open(file.storage_key) as stream:
            return recipients.read_header(stream, field="file").header
    except AppError:
        return []


def _column_use(key: str | None) -> str:
    if key == recipients.EMAIL_COLUMN:
        return "the recipient's address"
    return f"fills {{{{ {key} }}}}" if key else "not used by this template"
