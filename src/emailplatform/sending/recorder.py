"""The record step: outcomes written back as they come, a few at a time, not a claim at a time.

A message the server accepted is SENT in the database within about `FLUSH_SECONDS` (plus one commit): a worker
killed in the middle of a batch sends again only what was in its SMTP transactions and what the server accepted
in that last moment, not everything it had claimed. The writes run on a thread, off the event loop, one at a
time per batch; while the database is away they wait and try again, the outcomes kept.
"""

import asyncio
import re
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog
from sqlalchemy.orm import Session

from emailplatform.campaigns import status
from emailplatform.db import UNAVAILABLE
from emailplatform.events import bounces
from emailplatform.events import service as events_service
from emailplatform.events.service import NewEvent
from emailplatform.models import Message, MessageStatus, utcnow
from emailplatform.sending.steps import SUPPRESSED, BatchPlan, Outcome, Stopped
from emailplatform.sending.transports.base import SendStatus
from emailplatform.webhooks import service as webhook_service

log = structlog.get_logger("emailplatform.sending")

FLUSH_SECONDS = 0.05
FLUSH_MESSAGES = 250
RETRY_FIRST_SECONDS, RETRY_MAX_SECONDS = 0.25, 5.0
SMTP_PERMANENT = re.compile(r"^(5\d\d)\b")


class Recorder:
    """Takes outcomes as the sends finish and writes them with `write` every FLUSH_SECONDS, or as soon as
    FLUSH_MESSAGES wait; `close` writes the rest."""

    def __init__(self, write: Callable[[list[Outcome]], None]):
        self._write = write
        self._pending: list[Outcome] = []
        self._wake = asyncio.Event()
        self._closing = False
        self._task = asyncio.create_task(self._write_until_closed())

    def add(self, outcome: Outcome) -> None:
        self._pending.append(outcome)
        if len(self._pending) >= FLUSH_MESSAGES:
            self._wake.set()

    async def close(self) -> None:
        self._closing = True
        self._wake.set()
        await self._task

    async def _write_until_closed(self) -> None:
        pause = RETRY_FIRST_SECONDS
        while not (self._closing and not self._pending):
            try:
                await asyncio.wait_for(self._wake.wait(), FLUSH_SECONDS)
            except TimeoutError:
                pass
            self._wake.clear()
            written, self._pending = self._pending, []
            if not written:
                continue
            try:
                await asyncio.to_thread(self._write, written)
                pause = RETRY_FIRST_SECONDS
            except UNAVAILABLE as exc:
                log.warning("outcomes not recorded yet: the database is unavailable", error=str(exc))
                self._pending = written + self._pending
                await asyncio.sleep(pause)
                pause = min(2 * pause, RETRY_MAX_SECONDS)


def record(session: Session, plan: BatchPlan, outcomes: list[Outcome]) -> None:
    """Write outcomes back: one statement for all that were sent and one for the suppressed, one row each for the
    rest, whose events (deferred, failed, or bounced for a 5xx reply) go through the events service like any
    other, as does the delivery of those whose transport's acceptance was their delivery."""
    now = utcnow()
    sent, suppressed, unsent = _by_kind(outcomes)
    if sent:
        moved = status.move(
            session, Message.id.in_([o.message.id for o in sent]), [MessageStatus.SENDING], MessageStatus.SENT,
            values={"sent_at": now, "attempts": Message.attempts + 1, "last_error": None, "not_before": None},
        )
        if plan.notify_sent and moved:
            moved_ids = {row.id for row in moved}
            _notify_sent(session, plan, [o for o in sent if o.message.id in moved_ids], now)
    if suppressed:
        status.move(
            session, Message.id.in_([o.message.id for o in suppressed]), [MessageStatus.SENDING],
            MessageStatus.SUPPRESSED, values={"last_error": suppressed[0].result.reason},
        )
    events = [_record_unsent(session, plan, outcome, now) for outcome in unsent]
    events += [
        NewEvent(o.message.id, "delivered", now, {"response": o.result.response}) for o in sent if o.result.delivered
    ]
    if events:
        events_service.record_many(session, events)


def _by_kind(outcomes: list[Outcome]) -> tuple[list[Outcome], list[Outcome], list[Outcome]]:
    """The sent, the suppressed, and the rest."""
    sent, suppressed, unsent = [], [], []
    for outcome in outcomes:
        result = outcome.result
        if isinstance(result, Stopped):
            (suppressed if result.step == SUPPRESSED else unsent).append(outcome)
        else:
            (sent if result.status == SendStatus.SENT else unsent).append(outcome)
    return sent, suppressed, unsent


def _record_unsent(session: Session, plan: BatchPlan, outcome: Outcome, now: datetime) -> NewEvent:
    """A message stopped or refused: retried later (deferred), or given up (failed; bounced when the server said
    5xx)."""
    message, result = outcome.message, outcome.result
    attempts = message.attempts + 1
    stopped = isinstance(result, Stopped)
    response = result.reason if stopped else result.response
    gave_up = stopped or result.status == SendStatus.FAILED or attempts >= plan.settings.send_max_attempts
    values = {"attempts": attempts, "last_error": response}
    if gave_up:
        status.move(session, Message.id == message.id, [MessageStatus.SENDING], MessageStatus.FAILED,
                    values=values | {"not_before": None})
    else:
        delay = plan.settings.send_retry_base_seconds * 2 ** (attempts - 1)
        status.move(session, Message.id == message.id, [MessageStatus.SENDING], MessageStatus.READY_TO_SEND,
                    values=values | {"not_before": now + timedelta(seconds=delay)})
    smtp_reply = None if stopped or result.status != SendStatus.FAILED else SMTP_PERMANENT.match(response or "")
    if smtp_reply:
        classified = bounces.classify_reply(int(smtp_reply[1]), response)
        return NewEvent(message.id, "bounced", now, classified.details() | {"source": "smtp"})
    details = {"response": response, "attempt": attempts} | ({"step": result.step} if stopped else {})
    return NewEvent(message.id, "failed" if gave_up else "deferred", now, details)


def _notify_sent(session: Session, plan: BatchPlan, sent: list[Outcome], now: datetime) -> None:
    """message.sent webhooks, for tenants that subscribe to them."""
    webhook_service.message_events(session, plan.transaction.tenant_id, "sent", [
        {"message_id": str(o.message.id), "transaction_id": str(plan.transaction.id), "recipient": o.message.email,
         "event": "sent", "timestamp": now.isoformat(), "details": {}}
        for o in sent
    ])
