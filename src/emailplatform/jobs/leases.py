"""The leases of the jobs one worker holds, renewed together every third of a lease from a thread of their own,
so a busy event loop never lets them lapse. A worker that dies stops renewing: its jobs are free for another
worker a lease later (10 s by default), not after the job's whole run.

A renewal the database does not take is tried again every RETRY_SECONDS, so the leases that ran out during an
outage are taken back as soon as it ends; the other workers leave running jobs alone for a lease after an outage
(worker.py) to give them that time. A job another worker took meanwhile is let go (its outcome is that worker's
to write)."""

import threading

import structlog

from emailplatform.db import UNAVAILABLE, Database
from emailplatform.jobs import queue

log = structlog.get_logger("emailplatform.worker")

RETRY_SECONDS = 0.5


class Leases:
    def __init__(self, db: Database, worker_id: str, lease_seconds: int):
        self.db = db
        self.worker_id = worker_id
        self.lease_seconds = lease_seconds
        self.held: set[int] = set()
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._renew_until_stopped, name="emailplatform-leases", daemon=True)

    def hold(self, job_id: int) -> None:
        with self.lock:
            self.held.add(job_id)

    def release(self, job_ids: list[int]) -> None:
        """These jobs' outcomes are written: their leases need no renewing."""
        with self.lock:
            self.held.difference_update(job_ids)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self.thread.is_alive():
            self.thread.join()

    def _renew_until_stopped(self) -> None:
        pause = self.lease_seconds / 3
        while not self.stopping.wait(pause):
            try:
                self.renew()
                pause = self.lease_seconds / 3
            except UNAVAILABLE as exc:
                if pause != RETRY_SECONDS:
                    log.warning("leases not renewed: the database is unavailable; trying again", error=str(exc)[:200])
                pause = RETRY_SECONDS

    def renew(self) -> None:
        with self.lock:
            job_ids = list(self.held)
        if not job_ids:
            return
        with self.db.session() as session:
            renewed = queue.renew(session, job_ids, self.worker_id, self.lease_seconds)
            missing = [job_id for job_id in job_ids if job_id not in renewed]
            lost = queue.taken_over(session, missing, self.worker_id) if missing else []
        if lost:
            log.warning("jobs taken over by another worker: their leases ran out", worker=self.worker_id, jobs=lost)
            self.release(lost)
