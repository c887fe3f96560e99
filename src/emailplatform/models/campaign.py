import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from emailplatform.models.base import Base, BigId, Timestamps, UUIDPrimaryKey, time_ordered_id, utcnow


class TransactionStatus(StrEnum):
    ACCEPT = "ACCEPT"
    PROCESSING = "PROCESSING"
    SCHEDULED = "SCHEDULED"
    READY_TO_SEND = "READY_TO_SEND"
    PAUSED = "PAUSED"  # sends nothing until resumed; status_reason says why
    SENT = "SENT"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"


class BatchStatus(StrEnum):
    PROCESSING = "PROCESSING"
    READY = "READY"
    SENT = "SENT"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"


class MessageStatus(StrEnum):
    CREATED = "CREATED"
    SCHEDULED = "SCHEDULED"
    READY_TO_SEND = "READY_TO_SEND"
    SENDING = "SENDING"
    SENT = "SENT"
    DELIVERED = "DELIVERED"
    BOUNCED = "BOUNCED"
    COMPLAINED = "COMPLAINED"
    OPENED = "OPENED"
    CLICKED = "CLICKED"
    SUPPRESSED = "SUPPRESSED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


WAITING_MESSAGE_STATUSES = (MessageStatus.CREATED, MessageStatus.SCHEDULED, MessageStatus.READY_TO_SEND)
UNSENT_MESSAGE_STATUSES = (*WAITING_MESSAGE_STATUSES, MessageStatus.SENDING)


class TransactionKind(StrEnum):
    CAMPAIGN = "campaign"
    EMAIL = "email"  # one transactional email (emails/): its content in its one batch's chunk, no file


class Transaction(UUIDPrimaryKey, Timestamps, Base):
    """A campaign: one template sent to every good row of one recipients file; or one transactional email, sent
    to each of its recipients, with its own content or a template."""

    __tablename__ = "transactions"
    __table_args__ = (Index(None, "tenant_id", "created_at"), Index(None, "tenant_id", "kind", "created_at"))

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    kind: Mapped[str] = mapped_column(String(20), default=TransactionKind.CAMPAIGN)
    name: Mapped[str | None] = mapped_column(String(200))
    template_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("templates.id"))  # None: an email's own content
    template_version: Mapped[int | None]
    file_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("files.id"))  # None for an email
    tags: Mapped[list | None]  # an email's tags and metadata, carried to its webhooks
    message_metadata: Mapped[dict | None] = mapped_column("metadata")
    from_email: Mapped[str] = mapped_column(String(320))
    from_name: Mapped[str | None] = mapped_column(String(200))
    reply_to: Mapped[str | None] = mapped_column(String(320))
    callback_url: Mapped[str | None] = mapped_column(String(2000))
    send_at: Mapped[datetime | None]
    batch_size: Mapped[int]
    tracking: Mapped[bool] = mapped_column(default=True)
    status: Mapped[str] = mapped_column(String(20), default=TransactionStatus.ACCEPT)
    status_reason: Mapped[str | None] = mapped_column(Text)
    total_messages: Mapped[int] = mapped_column(default=0)
    invalid_rows: Mapped[int] = mapped_column(default=0)
    duplicate_rows: Mapped[int] = mapped_column(default=0)
    recipients_layout: Mapped[dict | None]  # how its file is read: format, encoding, delimiter, columns
    rates_since: Mapped[dict | None]  # sent, bounced, complained when last resumed: auto-pause counts from there
    processed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]


class Batch(UUIDPrimaryKey, Timestamps, Base):
    """A chunk of the recipients file, kept in storage, with one message per row."""

    __tablename__ = "batches"
    __table_args__ = (Index(None, "transaction_id", "seq", unique=True),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    transaction_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("transactions.id"))
    seq: Mapped[int]
    status: Mapped[str] = mapped_column(String(20), default=BatchStatus.PROCESSING)
    message_count: Mapped[int]
    storage_key: Mapped[str] = mapped_column(String(500))


class Message(UUIDPrimaryKey, Base):
    """One recipient of a campaign. Its placeholder data lives in the batch chunk, at `position`.

    No foreign keys here: their per-row checks halve the rate of the bulk insert, and the split, which
    writes these rows together with their batch and campaign, is the only writer. Ids are time-ordered
    (UUIDv7) and made in the file's order, so listing a campaign's messages by id lists them in the file's
    order, a page read straight from the (transaction_id, id) index whatever the campaign's size (one status's
    page from (transaction_id, status, id)). On PostgreSQL the table is partitioned by month of its ids
    (partitions.py), and every index here is written again each time a message's status changes (its status is
    indexed, so no update is HOT)."""

    __tablename__ = "messages"
    __table_args__ = (
        Index(None, "transaction_id", "status", "id"),
        Index(None, "transaction_id", "id"),
        Index(None, "batch_id", "status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=time_ordered_id)
    tenant_id: Mapped[uuid.UUID]
    transaction_id: Mapped[uuid.UUID]
    batch_id: Mapped[uuid.UUID]
    position: Mapped[int]
    row_number: Mapped[int]
    email: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    not_before: Mapped[datetime | None]  # a temporarily refused message waits until then
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]  # when its delivery was learnt (a delivery, or an open that implies one)


class MessageCount(Base):
    """How many of a campaign's messages are in one status, kept by every write that moves a status (see
    campaigns/counts.py), so analytics never groups the messages themselves. The unsent statuses, which change
    the most and mean the same to a reader, are counted together as PENDING."""

    __tablename__ = "message_counts"

    transaction_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(20), primary_key=True)
    count: Mapped[int]


class DomainMessageCount(Base):
    """MessageCount by recipient domain as well: the results per domain."""

    __tablename__ = "domain_message_counts"

    transaction_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    domain: Mapped[str] = mapped_column(String(255), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), primary_key=True)
    count: Mapped[int]


class RowError(Base):
    """A row of a recipients file that was skipped, with why."""

    __tablename__ = "row_errors"
    __table_args__ = (Index(None, "transaction_id", "row_number"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    transaction_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("transactions.id"))
    row_number: Mapped[int]
    email: Mapped[str | None] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(Text)
