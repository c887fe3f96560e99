"""The worker loop: claim due jobs in batches, run each as a task, keep their leases (leases.py), record the outcome.

The database may go away at any moment: a claim, a lease's renewal or an outcome that cannot be written is tried
again, with a pause that grows, until the database answers; the worker never exits for it. A job that failed
because of it is recorded as failed once it can be, and runs again after its backoff. For a lease after an
outage a worker claims queued jobs only, not running ones whose lease ran out meanwhile: their workers renew
them first, so no job runs twice for an outage.

Jobs run in lanes, each with its own bound of jobs at once: webhook deliveries (network-bound, many at once)
in one, every other kind (`worker_concurrency`) in the other, so neither kind takes the other's slots."""

import asyncio
import contextlib
import math
import os
import socket
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import structlog
import uvloop
from sqlalchemy.orm import Session

from emailplatform.db import UNAVAILABLE
from emailplatform.jobs import queue
from emailplatform.jobs.batching import batcher_for
from emailplatform.jobs.context import Handler, JobContext
from emailplatform.jobs.leases import Leases
from emailplatform.models import utcnow
from emailplatform.runtime import Runtime

log = structlog.get_logger("emailplatform.worker")

RECONNECT_FIRST_SECONDS = 0.25
RECONNECT_MAX_SECONDS = 5.0


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop (installed with uvicorn[standard]): the send pipeline's event loop overhead, a third less."""
    return uvloop.new_event_loop()


def run(coroutine):
    """Run a coroutine to its end on a new event loop of the kind the worker uses."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(coroutine)


@dataclass
class Lane:
    """Jobs of `kinds` (or, `other_kinds`, of every kind but those), at most `concurrency` at once."""

    concurrency: int
    kinds: tuple[str, ...]
    other_kinds: bool = False
    running: set[asyncio.Task] = field(default_factory=set)
    eager: bool = True  # claim without waiting for the poll: its last claim came back full, or a job ended since
    claimed_at: float = 0.0  # event loop time of its last claim

    def wanted(self) -> int:
        """How many jobs to claim: none while most slots are busy (a claim costs a transaction, so claims come
        in batches)."""
        return 0 if len(self.running) > self.concurrency * 3 // 4 else self.concurrency - len(self.running)


@dataclass(frozen=True)
class ClaimRequest:
    wants: list[tuple[Lane, int]]  # how many jobs each lane wants
    done: list[int]  # the jobs finished since the last claim
    take_over: bool = True  # running jobs whose lease ran out too


class Worker:
    """Runs the jobs of `handlers`' kinds in `lanes`, and keeps one job of each of `periodic` kinds queued."""

    def __init__(
        self,
        runtime: Runtime,
        handlers: dict[str, Handler],
        lanes: list[Lane],
        *,
        periodic: tuple[str, ...] = (),
        poll_seconds: float = 0.25,
    ):
        settings = runtime.settings
        self.runtime = runtime
        self.lanes = lanes
        self.periodic = periodic
        self.lease_seconds = settings.job_lease_seconds
        self.max_attempts = settings.job_max_attempts
        self.retry_base_seconds = settings.job_retry_base_seconds
        self.poll_seconds = poll_seconds
        self.id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.handlers = handlers
        self.done: list[int] = []  # finished jobs, marked done with the next claim: one transaction fewer a job
        self.room = asyncio.Event()  # set when a job ends and leaves its lane room to claim more
        self.stop = asyncio.Event()
        self.outage = Backoff("database unavailable", self.stop)
        self.leases = Leases(runtime.db, self.id, self.lease_seconds)
        self.take_over_from = 0.0  # event loop time from which jobs whose lease ran out may be claimed

    async def run(self, stop: asyncio.Event) -> None:
        settings = self.runtime.settings
        log.info(
            "worker started",
            worker=self.id,
            concurrency=settings.worker_concurrency,
            webhook_concurrency=settings.webhook_concurrency,
        )
        self.stop = self.outage.stop = stop
        self.leases.start()
        try:
            await self._until_written(self._ensure_periodic)
            await self._claim_until(stop)
            if self._running():
                await asyncio.wait(self._running())
            try:
                await self._record_done()
            except UNAVAILABLE:  # their leases lapse and they run again: every handler may run twice
                log.warning("finished jobs not recorded: the database is unavailable", jobs=len(self.done))
        finally:
            await asyncio.to_thread(self.leases.stop)  # a renewal under way may wait on the database
        log.info("worker stopped", worker=self.id)

    async def _claim_until(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                started = await self._claim_and_start(self._lanes_due())
            except UNAVAILABLE as exc:
                self.take_over_from = math.inf
                await self.outage.wait(exc)
                continue
            if self.outage.seconds:
                self.take_over_from = asyncio.get_running_loop().time() + self.lease_seconds
            self.outage.over()
            if not started:
                await self._idle(stop)

    async def run_until_idle(self) -> None:
        """Run jobs until none is due and none is running: for tests and benchmarks."""
        self.leases.start()
        try:
            await self._run_until_idle()
        finally:
            await asyncio.to_thread(self.leases.stop)

    async def _run_until_idle(self) -> None:
        await self._ensure_periodic()
        while True:
            if any(lane.running for lane in self.lanes):
                if not await self._claim_and_start(self._lanes_due()):
                    await self._idle()
                continue
            # nothing runs: ask every lane, and stop when none has a job due
            if not await self._claim_and_start([lane for lane in self.lanes if lane.wanted()]):
                await self._record_done()
                return

    async def _ensure_periodic(self) -> None:
        for kind in self.periodic:
            await asyncio.to_thread(queue.ensure_periodic, self.runtime.db, kind, utcnow())

    def _running(self) -> set[asyncio.Task]:
        return set().union(*(lane.running for lane in self.lanes))

    def _lanes_due(self) -> list[Lane]:
        """The lanes to claim for: those with room, at once after a full claim or a job's end, else once a poll."""
        now = asyncio.get_running_loop().time()
        return [
            lane for lane in self.lanes if lane.wanted() and (lane.eager or now - lane.claimed_at >= self.poll_seconds)
        ]

    async def _claim_and_start(self, lanes: list[Lane]) -> int:
        """Claim for `lanes` and start what came; the same transaction records the finished jobs."""
        self.room.clear()
        if not lanes:
            return 0
        take_over = asyncio.get_running_loop().time() >= self.take_over_from
        request = ClaimRequest([(lane, lane.wanted()) for lane in lanes], self._take_done(), take_over)
        for lane in lanes:
            lane.eager = False
        try:
            claims = await self._write(self._claim, request)
        except BaseException:
            self.done[:0] = request.done  # recorded with the next claim that goes through
            raise
        self.leases.release(request.done)
        now = asyncio.get_running_loop().time()
        for (lane, wanted), claimed in zip(request.wants, claims):
            lane.eager, lane.claimed_at = lane.eager or len(claimed) == wanted, now
            for job in claimed:
                self._start(lane, job)
        return sum(len(claimed) for claimed in claims)

    def _claim(self, session: Session, requests: list[ClaimRequest]) -> list[list[list[queue.ClaimedJob]]]:
        """For each request, the jobs each of its lanes got."""
        answers = []
        for request in requests:
            if request.done:
                queue.mark_done(session, request.done, self.id)
            answers.append(
                [
                    queue.claim(
                        session,
                        self.id,
                        wanted,
                        self.lease_seconds,
                        self.max_attempts,
                        kinds=lane.kinds,
                        other_kinds=lane.other_kinds,
                        take_over=request.take_over,
                    )
                    for lane, wanted in request.wants
                ]
            )
        return answers

    def _reschedule(self, session: Session, jobs: list[tuple[int, datetime]]) -> None:
        queue.reschedule(session, jobs, self.id)

    async def _record_done(self) -> None:
        if self.done:
            done = self._take_done()
            await self._write(self._claim, ClaimRequest([], done))
            self.leases.release(done)

    def _take_done(self) -> list[int]:
        done, self.done = self.done, []
        return done

    async def _write(self, function, item):
        """`function(session, [item, …])` in the next round of the write batcher: claims and the jobs' own
        writes share transactions (and never wait for each other's lock on SQLite)."""
        return await batcher_for(self.runtime.db, write=True).call(function, item)

    def _start(self, lane: Lane, job: queue.ClaimedJob) -> None:
        self.leases.hold(job.id)
        task = asyncio.create_task(self._run(job))
        lane.running.add(task)

        def ended(task: asyncio.Task) -> None:
            lane.running.discard(task)
            lane.eager = True
            if lane.wanted():
                self.room.set()

        task.add_done_callback(ended)

    async def _idle(self, stop: asyncio.Event | None = None) -> None:
        """Until a lane has room again, a poll has passed, or the worker stops."""
        events = [self.room, stop] if stop else [self.room]
        waiters = [asyncio.ensure_future(event.wait()) for event in events]
        await asyncio.wait(waiters, timeout=self.poll_seconds, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waiters:
            waiter.cancel()

    async def _run(self, job: queue.ClaimedJob) -> None:
        """Run the job and write its outcome; a job done is written with the next claim, and keeps its lease till
        then."""
        db = self.runtime.db
        try:
            handler = self.handlers.get(job.kind)
            if handler is None:
                raise LookupError(f"no handler for job kind {job.kind!r}")
            next_run = await handler(JobContext(self.runtime, job), job.payload)
        except Exception as exc:  # a job's failure is recorded, never fatal to the worker
            error = "".join(traceback.format_exception_only(exc)).strip()
            log.warning("job failed", job_id=job.id, kind=job.kind, attempt=job.attempts, error=error)
            await self._until_written(asyncio.to_thread, queue.fail, db, job, self.id, error, self.retry_base_seconds)
        else:
            if next_run is None:
                self.done.append(job.id)
                return
            await self._until_written(self._write, self._reschedule, (job.id, next_run))
        self.leases.release([job.id])

    async def _until_written(self, function, *args) -> None:
        """Await `function(*args)` until the database takes it, or the worker stops (then the lease lapses)."""
        backoff = Backoff("database unavailable", self.stop)
        while True:
            try:
                await function(*args)
                return
            except UNAVAILABLE as exc:
                if self.stop.is_set():
                    return
                await backoff.wait(exc)


class Backoff:
    """A pause before trying again that doubles each time, up to a bound; `stop` cuts it short."""

    def __init__(self, what: str, stop: asyncio.Event):
        self.what = what
        self.stop = stop
        self.seconds = 0.0

    async def wait(self, exc: Exception) -> None:
        if not self.seconds:
            log.warning(f"{self.what}; trying again", error=str(exc).splitlines()[0] if str(exc) else repr(exc))
        self.seconds = min(RECONNECT_MAX_SECONDS, self.seconds * 2 or RECONNECT_FIRST_SECONDS)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), self.seconds)

    def over(self) -> None:
        if self.seconds:
            log.info(f"{self.what} no longer")
            self.seconds = 0.0


async def run_supervised(
    make_worker: Callable[[], Worker], stop: asyncio.Event, on_restart: Callable[[], None] = lambda: None
) -> None:
    """Run a worker until `stop`; one that fails anyway (a bug: the database going away is not a failure) is
    started afresh after a pause that grows."""
    backoff = Backoff("worker restarting", stop)
    while not stop.is_set():
        try:
            await make_worker().run(stop)
        except Exception as exc:
            log.exception("worker failed")
            on_restart()
            await backoff.wait(exc)
