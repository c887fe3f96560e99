"""Tracking events kept in memory and written in bulk: an open or a click costs a list append, and a thread
of its own records what gathered every FLUSH_SECONDS (sooner when FLUSH_EVENTS wait), through
`events.service.record_many`, in one transaction. A failed write is retried with the events kept, and
`stop()` writes whatever is left, so a normal shutdown loses nothing. The buffer is bounded: when the
database falls behind, `room()` makes new hits wait; after seconds of a database refusing writes they are
dropped, logged, so the pixel still answers."""

import asyncio
import threading
import time
from collections import deque

import structlog

from emailplatform.events import service as event_service
from emailplatform.runtime import Runtime

log = structlog.get_logger("emailplatform.events.buffer")

FLUSH_SECONDS = 0.1
FLUSH_EVENTS = 1000
MAX_EVENTS = 50_000
RETRY_SECONDS = 1.0
STOP_RETRIES = 3
WAIT_FOR_ROOM_SECONDS = 0.005
MAX_WAIT_FOR_ROOM_SECONDS = 2.0


class EventBuffer:
    def __init__(
        self,
        runtime: Runtime,
        *,
        flush_seconds: float = FLUSH_SECONDS,
        flush_events: int = FLUSH_EVENTS,
        max_events: int = MAX_EVENTS,
    ):
        self.runtime = runtime
        self.flush_seconds = flush_seconds
        self.flush_events = flush_events
        self.max_events = max_events
        self.pending: deque[event_service.NewEvent] = deque()
        self.wake = threading.Event()
        self.stopping = False
        self.thread = threading.Thread(target=self._run, name="emailplatform-event-buffer", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def add(self, event: event_service.NewEvent) -> None:
        self.pending.append(event)  # deque.append is atomic: no lock on the hot path
        if len(self.pending) >= self.flush_events:
            self.wake.set()

    def full(self) -> bool:
        return len(self.pending) >= self.max_events

    async def room(self, timeout: float = MAX_WAIT_FOR_ROOM_SECONDS) -> bool:
        """Wait until the buffer can take another event (at once, unless the database is behind); False when
        it is still full after `timeout`: the database has been refusing writes for a while."""
        waited = 0.0
        while self.full():
            if waited >= timeout:
                return False
            self.wake.set()
            await asyncio.sleep(WAIT_FOR_ROOM_SECONDS)
            waited += WAIT_FOR_ROOM_SECONDS
        return True

    def stop(self, timeout: float = 30) -> None:
        """Write every event still waiting, then end the thread."""
        self.stopping = True
        self.wake.set()
        self.thread.join(timeout)
        if self.thread.is_alive():
            log.error("the event buffer did not finish writing", waiting=len(self.pending))

    def _run(self) -> None:
        failures_while_stopping = 0
        while True:
            self.wake.wait(self.flush_seconds)
            self.wake.clear()
            stopping = self.stopping
            if self._drain():
                if stopping and not self.pending:
                    return
                continue
            failures_while_stopping += stopping
            if failures_while_stopping > STOP_RETRIES:
                log.error("tracking events lost at shutdown: the database refused them", lost=len(self.pending))
                return
            time.sleep(RETRY_SECONDS)

    def _drain(self) -> bool:
        while self.pending:
            if not self._flush():
                return False
        return True

    def _flush(self) -> bool:
        batch = [self.pending.popleft() for _ in range(min(len(self.pending), self.flush_events))]
        try:
            with self.runtime.db.session() as session:
                event_service.record_many(session, batch)
        except Exception:
            log.exception("tracking events could not be written; retrying", events=len(batch))
            self.pending.extendleft(reversed(batch))
            return False
        return True
