"""The record step: outcomes written back as they come, not a claim at a time.

Each message handed over by the transport holds one of its worker process's `unrecorded` slots (by default one for
each of its SMTP connections) until its outcome is committed: a worker killed in the middle of its batches can
send again at most that many, whatever it had claimed, however slow the database. One writer a process writes the
outcomes of all its batches, all that wait at once, as soon as the write before is done (a group commit: the
slower the database, the more in one write), on a thread, off the event loop; while the database is away the
outcomes wait and are tried again, and no new message goes out meanwhile.
"""

import asyncio
import re
import uuid
import weakref
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import structlog
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from emailplatform.campaigns import status
from emailplatform.config import Settings
from emailplatform.db import UNAVAILABLE
from emailplatform.events import bounces
from emailplatform.events import service as events_service
from emailplatform.events.service import NewEvent
from emailplatform.models import MessageStatus, utcnow
from emailplatform.runtime import Runtime
from emailplatform.sending.steps import SUPPRESSED, BatchPlan, Claimed, Outcome, Stopped
from emailplatform.sending.throttles import Waiting
from emailplatform.sending.transports.base import SendResult, SendStatus
from emailplatform.webhooks import fanout as webhook_fanout

log = structlog.get_logger("emailplatform.sending")

RETRY_FIRST_SECONDS, RETRY_MAX_SECONDS = 0.25, 5.0
SMTP_PERMANENT = re.compile(r"^(5\d\d)\b")
_recorders: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # event loop -> its recorders, by runtime


def recorder_for(runtime: Runtime) -> "Recorder":
    """The worker process's recorder (one an event loop and runtime)."""
    of_loop = _recorders.setdefault(asyncio.get_running_loop(), {})
    recorder = of_loop.get(id(runtime))
    if recorder is None or recorder.runtime is not runtime:
        recorder = of_loop[id(runtime)] = Recorder(runtime)
    return recorder


UNRECORDED_PER_CONNECTION = 1  # the default: a killed process sends again at most what its connections had in flight


def unrecorded_limit(settings: Settings) -> int:
    """How many messages a process may have handed to the transport with their outcomes not yet committed."""
    return settings.send_unrecorded_limit or UNRECORDED_PER_CONNECTION * settings.smtp_connections


class Recorder:
    """Takes outcomes as the sends finish and writes them, all that wait at once, as soon as the write before
    is done; gives back the `unrecorded` slot of each one sent once it is written."""

    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        settings = runtime.settings
        self.unrecorded = asyncio.Semaphore(unrecorded_limit(settings))
        self._pending: list[tuple[BatchPlan, Outcome]] = []
        self._unwritten: Counter[uuid.UUID] = Counter()  # outcomes of each batch not yet written
        self._errors: dict[uuid.UUID, BaseException] = {}
        self._written = asyncio.Condition()
        self._task: asyncio.Task | None = None
        # One writer thread, which holds its database connection while outcomes keep coming (no pool checkout and
        # ping a write) and lets it go when they stop.
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="recorder")
        self._connection: Connection | None = None

    def add(self, plan: BatchPlan, outcome: Outcome) -> None:
        self._pending.append((plan, outcome))
        self._unwritten[plan.batch_id] += 1
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._write_while_pending())

    async def drain(self, batch_id: uuid.UUID) -> None:
        """Wait until every outcome of the batch is written; raises what a write of them raised."""
        async with self._written:
            await self._written.wait_for(lambda: not self._unwritten[batch_id])
        del self._unwritten[batch_id]
        error = self._errors.pop(batch_id, None)
        if error is not None:
            raise error

    async def _write_while_pending(self) -> None:
        try:
            while self._pending:
                group, self._pending = self._pending, []
                try:
                    await self._write(group)
                except Exception as exc:  # the batches' jobs fail with it; their messages go again on the next run
                    self._errors.update((plan.batch_id, exc) for plan, _ in group)
                finally:
                    self._give_back(group)
                async with self._written:
                    self._unwritten.subtract(plan.batch_id for plan, _ in group)
                    self._written.notify_all()
        finally:  # after the last write, cancelled or not
            self._thread.submit(self._let_go)

    async def _write(self, group: list[tuple[BatchPlan, Outcome]]) -> None:
        pause = RETRY_FIRST_SECONDS
        while True:
            try:
                return await asyncio.get_running_loop().run_in_executor(self._thread, self._write_group, group)
            except UNAVAILABLE as exc:
                log.warning("outcomes not recorded yet: the database is unavailable", error=str(exc))
                await asyncio.sleep(pause)
                pause = min(2 * pause, RETRY_MAX_SECONDS)

    def _write_group(self, group: list[tuple[BatchPlan, Outcome]]) -> None:
        by_batch: dict[uuid.UUID, tuple[BatchPlan, list[Outcome]]] = {}
        for plan, outcome in group:
            by_batch.setdefault(plan.batch_id, (plan, []))[1].append(outcome)
        if self._connection is None:
            self._connection = self.runtime.db.writer_engine.connect()
        try:
            with self._connection.begin():
                for plan, outcomes in by_batch.values():
                    record(self._connection, plan, outcomes)
        except BaseException as exc:  # the next write starts on a connection of its own
            if isinstance(exc, UNAVAILABLE):
                self._connection.invalidate()
            self._let_go()
            raise

    def _let_go(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _give_back(self, group: list[tuple[BatchPlan, Outcome]]) -> None:
        for _, outcome in group:
            if outcome.unrecorded:
                self.unrecorded.release()


def record(connection: Connection, plan: BatchPlan, outcomes: list[Outcome]) -> None:
    """Write outcomes back: one statement for all that were sent and one for the suppressed, one row each for the
    rest, whose events (deferred, failed, or bounced for a 5xx reply) go through the events service like any
    other, as does the delivery of those whose transport's acceptance was their delivery. The sent and the
    suppressed, nearly all of them, are written on the bare connection; the rest in a session on it."""
    now = utcnow()
    sent, suppressed, throttled, unsent = _by_kind(outcomes)
    _put_back(connection, throttled)
    moved = status.move_ids(
        connection,
        [message.id for message, _ in sent],
        MessageStatus.SENDING,
        MessageStatus.SENT,
        {"sent_at": now, "last_error": None, "not_before": None},
        count_attempt=True,
    )
    if suppressed:
        status.move_ids(
            connection,
            [message.id for message, _ in suppressed],
            MessageStatus.SENDING,
            MessageStatus.SUPPRESSED,
            {"last_error": suppressed[0][1].reason},
        )
    delivered = [
        NewEvent(message.id, "delivered", now, {"response": result.response})
        for message, result in sent
        if result.delivered
    ]
    notify = plan.notify_sent and moved
    if not (unsent or delivered or notify):
        return
    with Session(bind=connection) as session:  # in the connection's transaction, which the caller commits
        if notify:
            moved_ids = {row.id for row in moved}
            _notify_sent(session, plan, [message for message, _ in sent if message.id in moved_ids], now)
        events = [_record_unsent(session, plan, message, result, now) for message, result in unsent] + delivered
        if events:
            events_service.record_many(session, events)
        session.flush()


def _by_kind(
    outcomes: list[Outcome],
) -> tuple[
    list[tuple[Claimed, SendResult]],
    list[tuple[Claimed, Stopped]],
    list[tuple[Claimed, Waiting]],
    list[tuple[Claimed, SendResult | Stopped]],
]:
    """The sent, the suppressed, the throttled, and the rest, each with its result."""
    sent: list[tuple[Claimed, SendResult]] = []
    suppressed: list[tuple[Claimed, Stopped]] = []
    throttled: list[tuple[Claimed, Waiting]] = []
    unsent: list[tuple[Claimed, SendResult | Stopped]] = []
    for outcome in outcomes:
        message, result = outcome.message, outcome.result
        if isinstance(result, Waiting):
            throttled.append((message, result))
        elif isinstance(result, Stopped) and result.step == SUPPRESSED:
            suppressed.append((message, result))
        elif isinstance(result, SendResult) and result.status == SendStatus.SENT:
            sent.append((message, result))
        else:
            unsent.append((message, result))
    return sent, suppressed, throttled, unsent


def _put_back(connection: Connection, throttled: list[tuple[Claimed, Waiting]]) -> None:
    """Throttled messages wait for their turn, one statement for each wait: no attempt spent, no event."""
    by_wait: dict[Waiting, list[uuid.UUID]] = {}
    for message, waiting in throttled:
        by_wait.setdefault(waiting, []).append(message.id)
    for waiting, ids in by_wait.items():
        status.move_ids(
            connection,
            ids,
            MessageStatus.SENDING,
            MessageStatus.READY_TO_SEND,
            {"not_before": waiting.until, "last_error": waiting.reason},
        )


def _record_unsent(
    session: Session, plan: BatchPlan, message: Claimed, result: SendResult | Stopped, now: datetime
) -> NewEvent:
    """A message stopped or refused: retried later (deferred), or given up (failed; bounced when the server said
    5xx)."""
    attempts = message.attempts + 1
    refused = isinstance(result, SendResult) and result.status == SendStatus.FAILED
    response: str | None
    if isinstance(result, Stopped):
        response, gave_up, step = result.reason, True, {"step": result.step}
    else:
        response, gave_up, step = result.response, refused or attempts >= plan.settings.send_max_attempts, {}
    values = {"attempts": attempts, "last_error": response}
    if gave_up:
        status.move_ids(
            session, [message.id], MessageStatus.SENDING, MessageStatus.FAILED, values | {"not_before": None}
        )
    else:
        delay = plan.settings.send_retry_base_seconds * 2 ** (attempts - 1)
        retry_at = now + timedelta(seconds=delay)
        status.move_ids(
            session, [message.id], MessageStatus.SENDING, MessageStatus.READY_TO_SEND, values | {"not_before": retry_at}
        )
    smtp_reply = SMTP_PERMANENT.match(response or "") if refused else None
    if smtp_reply:
        classified = bounces.classify_reply(int(smtp_reply[1]), response or "")
        return NewEvent(message.id, "bounced", now, classified.details() | {"source": "smtp"})
    details = {"response": response, "attempt": attempts} | step
    return NewEvent(message.id, "failed" if gave_up else "deferred", now, details)


def _notify_sent(session: Session, plan: BatchPlan, sent: list[Claimed], now: datetime) -> None:
    """message.sent webhooks, for tenants that subscribe to them."""
    webhook_fanout.message_events(
        session,
        plan.transaction.tenant_id,
        "sent",
        [
            {
                "message_id": str(message.id),
                "transaction_id": str(plan.transaction.id),
                "recipient": message.email,
                "event": "sent",
                "timestamp": now.isoformat(),
                "details": {},
            }
            for message in sent
        ],
    )
