"""What the API and the UI read of campaigns: pages of campaigns, their batches, bad rows and messages (each a
page of rows and the next page's cursor, pagination.py), a message and its history."""

import uuid
from collections.abc import Iterable

from sqlalchemy import Row, bindparam, select
from sqlalchemy.orm import Session

from emailplatform.db import get_for_tenant
from emailplatform.errors import Invalid, NotFound
from emailplatform.models import (
    Batch,
    Event,
    File,
    Message,
    MessageCount,
    MessageStatus,
    RowError,
    Transaction,
    TransactionKind,
)
from emailplatform.pagination import paginate


def message_history(session: Session, message: Message) -> list[dict]:
    history = [{"at": message.created_at, "type": "created", "details": {}}]
    if message.sent_at:
        history.append({"at": message.sent_at, "type": "sent", "details": {}})
    events = session.scalars(select(Event).where(Event.message_id == message.id).order_by(Event.occurred_at, Event.id))
    history += [{"at": e.occurred_at, "type": e.type, "details": e.details} for e in events]
    return sorted(history, key=lambda entry: entry["at"])


# Built once: a status read is the API's most frequent call, and building the statement costs more than running it.
CAMPAIGN_WITH_COUNTS = (
    select(Transaction, File.url, MessageCount.status, MessageCount.count)
    .outerjoin(File, File.id == Transaction.file_id)
    .outerjoin(MessageCount, MessageCount.transaction_id == Transaction.id)
    .where(
        Transaction.id == bindparam("transaction_id"),
        Transaction.tenant_id == bindparam("tenant_id"),
        Transaction.kind == bindparam("kind"),
    )
)


def campaign_with_counts(
    session: Session, tenant_id: uuid.UUID, transaction_id: uuid.UUID, kind: str = TransactionKind.CAMPAIGN
) -> tuple[Transaction, str | None, dict[str, int]]:
    """The tenant's campaign (or, of `kind` email, transactional email), its file's URL and its message counts
    by counted status, in one indexed read; NotFound for an unknown one or another tenant's."""
    rows = session.execute(
        CAMPAIGN_WITH_COUNTS, {"transaction_id": transaction_id, "tenant_id": tenant_id, "kind": kind}
    ).all()
    if not rows:
        raise NotFound(f"no such {kind}", field="transaction_id")
    by_status = {status: count for _, _, status, count in rows if count}
    return rows[0][0], rows[0][1], by_status


def page_of_campaigns(
    session: Session, tenant_id: uuid.UUID, *, status: str | None = None, cursor: str | None, limit: int
) -> tuple[list[Transaction], str | None]:
    """A page of the tenant's campaigns (of one status), newest first, and the cursor of the next page."""
    stmt = select(Transaction).where(Transaction.tenant_id == tenant_id, Transaction.kind == TransactionKind.CAMPAIGN)
    if status:
        stmt = stmt.where(Transaction.status == status)
    return paginate(
        session, stmt, (Transaction.created_at, Transaction.id), cursor=cursor, limit=limit, descending=True
    )


def page_of_batches(
    session: Session, transaction: Transaction, *, cursor: str | None, limit: int
) -> tuple[list[Batch], str | None]:
    """A page of the campaign's batches in the file's order."""
    stmt = select(Batch).where(Batch.transaction_id == transaction.id)
    return paginate(session, stmt, (Batch.seq,), cursor=cursor, limit=limit)


def page_of_row_errors(
    session: Session, transaction: Transaction, *, cursor: str | None, limit: int
) -> tuple[list[RowError], str | None]:
    """A page of the campaign's bad rows, by row number."""
    stmt = select(RowError).where(RowError.transaction_id == transaction.id)
    return paginate(session, stmt, (RowError.row_number, RowError.id), cursor=cursor, limit=limit)


# What a list of messages shows, without what it knows already (the tenant, the campaign) or never shows: a page
# is 100 rows, and each column's conversion is most of the cost of reading it.
LISTED_MESSAGE_COLUMNS = (
    Message.id,
    Message.batch_id,
    Message.row_number,
    Message.email,
    Message.status,
    Message.attempts,
    Message.last_error,
    Message.created_at,
    Message.updated_at,
    Message.sent_at,
    Message.delivered_at,
)


def search_messages(
    session: Session,
    transaction: Transaction,
    *,
    q: str = "",
    status: str | None = None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Row], str | None]:
    """A page of the campaign's messages in the file's order (rows of LISTED_MESSAGE_COLUMNS): those of one
    status, and whose address starts with `q` (the search of the UI and the API), and the cursor of the next
    page."""
    stmt = select(*LISTED_MESSAGE_COLUMNS).where(Message.transaction_id == transaction.id)
    if status:
        if status not in MessageStatus.__members__:
            raise Invalid(f"{status!r} is not a message status", field="status")
        stmt = stmt.where(Message.status == status)
    if q.strip():
        stmt = stmt.where(Message.email.startswith(q.strip(), autoescape=True))
    return paginate(session, stmt, (Message.id,), cursor=cursor, limit=limit)


def get_message(session: Session, tenant_id: uuid.UUID, message_id: uuid.UUID) -> Message:
    return get_for_tenant(session, Message, message_id, tenant_id, field="message_id", what="message")


def file_urls(session: Session, transactions: Iterable[Transaction]) -> dict[uuid.UUID | None, str]:
    """The URL of each campaign's recipients file, by file id, read at once."""
    ids = {transaction.file_id for transaction in transactions}
    return dict(session.execute(select(File.id, File.url).where(File.id.in_(ids))).all())


def last_sender(session: Session, tenant_id: uuid.UUID) -> tuple[str, str | None] | None:
    """The sender of the tenant's newest campaign; None before its first."""
    last = session.execute(
        select(Transaction.from_email, Transaction.from_name)
        .where(Transaction.tenant_id == tenant_id)
        .order_by(Transaction.created_at.desc())
        .limit(1)
    ).first()
    return (last.from_email, last.from_name) if last else None


def transaction_of(session: Session, message: Message) -> Transaction:
    """The campaign or transactional email a message belongs to."""
    return session.get_one(Transaction, message.transaction_id)
