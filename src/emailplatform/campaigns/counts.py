"""Message counts by campaign and status (MessageCount), and by recipient domain as well (DomainMessageCount).
Every write that moves a message's status (campaigns/status.py) reports the move here, in its own transaction,
so the counts always add up to the messages; analytics reads them instead of grouping millions of messages."""

import functools
import uuid
from collections import Counter
from collections.abc import Iterable

from sqlalchemy import Integer, bindparam, delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from emailplatform.db import Writes, dialect_of
from emailplatform.models import UNSENT_MESSAGE_STATUSES, DomainMessageCount, MessageCount, MessageStatus, Transaction

PENDING = "PENDING"  # every unsent status, counted together
SENT_OUT = {
    MessageStatus.SENT,
    MessageStatus.DELIVERED,
    MessageStatus.BOUNCED,
    MessageStatus.COMPLAINED,
    MessageStatus.OPENED,
    MessageStatus.CLICKED,
}
DELIVERED = {MessageStatus.DELIVERED, MessageStatus.COMPLAINED, MessageStatus.OPENED, MessageStatus.CLICKED}
COUNTS_LOCK_CLASS = 0x6570  # the advisory lock space of message counts ("ep")

Move = tuple[uuid.UUID, str, str | None, str]  # campaign, address, status before (None: a new message), status after


def counted_status(status: str) -> str:
    return PENDING if status in UNSENT_MESSAGE_STATUSES else str(status)


def domain_of(email: str) -> str:
    return email.rpartition("@")[2].lower()


def of_campaign(session: Session, transaction_id: uuid.UUID) -> dict[str, int]:
    """The campaign's messages by counted status (the unsent ones together as PENDING): one indexed read."""
    rows = session.execute(
        select(MessageCount.status, MessageCount.count).where(MessageCount.transaction_id == transaction_id)
    ).all()
    return {status: count for status, count in rows if count}


def summary(session: Session, transaction: Transaction) -> dict:
    """Message counts by status (the unsent ones together as PENDING), and the cumulative counts a sender reads
    (an opened message was delivered), from the campaign's counts, not its messages."""
    return summary_of(transaction, of_campaign(session, transaction.id))


def summary_of(transaction: Transaction, by_status: dict[str, int]) -> dict:
    """The summary of a campaign whose counts by status were read already."""

    def total(statuses) -> int:
        return sum(by_status.get(s, 0) for s in statuses)

    return {
        "total_messages": transaction.total_messages,
        "pending": total([PENDING]),
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


def record_moves(writes: Writes, moves: Iterable[Move]) -> None:
    """Count messages that were created or changed status, in the caller's transaction."""
    moved = Counter((transaction_id, domain_of(email), before, after) for transaction_id, email, before, after in moves)
    _add(writes, _deltas(moved))


def record_move(
    writes: Writes, transaction_id: uuid.UUID, emails: Iterable[str], before: str | None, after: str
) -> None:
    """`record_moves` for messages of one campaign that all moved from one status to another (the split's
    millions of new messages among them)."""
    by_domain = Counter(map(domain_of, emails))
    _add(writes, _deltas(Counter({(transaction_id, domain, before, after): n for domain, n in by_domain.items()})))


def _deltas(moved: Counter) -> Counter:
    """What each count gains or loses when `moved[campaign, domain, before, after]` messages move."""
    deltas: Counter[tuple[uuid.UUID, str, str]] = Counter()
    for (transaction_id, domain, before, after), number in moved.items():
        after = counted_status(after)
        before = counted_status(before) if before is not None else None
        if before != after:
            if before is not None:
                deltas[transaction_id, domain, before] -= number
            deltas[transaction_id, domain, after] += number
    return deltas


def forget(session: Session, transaction_id: uuid.UUID) -> None:
    """The campaign's messages are being deleted: so are their counts."""
    for model in (MessageCount, DomainMessageCount):
        session.execute(delete(model).where(model.transaction_id == transaction_id))


def _add(writes: Writes, deltas: Counter) -> None:
    by_campaign: Counter[tuple[uuid.UUID, str]] = Counter()
    for (transaction_id, _, status), delta in deltas.items():
        by_campaign[transaction_id, status] += delta
    if dialect_of(writes) == "postgresql":
        _lock_campaigns(writes, sorted({transaction_id for transaction_id, _ in by_campaign}))
    _upsert(writes, MessageCount, ("transaction_id", "status"), by_campaign)
    _upsert(writes, DomainMessageCount, ("transaction_id", "domain", "status"), deltas)


def _lock_campaigns(writes: Writes, transaction_ids: list[uuid.UUID]) -> None:
    """A transaction may write counts more than once (a slice's claim, then its outcomes), each time in key order
    but not in one order overall; holding its campaigns' lock until commit keeps two writers from a cycle. On
    SQLite one writer at a time needs none."""
    for transaction_id in transaction_ids:
        writes.execute(LOCK_CAMPAIGN, {"key": _lock_key(transaction_id)})


LOCK_CAMPAIGN = select(func.pg_advisory_xact_lock(COUNTS_LOCK_CLASS, bindparam("key", type_=Integer)))


def _lock_key(transaction_id: uuid.UUID) -> int:
    return (transaction_id.int & 0xFFFF_FFFF) - 0x8000_0000  # a 32-bit signed key; a shared key only serialises


def _upsert(writes: Writes, model, key: tuple[str, ...], deltas: Counter) -> None:
    # One statement, rows in key order: concurrent writers lock the same rows in the same order, never in a cycle.
    rows = [dict(zip(key, values)) | {"count": delta} for values, delta in sorted(deltas.items()) if delta]
    if not rows:
        return
    writes.execute(_upsert_statement(dialect_of(writes), model, key), rows)


@functools.cache
def _upsert_statement(dialect: str, model, key: tuple[str, ...]):
    """Built once: a Core statement (the ORM's bulk insert costs more than the upsert itself), whose building
    costs as much again as running it."""
    table = model.__table__
    stmt = (pg_insert if dialect == "postgresql" else sqlite_insert)(table)
    return stmt.on_conflict_do_update(index_elements=list(key), set_={"count": table.c.count + stmt.excluded.count})
