"""The worker loop: claim due jobs in batches, run each as a task, heartbeat its lease, record the outcome."""

import asyncio
import os
import socket
import traceback
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import structlog
import uvloop

from emailplatform.jobs import queue
from emailplatform.models import utcnow
from emailplatform.runtime import Runtime

log = structlog.get_logger("emailplatform.worker")


@dataclass
class JobContext:
    runtime: Runtime
    job: queue.ClaimedJob


PERIODIC_KINDS = ("cleanup",)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop (installed with uvicorn[standard]): the send pipeline's event loop overhead, a third less."""
    return uvloop.new_event_loop()


def run(coroutine):
    """Run a coroutine to its end on a new event loop of the kind the worker uses."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(coroutine)
Handler = Callable[[JobContext, dict], Awaitable[datetime | None]]  # a periodic job answers its next run


def registered_handlers() -> dict[str, Handler]:
    from emailplatform.campaigns import tasks as campaign_tasks
    from emailplatform.jobs import tasks as maintenance_tasks
    from emailplatform.sending import tasks as sending_tasks
    from emailplatform.webhooks import tasks as webhook_tasks

    return {**campaign_tasks.HANDLERS, **sending_tasks.HANDLERS, **webhook_tasks.HANDLERS, **maintenance_tasks.HANDLERS}


class Worker:
    def __init__(self, runtime: Runtime, *, poll_seconds: float = 0.25):
        settings = runtime.settings
        self.runtime = runtime
        self.concurrency = settings.worker_concurrency
        self.lease_seconds = settings.job_lease_seconds
        self.max_attempts = settings.job_max_attempts
        self.retry_base_seconds = settings.job_retry_base_seconds
        self.poll_seconds = poll_seconds
        self.id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.handlers = registered_handlers()
        self.running: set[asyncio.Task] = set()
        self.done: list[int] = []  # finished jobs, marked done with the next claim: one transaction fewer a job

    async def run(self, stop: asyncio.Event) -> None:
        log.info("worker started", worker=self.id, concurrency=self.concurrency)
        await self._ensure_periodic()
        while not stop.is_set():
            if self._few_slots_free() or not await self._claim_and_start():
                await self._idle(stop)
        if self.running:
            await asyncio.wait(self.running)
        await self._claim(0)
        log.info("worker stopped", worker=self.id)

    async def run_until_idle(self) -> None:
        """Run jobs until none is due and none is running: for tests and benchmarks."""
        await self._ensure_periodic()
        while True:
            was_running = bool(self.running)  # a job ending during the claim may have enqueued another
            started = await self._claim_and_start()
            if not (started or was_running or self.running):
                await self._claim(0)
                return
            if self.running and (not started or self._few_slots_free()):
                await asyncio.wait(self.running, return_when=asyncio.FIRST_COMPLETED)

    async def _ensure_periodic(self) -> None:
        for kind in PERIODIC_KINDS:
            await asyncio.to_thread(queue.ensure_periodic, self.runtime.db, kind, utcnow())

    def _few_slots_free(self) -> bool:
        """Claim in batches: while most slots are busy, wait for more to free up (claims cost a transaction)."""
        return len(self.running) > self.concurrency * 3 // 4

    async def _claim_and_start(self) -> int:
        claimed = await self._claim(self.concurrency - len(self.running))
        for job in claimed:
            task = asyncio.create_task(self._run(job))
            self.running.add(task)
            task.add_done_callback(self.running.discard)
        return len(claimed)

    async def _claim(self, limit: int) -> list[queue.ClaimedJob]:
        """Claim up to `limit` jobs (0: only record the finished ones)."""
        done, self.done = self.done, []
        if limit <= 0 and not done:
            return []
        return await asyncio.to_thread(
            queue.claim, self.runtime.db, self.id, limit, self.lease_seconds, self.max_attempts, done
        )

    async def _idle(self, stop: asyncio.Event) -> None:
        waiters = [asyncio.ensure_future(stop.wait()), *self.running]
        await asyncio.wait(waiters, timeout=self.poll_seconds, return_when=asyncio.FIRST_COMPLETED)
        waiters[0].cancel()

    async def _run(self, job: queue.ClaimedJob) -> None:
        heartbeat = asyncio.create_task(self._heartbeat(job))
        db = self.runtime.db
        try:
            handler = self.handlers.get(job.kind)
            if handler is None:
                raise LookupError(f"no handler for job kind {job.kind!r}")
            next_run = await handler(JobContext(self.runtime, job), job.payload)
        except Exception as exc:  # a job's failure is recorded, never fatal to the worker
            error = "".join(traceback.format_exception_only(exc)).strip()
            dead = await asyncio.to_thread(queue.fail, db, job, self.id, error, self.retry_base_seconds)
            log.warning("job failed", job_id=job.id, kind=job.kind, attempt=job.attempts, dead=dead, error=error)
        else:
            if next_run is None:
                self.done.append(job.id)
            else:
                await asyncio.to_thread(queue.reschedule, db, job.id, self.id, next_run)
        finally:
            heartbeat.cancel()

    async def _heartbeat(self, job: queue.ClaimedJob) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            await asyncio.to_thread(queue.extend_lease, self.runtime.db, job.id, self.id, self.lease_seconds)
