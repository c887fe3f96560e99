"""Worker processes, supervised. N children each run a worker; one that dies, for any reason, is started afresh
after a pause that grows while it keeps dying. On stop each child is sent SIGTERM, finishes the jobs it has in
flight, and exits; one still running after the drain time is killed (its jobs' leases lapse and another worker
takes them). A child whose parent dies, even by SIGKILL, is sent SIGTERM by the kernel, so none is left behind.

Whether they all run, and how many were restarted, the supervisor may publish in a file every second, for the
API processes of `serve --api-workers N` (its children too, but not the supervisor) to tell in /readyz and the
metrics: PublishedStatus reads it, and a file left unwritten for STALE_SECONDS says the supervisor is gone."""

import ctypes
import json
import multiprocessing
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import structlog

log = structlog.get_logger("emailplatform.processes")

RESTART_FIRST_SECONDS = 0.5
RESTART_MAX_SECONDS = 30.0
STEADY_SECONDS = 60.0  # a child that ran this long before it died is restarted at once, its pause forgotten
PR_SET_PDEATHSIG = 1
STATUS_ENV = "EMAILPLATFORM_SERVE_WORKER_STATUS"  # where the API processes of `serve` find the published status
PUBLISH_SECONDS = 1.0
STALE_SECONDS = 5.0


def _child(target: Callable[[], None], parent: int) -> None:
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before the kernel was told to say so
        return
    target()


@dataclass
class Slot:
    process: multiprocessing.process.BaseProcess | None = None
    started_at: float = 0.0
    pause: float = 0.0
    restart_at: float = 0.0


class WorkerProcesses:
    def __init__(self, count: int, target: Callable[[], None], drain_seconds: float, status_path: Path | None = None):
        self.target = target
        self.drain_seconds = drain_seconds
        self.status_path = status_path
        self.slots = [Slot() for _ in range(count)]
        self.restarts = 0
        self.stopping = threading.Event()
        self.context = multiprocessing.get_context("spawn")  # a fresh interpreter: no threads or loops inherited
        self.watcher = threading.Thread(target=self._watch, name="emailplatform-processes", daemon=True)

    @property
    def alive(self) -> bool:
        return all(slot.process is not None and slot.process.is_alive() for slot in self.slots)

    def start(self) -> None:
        for index, slot in enumerate(self.slots):
            self._spawn(index, slot)
        self.watcher.start()
        log.info("worker processes started", processes=len(self.slots))

    def stop(self) -> None:
        self.stopping.set()
        self.watcher.join()
        running = [slot.process for slot in self.slots if slot.process is not None and slot.process.is_alive()]
        for process in running:
            process.terminate()
        deadline = time.monotonic() + self.drain_seconds
        for process in running:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                log.warning("worker process did not drain in time; killed", pid=process.pid)
                process.kill()
                process.join()

    def _spawn(self, index: int, slot: Slot) -> None:
        process = self.context.Process(
            target=_child, args=(self.target, os.getpid()), name=f"emailplatform-worker-{index}"
        )
        process.start()
        slot.process = process
        slot.started_at = time.monotonic()

    def _watch(self) -> None:
        published_at = 0.0
        while not self.stopping.wait(0.2):
            now = time.monotonic()
            if self.status_path and now - published_at >= PUBLISH_SECONDS:
                self._publish()
                published_at = now
            for index, slot in enumerate(self.slots):
                if slot.process is None or slot.process.is_alive():
                    continue
                if not slot.restart_at:
                    ran = now - slot.started_at
                    slot.pause = (
                        0.0
                        if ran >= STEADY_SECONDS
                        else min(RESTART_MAX_SECONDS, slot.pause * 2 or RESTART_FIRST_SECONDS)
                    )
                    slot.restart_at = now + slot.pause
                    log.warning(
                        "worker process ended; starting another",
                        pid=slot.process.pid,
                        exit_code=slot.process.exitcode,
                        in_seconds=slot.pause,
                    )
                elif now >= slot.restart_at:
                    slot.restart_at = 0.0
                    self._spawn(index, slot)
                    self.restarts += 1  # once it runs: a reader who sees the count sees the new process alive

    def _publish(self) -> None:
        assert self.status_path is not None
        try:
            with tempfile.NamedTemporaryFile("w", dir=self.status_path.parent, delete=False) as tmp:
                json.dump({"alive": self.alive, "restarts": self.restarts}, tmp)
            os.replace(tmp.name, self.status_path)
        except OSError as exc:  # the API processes read it as stale; the watching goes on
            log.warning("worker status not published", path=str(self.status_path), error=str(exc))


class PublishedStatus:
    """What a supervisor of another process publishes of its worker processes (see the module's docstring)."""

    def __init__(self, path: Path):
        self.path = path

    def _read(self) -> dict:
        try:
            age = time.time() - self.path.stat().st_mtime
            return json.loads(self.path.read_text()) | {"fresh": age < STALE_SECONDS}
        except (OSError, ValueError):  # not written yet, or gone with its supervisor
            return {"alive": False, "restarts": 0}

    @property
    def alive(self) -> bool:
        status = self._read()
        return status["alive"] and status["fresh"]

    @property
    def restarts(self) -> int:
        return self._read()["restarts"]
