"""Sending one batch: claim messages a slice at a time, and for each run the named steps
suppressed? → render → track links → build → sign → send → record. Any step can stop a message with a recorded outcome."""

import asyncio
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from emailplatform.campaigns import service as campaign_service
from emailplatform.campaigns import counts, splitting
from emailplatform.domains import service as domain_service
from emailplatform.events import bounces, tracking
from emailplatform.events import service as events_service
from emailplatform.events.service import NewEvent
from emailplatform.models import (
    WAITING_MESSAGE_STATUSES,
    Batch,
    Message,
    MessageStatus,
    Transaction,
    TransactionStatus,
    utcnow,
)
from emailplatform.runtime import Runtime
from emailplatform.domains.dkim import DkimSigner
from emailplatform.sending.mime import MessageSkeleton, make_message_id
from emailplatform.sending.transports.base import OutgoingMessage, SendResult, SendStatus
from emailplatform.suppressions import service as suppression
from emailplatform.templates import rendering
from emailplatform.templates import service as template_service
from emailplatform.webhooks import fanout as webhook_service

SMTP_PERMANENT = re.compile(r"^(5\d\d)\b")
SLICE = 250  # messages claimed, sent and written back together: at most this many may go twice after a crash


@dataclass(frozen=True)
class Claimed:
    id: uuid.UUID
    position: int
    email: str
    attempts: int


@dataclass(frozen=True)
class Outcome:
    message: Claimed
    result: SendResult


@dataclass
class BatchPlan:
    batch: Batch
    transaction: Transaction
    template: rendering.CompiledTemplate
    skeleton: MessageSkeleton
    data: list[dict[str, str]]
    signer: DkimSigner | None
    tracking_base: str
    mailto_domain: str  # of the List-Unsubscribe mailto, which the inbound listener receives
    notify_sent: bool  # some webhook endpoint of the tenant hears message.sent


def load_plan(runtime: Runtime, batch_id: uuid.UUID) -> BatchPlan | None:
    """What sending a batch needs, read once; None if its campaign no longer sends. Orphaned SENDING
    messages (a worker died holding them) go back to waiting: they may go twice, never zero times."""
    with runtime.db.session() as session:
        batch = session.get(Batch, batch_id)
        transaction = session.get(Transaction, batch.transaction_id) if batch else None
        if transaction is None or transaction.status != TransactionStatus.READY_TO_SEND:
            return None
        session.execute(
            update(Message)
            .where(Message.batch_id == batch.id, Message.status == MessageStatus.SENDING)
            .values(status=MessageStatus.READY_TO_SEND)
        )
        version = template_service.get_version(
            session, transaction.tenant_id, transaction.template_id, transaction.template_version
        )
        signer = domain_service.signer_for(session, transaction.tenant_id, transaction.from_email)
        notify_sent = webhook_service.has_subscribers(session, transaction.tenant_id, "sent")
    return BatchPlan(
        batch=batch,
        transaction=transaction,
        template=rendering.compile_version(version, runtime.settings),
        skeleton=MessageSkeleton(transaction.from_email, transaction.from_name, transaction.reply_to),
        data=splitting.read_chunk(runtime, batch),
        signer=signer,
        tracking_base=tracking.base_url(runtime.settings),
        mailto_domain=runtime.settings.bounce_domain or transaction.from_email.rpartition("@")[2],
        notify_sent=notify_sent,
    )


def claim(session: Session, plan: BatchPlan, limit: int = SLICE) -> list[Claimed] | None:
    """The next slice of due messages, now SENDING (None when none is due); suppressed recipients stop
    here, SUPPRESSED."""
    now = utcnow()
    batch_id = plan.batch.id
    due = and_(
        Message.batch_id == batch_id,
        Message.status.in_(WAITING_MESSAGE_STATUSES),
        or_(Message.not_before.is_(None), Message.not_before <= now),
    )
    next_ids = select(Message.id).where(due).order_by(Message.position).limit(limit).scalar_subquery()
    rows = session.execute(
        update(Message)
        .where(Message.id.in_(next_ids), due)
        .values(status=MessageStatus.SENDING, updated_at=now)
        .returning(Message.id, Message.position, Message.email, Message.attempts)
        .execution_options(synchronize_session=False)
    ).all()
    if not rows:
        return None
    claimed = [Claimed(*row) for row in rows]
    blocked = suppression.suppressed(session, plan.transaction.tenant_id, [m.email for m in claimed])
    if blocked:
        session.execute(
            update(Message)
            .where(Message.id.in_([m.id for m in claimed if m.email in blocked]))
            .values(status=MessageStatus.SUPPRESSED, updated_at=now, last_error="the address is on the suppression list")
        )
        emails = [m.email for m in claimed if m.email in blocked]
        counts.record_move(session, plan.transaction.id, emails, MessageStatus.SENDING, MessageStatus.SUPPRESSED)
    return [m for m in claimed if m.email not in blocked]


async def send_slice(runtime: Runtime, plan: BatchPlan, messages: list[Claimed]) -> list[Outcome]:
    """Send a slice with as many messages in flight as the transport has connections: each message is
    rendered just before its turn, not all at once, so the event loop never stalls a whole slice long
    while answers from the server wait."""
    in_flight = asyncio.Semaphore(runtime.settings.smtp_connections)

    async def send(message: Claimed) -> Outcome:
        async with in_flight:
            return await send_one(runtime, plan, message)

    return await asyncio.gather(*(send(message) for message in messages))


async def send_one(runtime: Runtime, plan: BatchPlan, message: Claimed) -> Outcome:
    base, secret = plan.tracking_base, runtime.secret_key
    unsubscribe_token = tracking.unsubscribe_token(message.id, secret)
    unsubscribe_url = tracking.unsubscribe_url(unsubscribe_token, base)
    data = plan.data[message.position] | {"email": message.email, "unsubscribe_url": unsubscribe_url}
    try:
        rendered = plan.template.render(data)
    except rendering.RenderError as exc:
        return Outcome(message, SendResult(SendStatus.FAILED, f"the template could not be rendered: {exc}"))
    try:
        raw = plan.skeleton.build(
            to=message.email, subject=rendered.subject,
            html=tracking.decorate_html(
                rendered.html, unsubscribe_url, message.id, base, secret, plan.transaction.tracking
            ),
            text=tracking.decorate_text(rendered.text, unsubscribe_url),
            message_id=make_message_id(message.id, plan.transaction.from_email),
            headers=tracking.unsubscribe_headers(unsubscribe_token, base, plan.mailto_domain),
        )
    except ValueError as exc:
        return Outcome(message, SendResult(SendStatus.FAILED, f"the message could not be built: {exc}"))
    if plan.signer:
        raw = plan.signer.sign(raw)
    outgoing = OutgoingMessage(
        tenant_id=plan.transaction.tenant_id, message_id=message.id,
        envelope_from=bounces.return_path(message.id, plan.transaction.from_email, runtime.settings),
        recipient=message.email, raw=raw,
    )
    return Outcome(message, await runtime.transport.send(outgoing))


def record(session: Session, settings, plan: BatchPlan, outcomes: list[Outcome]) -> None:
    """Write a slice's outcomes back: one statement for all that were sent, one row each for the rest, whose
    events (deferred, failed, or bounced for a 5xx reply) go through the events service like any other, as does
    the delivery of those whose transport's acceptance was their delivery."""
    now = utcnow()
    sent = [o.message.id for o in outcomes if o.result.status == SendStatus.SENT]
    events: list[NewEvent] = []
    if sent:
        emails = session.execute(
            update(Message)
            .where(Message.id.in_(sent), Message.status == MessageStatus.SENDING)
            .values(status=MessageStatus.SENT, sent_at=now, updated_at=now, attempts=Message.attempts + 1,
                    last_error=None, not_before=None)
            .returning(Message.email)
            .execution_options(synchronize_session=False)
        ).scalars()
        counts.record_move(session, plan.transaction.id, emails, MessageStatus.SENDING, MessageStatus.SENT)
        if plan.notify_sent:
            _notify_sent(session, plan, [o.message for o in outcomes if o.result.status == SendStatus.SENT], now)
    for outcome in outcomes:
        if outcome.result.status != SendStatus.SENT:
            events.append(_record_unsent(session, settings, plan, outcome, now))
        elif outcome.result.delivered:
            events.append(NewEvent(outcome.message.id, "delivered", now, {"response": outcome.result.response}))
    if events:
        events_service.record_many(session, events)


def record_and_claim(runtime: Runtime, plan: BatchPlan, outcomes: list[Outcome] | None) -> list[Claimed] | None:
    """One transaction a slice: the claim of the next slice, and the outcomes of the slice just sent. The claim
    comes first, as in a cancel: both lock waiting messages before message counts, never the other way."""
    with runtime.db.session() as session:
        claimed = claim(session, plan)
        if outcomes:
            record(session, runtime.settings, plan, outcomes)
        return claimed


def _record_unsent(session, settings, plan: BatchPlan, outcome: Outcome, now: datetime) -> NewEvent:
    """A refused message: retried later (deferred), or given up (failed; bounced when the server said 5xx)."""
    message, result = outcome.message, outcome.result
    attempts = message.attempts + 1
    gave_up = result.status == SendStatus.FAILED or attempts >= settings.send_max_attempts
    values = {"attempts": attempts, "last_error": result.response, "updated_at": now}
    if gave_up:
        values |= {"status": MessageStatus.FAILED, "not_before": None}
    else:
        delay = settings.send_retry_base_seconds * 2 ** (attempts - 1)
        values |= {"status": MessageStatus.READY_TO_SEND, "not_before": now + timedelta(seconds=delay)}
    changed = session.execute(
        update(Message).where(Message.id == message.id, Message.status == MessageStatus.SENDING).values(**values)
    )
    if gave_up and changed.rowcount:
        counts.record_move(session, plan.transaction.id, [message.email], MessageStatus.SENDING, MessageStatus.FAILED)
    details = {"response": result.response, "attempt": attempts}
    smtp_reply = SMTP_PERMANENT.match(result.response or "") if result.status == SendStatus.FAILED else None
    if smtp_reply:
        classified = bounces.classify_reply(int(smtp_reply[1]), result.response)
        return NewEvent(message.id, "bounced", now, classified.details() | {"source": "smtp"})
    return NewEvent(message.id, "failed" if gave_up else "deferred", now, details)


def _notify_sent(session, plan: BatchPlan, messages: list[Claimed], now: datetime) -> None:
    """message.sent webhooks, for tenants that subscribe to them."""
    webhook_service.message_events(session, plan.transaction.tenant_id, "sent", [
        {"message_id": str(m.id), "transaction_id": str(plan.transaction.id), "recipient": m.email, "event": "sent",
         "timestamp": now.isoformat(), "details": {}}
        for m in messages
    ])


def finish(runtime: Runtime, plan: BatchPlan) -> None:
    """After a pass: come back for deferred messages when the first is due, or close the batch."""
    with runtime.db.session() as session:
        next_try = session.scalar(
            select(Message.not_before)
            .where(
                Message.batch_id == plan.batch.id,
                Message.status.in_(WAITING_MESSAGE_STATUSES),
                Message.not_before.is_not(None),
            )
            .order_by(Message.not_before)
            .limit(1)
        )
        if next_try is not None:
            campaign_service.enqueue_send(session, plan.transaction.tenant_id, plan.batch.id, run_at=next_try)
        else:
            window = timedelta(hours=runtime.settings.outcome_window_hours)
            campaign_service.finish_batch_if_sent(session, plan.batch, sent_before=utcnow() - window)


async def send_batch(runtime: Runtime, batch_id: uuid.UUID) -> None:
    plan = await asyncio.to_thread(load_plan, runtime, batch_id)
    if plan is None:
        return
    outcomes = None
    while (claimed := await asyncio.to_thread(record_and_claim, runtime, plan, outcomes)) is not None:
        outcomes = await send_slice(runtime, plan, claimed)
    await asyncio.to_thread(finish, runtime, plan)
