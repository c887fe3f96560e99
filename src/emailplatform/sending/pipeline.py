"""Sending one batch: claim its due messages a slice at a time, run each through the steps (sending/steps.py)
with as many in flight as the transport has connections, and record the outcomes as they come
(sending/recorder.py). After the pass, come back for deferred messages when the first is due, or close the
batch."""

import asyncio
import uuid
from datetime import timedelta

from sqlalchemy import select

from emailplatform.campaigns import pausing, status
from emailplatform.domains import service as domain_service
from emailplatform.models import (
    WAITING_MESSAGE_STATUSES,
    Batch,
    Message,
    Transaction,
    TransactionStatus,
    utcnow,
)
from emailplatform.runtime import Runtime
from emailplatform.sending import contents, decorate, steps
from emailplatform.sending.recorder import Recorder, recorder_for
from emailplatform.sending.steps import BatchPlan, Claimed, Sender, Throttle
from emailplatform.suppressions import service as suppression
from emailplatform.webhooks import fanout as webhook_fanout

SLICE = 250  # messages claimed at once; each is recorded as soon as it is sent, not with its slice


def load_plan(runtime: Runtime, batch_id: uuid.UUID) -> BatchPlan | None:
    """What sending a batch needs, read once; None if its campaign no longer sends. Orphaned SENDING
    messages (a worker died holding them) go back to waiting."""
    with runtime.db.session() as session:
        batch = session.get(Batch, batch_id)
        transaction = session.get(Transaction, batch.transaction_id) if batch else None
        if batch is None or transaction is None or transaction.status != TransactionStatus.READY_TO_SEND:
            return None
        status.requeue_orphans(session, batch.id)
        parts = contents.parts_of(session, runtime, transaction, batch)
        signer = domain_service.signer_for(session, transaction.tenant_id, transaction.from_email)
        notify_sent = webhook_fanout.has_subscribers(session, transaction.tenant_id, "sent")
    settings = runtime.settings
    return BatchPlan(
        batch_id=batch.id,
        transaction=transaction,
        template=parts.template,
        skeleton=parts.skeleton,
        data=parts.data,
        to_header=parts.to_header,
        signer=signer,
        settings=settings,
        secret=runtime.secret_key,
        tracking_base=decorate.base_url(settings),
        mailto_domain=settings.bounce_domain or transaction.from_email.rpartition("@")[2],
        notify_sent=notify_sent,
    )


def claim(runtime: Runtime, plan: BatchPlan, limit: int = SLICE) -> list[Claimed] | None:
    """The next slice of due messages, now SENDING, each marked if its address is suppressed; None when none
    is due, or when the campaign was paused (by hand, or by its bounce and complaint rates: campaigns/pausing.py).
    A pause, like a cancel, writes the campaign before the messages and their counts."""
    with runtime.db.session() as session:
        if not pausing.still_sending(session, runtime.settings, plan.transaction.id):
            return None
        rows = status.claim(session, plan.batch_id, limit)
        if not rows:
            return None
        blocked = suppression.suppressed(session, plan.transaction.tenant_id, [row.email for row in rows])
    return [Claimed(row.id, row.email, row.position, row.attempts, row.email in blocked) for row in rows]


async def send_slice(plan: BatchPlan, sender: Sender, recorder: Recorder, messages: list[Claimed], connections: int):
    """Send a slice with as many messages in flight as the transport has connections, each handed to the
    recorder as soon as it is done: each message is rendered just before its turn, not all at once, so the
    event loop never stalls a whole slice long while answers from the server wait."""
    in_flight = asyncio.Semaphore(connections)

    async def send(message: Claimed) -> None:
        async with in_flight:
            recorder.add(plan, await steps.run(plan, sender, message))

    await asyncio.gather(*(send(message) for message in messages))


def finish(runtime: Runtime, plan: BatchPlan) -> None:
    """After a pass: come back for deferred messages when the first is due, or close the batch."""
    with runtime.db.session() as session:
        next_try = session.scalar(
            select(Message.not_before)
            .where(
                Message.batch_id == plan.batch_id,
                Message.status.in_(WAITING_MESSAGE_STATUSES),
                Message.not_before.is_not(None),
            )
            .order_by(Message.not_before)
            .limit(1)
        )
        if next_try is not None:
            status.enqueue_send(session, plan.transaction.tenant_id, plan.batch_id, run_at=next_try)
        else:
            window = timedelta(hours=runtime.settings.outcome_window_hours)
            status.finish_batch(session, session.get_one(Batch, plan.batch_id), sent_before=utcnow() - window)


async def send_batch(runtime: Runtime, batch_id: uuid.UUID, throttle: Throttle | None = None) -> None:
    """Send a batch's due messages; `throttle` holds each back as its tenant's and recipient domain's limits say
    (sending/throttles.py, one a process), or none."""
    plan = await asyncio.to_thread(load_plan, runtime, batch_id)
    if plan is None:
        return
    recorder = recorder_for(runtime)
    sender = Sender(runtime.transport, recorder.unrecorded, throttle)
    try:
        while (claimed := await asyncio.to_thread(claim, runtime, plan)) is not None:
            await send_slice(plan, sender, recorder, claimed, runtime.settings.smtp_connections)
    finally:
        await recorder.drain(plan.batch_id)
    await asyncio.to_thread(finish, runtime, plan)
