"""Every status write of messages, batches and campaigns, and the order of message statuses.

Messages move from some statuses to another in one UPDATE … RETURNING, and the message counts move by what that
statement returned, in the same transaction: the counts can never drift from the rows. A batch and its campaign
are released, closed and completed here too, so "where does a campaign complete?" has one answer.
"""

import functools
import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, and_, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from emailplatform.campaigns import counts
from emailplatform.db import Writes, rowcount
from emailplatform.jobs import queue
from emailplatform.models import (
    UNSENT_MESSAGE_STATUSES,
    WAITING_MESSAGE_STATUSES,
    Batch,
    BatchStatus,
    Message,
    MessageStatus,
    Transaction,
    TransactionStatus,
    utcnow,
)
from emailplatform.webhooks import fanout as webhook_fanout

SEND_BATCH_JOB = "send_batch"  # the job a released batch gets; sending runs it
# How far along a message is; an event never moves a message back (SUPPRESSED and CANCELLED are final).
RANK = {
    MessageStatus.CREATED: 0,
    MessageStatus.SCHEDULED: 1,
    MessageStatus.READY_TO_SEND: 2,
    MessageStatus.SENDING: 3,
    MessageStatus.SENT: 10,
    MessageStatus.FAILED: 15,
    MessageStatus.DELIVERED: 20,
    MessageStatus.BOUNCED: 25,
    MessageStatus.OPENED: 30,
    MessageStatus.CLICKED: 40,
    MessageStatus.COMPLAINED: 50,
    MessageStatus.SUPPRESSED: 100,
    MessageStatus.CANCELLED: 100,
}
IMPLIES_DELIVERY = {MessageStatus.DELIVERED, MessageStatus.OPENED, MessageStatus.CLICKED, MessageStatus.COMPLAINED}
CANCELLABLE = {
    TransactionStatus.ACCEPT,
    TransactionStatus.PROCESSING,
    TransactionStatus.SCHEDULED,
    TransactionStatus.READY_TO_SEND,
    TransactionStatus.PAUSED,
}
STATUS_TIMESTAMPS = {
    TransactionStatus.SENT: "sent_at",
    TransactionStatus.COMPLETED: "completed_at",
    TransactionStatus.CANCELLED: "cancelled_at",
}

MESSAGES = cast(Table, Message.__table__)


# --- messages -------------------------------------------------------------------------------------------------


def move(
    session: Session,
    where,
    before: Iterable[MessageStatus],
    after: MessageStatus,
    *,
    values: dict | None = None,
    first: int | None = None,
    returning: tuple = (),
) -> list[Row]:
    """Move the messages that match `where` and are in one of `before` to `after` (with `values` set as well), and
    their counts with them; the moved rows (id, email, and the `returning` columns). `first`: only that many, in
    the file's order. Locked in id order (the file's, with `first`), so two writers never wait in a cycle."""
    now = utcnow()
    moved: list[Row] = []
    for statuses in _by_counted_status(before):
        matching = and_(where, Message.status.in_(statuses))
        chosen = select(Message.id).where(matching)
        chosen = chosen.order_by(Message.position).limit(first) if first else chosen.order_by(Message.id)
        rows = session.execute(  # a Core statement: the ORM's bulk update path costs more than the update itself
            update(MESSAGES)
            .where(Message.id.in_(chosen.with_for_update().scalar_subquery()), matching)
            .values(status=after, updated_at=now, **(values or {}))
            .returning(Message.id, Message.transaction_id, Message.email, *returning)
        ).all()
        counts.record_moves(session, ((row.transaction_id, row.email, statuses[0], after) for row in rows))
        moved += rows
    return moved


def move_ids(
    writes: Writes,
    ids: Collection[uuid.UUID],
    before: MessageStatus,
    after: MessageStatus,
    values: dict | None = None,
    *,
    count_attempt: bool = False,
) -> list[Row]:
    """`move` for messages named by id, all from one status (the recorder's outcomes, many small writes a second),
    with `values` plain values and `count_attempt` adding one to each message's attempts: the statement is built
    once for each shape, not for each call. The moved rows (id, transaction_id, email)."""
    if not ids:
        return []
    values = values or {}
    statement = _move_ids_statement(before, after, tuple(sorted(values)), count_attempt)
    rows = writes.execute(statement, {"ids": list(ids), "moved_at": utcnow(), **values}).all()
    counts.record_moves(writes, ((row.transaction_id, row.email, before, after) for row in rows))
    return list(rows)


@functools.cache
def _move_ids_statement(before: MessageStatus, after: MessageStatus, names: tuple[str, ...], count_attempt: bool):
    columns = MESSAGES.c
    matching = and_(columns.id.in_(bindparam("ids", expanding=True)), columns.status == before)
    chosen = select(columns.id).where(matching).order_by(columns.id).with_for_update().scalar_subquery()
    values: dict[str, Any] = {name: bindparam(name) for name in names} | {
        "status": after,
        "updated_at": bindparam("moved_at"),
    }
    if count_attempt:
        values["attempts"] = columns.attempts + 1
    return (
        update(MESSAGES)
        .where(columns.id.in_(chosen), matching)
        .values(values)
        .returning(columns.id, columns.transaction_id, columns.email)
    )


def _by_counted_status(statuses: Iterable[MessageStatus]) -> list[list[MessageStatus]]:
    """The statuses grouped by the count they are in: one statement a group knows what each of its rows left."""
    groups: dict[str, list[MessageStatus]] = defaultdict(list)
    for status in statuses:
        groups[counts.counted_status(status)].append(status)
    return list(groups.values())


def add_messages(session: Session, transaction_id: uuid.UUID, emails: Iterable[str], status: MessageStatus) -> None:
    """Count new messages of a campaign, written in bulk by the split in `status`."""
    counts.record_move(session, transaction_id, emails, None, status)


def claim(session: Session, batch_id: uuid.UUID, limit: int) -> list[Row]:
    """The batch's next due waiting messages, in the file's order, now SENDING: id, email, position, attempts."""
    now = utcnow()
    due = and_(Message.batch_id == batch_id, or_(Message.not_before.is_(None), Message.not_before <= now))
    return move(
        session,
        due,
        WAITING_MESSAGE_STATUSES,
        MessageStatus.SENDING,
        first=limit,
        returning=(Message.position, Message.attempts),
    )


def requeue_orphans(session: Session, batch_id: uuid.UUID) -> None:
    """SENDING messages of a batch nobody is sending (its worker died holding them) wait again: a message may go
    twice, never zero times."""
    move(session, Message.batch_id == batch_id, [MessageStatus.SENDING], MessageStatus.READY_TO_SEND)


def advance(session: Session, targets: dict[uuid.UUID, MessageStatus]) -> set[uuid.UUID]:
    """Move each message to its target status if that is further along than where it is (and it was sent);
    the ids that moved."""
    by_target: dict[MessageStatus, list[uuid.UUID]] = defaultdict(list)
    for message_id, target in targets.items():
        by_target[target].append(message_id)
    moved: set[uuid.UUID] = set()
    now = utcnow()
    for target, ids in by_target.items():
        behind = [s for s, rank in RANK.items() if RANK[MessageStatus.SENT] <= rank < RANK[target]]
        rows = move(session, Message.id.in_(ids), behind, target, values=_delivered_at(target, now))
        moved.update(row.id for row in rows)
    return moved


def _delivered_at(status: MessageStatus, now: datetime) -> dict:
    """A move to DELIVERED, or past it to a status that implies delivery (an open), stamps the first delivery."""
    return {"delivered_at": func.coalesce(Message.delivered_at, now)} if status in IMPLIES_DELIVERY else {}


# --- campaigns and batches ------------------------------------------------------------------------------------


def set_status(
    session: Session, transaction: Transaction, status: TransactionStatus, reason: str | None = None
) -> None:
    """Move a campaign to `status`, stamp the time, and tell its subscribers."""
    now = utcnow()
    transaction.status = status
    transaction.status_reason = reason
    transaction.updated_at = now
    if status in STATUS_TIMESTAMPS:
        setattr(transaction, STATUS_TIMESTAMPS[status], now)
    session.flush()
    webhook_fanout.transaction_status_changed(session, transaction, counts.summary(session, transaction))


def move_campaign(
    session: Session, transaction: Transaction, before: TransactionStatus, after: TransactionStatus, reason: str | None
) -> bool:
    """`before` → `after` (a pause, a resume), when the campaign still is `before`: whether it moved."""
    won = rowcount(
        session.execute(
            update(Transaction)
            .where(Transaction.id == transaction.id, Transaction.status == before)
            .values(status=after)
        )
    )
    session.refresh(transaction)
    if won:
        set_status(session, transaction, after, reason)
    return bool(won)


def release(session: Session, transaction: Transaction) -> None:
    """The send time has come: every batch gets its send job."""
    set_status(session, transaction, TransactionStatus.READY_TO_SEND)
    for batch_id in session.scalars(select(Batch.id).where(Batch.transaction_id == transaction.id).order_by(Batch.seq)):
        enqueue_send(session, transaction.tenant_id, batch_id)


def enqueue_send(session: Session, tenant_id: uuid.UUID, batch_id: uuid.UUID, run_at: datetime | None = None) -> None:
    queue.enqueue(session, SEND_BATCH_JOB, {"batch_id": str(batch_id)}, tenant_id=tenant_id, run_at=run_at)


def cancel(session: Session, transaction: Transaction) -> bool:
    """Stop a campaign that is not yet sent: every message not yet handed to a transport is cancelled and never
    goes; False (nothing changed) for a campaign past that."""
    locked = session.execute(
        update(Transaction)
        .where(Transaction.id == transaction.id, Transaction.status.in_(CANCELLABLE))
        .values(status=TransactionStatus.CANCELLED)
    )
    if rowcount(locked) == 0:
        session.refresh(transaction)
        return False
    move(session, Message.transaction_id == transaction.id, WAITING_MESSAGE_STATUSES, MessageStatus.CANCELLED)
    session.execute(
        update(Batch)
        .where(Batch.transaction_id == transaction.id, Batch.status.in_([BatchStatus.PROCESSING, BatchStatus.READY]))
        .values(status=BatchStatus.CANCELLED, updated_at=utcnow())
    )
    session.refresh(transaction)
    set_status(session, transaction, TransactionStatus.CANCELLED, "cancelled by request")
    return True


def finish_batch(session: Session, batch: Batch, sent_before: datetime | None = None) -> None:
    """Mark the batch, then the campaign, SENT once none of their messages waits to be sent, and COMPLETED at
    once when every message already has an outcome (see `complete_finished`)."""
    if _has_unsent(session, Message.batch_id == batch.id):
        return
    session.execute(
        update(Batch)
        .where(Batch.id == batch.id, Batch.status == BatchStatus.READY)
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
    if rowcount(won):
        transaction = session.get_one(Transaction, batch.transaction_id)
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
        if rowcount(won):
            transaction = session.get_one(Transaction, transaction_id)
            session.refresh(transaction)
            set_status(session, transaction, TransactionStatus.COMPLETED)


def _awaits_outcome(sent_before: datetime | None):
    """A message with no outcome yet: not sent, or SENT (after `sent_before`, when there is a window)."""
    sent = Message.status == MessageStatus.SENT
    if sent_before is not None:
        sent = and_(sent, or_(Message.sent_at.is_(None), Message.sent_at > sent_before))
    return or_(Message.status.in_(UNSENT_MESSAGE_STATUSES), sent)


def _has_unsent(session: Session, where) -> bool:
    unsent = select(Message.id).where(where, Message.status.in_(UNSENT_MESSAGE_STATUSES)).limit(1)
    return session.scalar(unsent) is not None
