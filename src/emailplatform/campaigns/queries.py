"""What the API and the UI read of campaigns: pages of campaigns, their batches, bad rows and messages (each a
page of rows and the next page's cursor, pagination.py), a message and its history."""

import uuid
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from emailplatform.db import get_for_tenant
from emailplatform.errors import Invalid
from emailplatform.models import Batch, Event, File, Message, MessageStatus, RowError, Transaction, TransactionKind
from emailplatform.pagination import paginate


def message_history(session: Session, message: Message) -> list[dict]:
    history = [{"at": message.created_at, "type": "created", "details": {}}]
    if message.sent_at:
        history.append({"at": message.sent_at, "type": "sent", "details": {}})
    events = session.scalars(select(Event).where(Event.message_id == message.id).order_by(Event.occurred_at, Event.id))
    history += [{"at": e.occurred_at, "type": e.type, "details": e.details} for e in events]
    return sorted(history, key=lambda entry: entry["at"])


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


def search_messages(
    session: Session,
    transaction: Transaction,
    *,
    q: str = "",
    status: str | None = None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Message], str | None]:
    """A page of the campaign's messages in the file's order: those of one status, and whose address starts
    with `q` (the search of the UI and the API), and the cursor of the next page."""
    stmt = select(Message).where(Message.transaction_id == transaction.id)
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
