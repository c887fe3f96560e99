"""The database is the queue: enqueue on the caller's session, claim leases in batches, retry with backoff.

Leases are short and renewed while their worker lives (jobs/leases.py). They are told by the database's clock
on PostgreSQL, so workers on machines whose clocks differ agree on when one ran out; SQLite serves one machine,
whose clock every worker shares."""

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import cast

from sqlalchemy import ColumnElement, Interval, Table, Update, and_, bindparam, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from emailplatform.db import Database, get_for_tenant, rowcount
from emailplatform.errors import Conflict
from emailplatform.models import Job, JobState, utcnow
from emailplatform.pagination import paginate

BACKOFF_CAP_SECONDS = 3600.0

Jobs = cast(Table, Job.__table__)


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    kind: str
    payload: dict
    attempts: int
    max_attempts: int
    tenant_id: uuid.UUID | None


def enqueue(
    session: Session,
    kind: str,
    payload: dict,
    *,
    tenant_id: uuid.UUID | None = None,
    run_at: datetime | None = None,
    max_attempts: int | None = None,
) -> Job:
    job = Job(kind=kind, payload=payload, tenant_id=tenant_id, run_at=run_at or utcnow(), max_attempts=max_attempts)
    session.add(job)
    return job


def claim(
    session: Session,
    worker_id: str,
    limit: int,
    lease_seconds: int,
    default_max_attempts: int,
    *,
    kinds: tuple[str, ...] = (),
    other_kinds: bool = False,
    take_over: bool = True,
) -> list[ClaimedJob]:
    """Lease up to `limit` due jobs, on the caller's session: queued ones whose time has come, and (`take_over`)
    running ones whose lease ran out; of the given `kinds` only, or (`other_kinds`) of every kind but those; of
    any kind when `kinds` is empty."""
    now = utcnow()
    postgres = session.get_bind().dialect.name != "sqlite"
    stmt = _claim_statement(kinds, other_kinds, take_over, postgres)
    params = {"now": now, "limit": limit, "worker_id": worker_id} | _lease_params(postgres, now, lease_seconds)
    claimed = [
        ClaimedJob(job_id, kind, payload, attempts, max_attempts or default_max_attempts, tenant_id)
        for job_id, kind, payload, attempts, max_attempts, tenant_id in session.execute(stmt, params)
    ]
    overdue = [job.id for job in claimed if job.attempts > job.max_attempts]
    if overdue:
        _set(session, overdue, state=JobState.DEAD, last_error="its lease ran out too many times", finished_at=now)
    return [job for job in claimed if job.attempts <= job.max_attempts]


def _lease_clock(postgres: bool) -> tuple[ColumnElement, ColumnElement]:
    """The moment now and the end of a lease begun now, by the clock leases are told by."""
    if postgres:
        return func.now(), func.now() + bindparam("lease", type_=Interval())
    return bindparam("lease_now"), bindparam("locked_until")


def _lease_params(postgres: bool, now: datetime, lease_seconds: int) -> dict:
    lease = timedelta(seconds=lease_seconds)
    return {"lease": lease} if postgres else {"lease_now": now, "locked_until": now + lease}


@cache
def _claim_statement(kinds: tuple[str, ...], other_kinds: bool, take_over: bool, postgres: bool) -> Update:
    """The claim's UPDATE … RETURNING, built once (claims come many times a second)."""
    lease_now, locked_until = _lease_clock(postgres)
    due = and_(Jobs.c.state == JobState.QUEUED, Jobs.c.run_at <= bindparam("now"))
    if take_over:
        due = or_(due, and_(Jobs.c.state == JobState.RUNNING, Jobs.c.locked_until < lease_now))
    due_ids = select(Jobs.c.id).where(due).order_by(Jobs.c.run_at).limit(bindparam("limit"))
    if kinds:
        due_ids = due_ids.where(Jobs.c.kind.not_in(kinds) if other_kinds else Jobs.c.kind.in_(kinds))
    if postgres:
        due_ids = due_ids.with_for_update(skip_locked=True)
    return (
        update(Jobs)
        .where(Jobs.c.id.in_(due_ids.scalar_subquery()))
        .values(
            state=JobState.RUNNING,
            attempts=Jobs.c.attempts + 1,
            locked_until=locked_until,
            locked_by=bindparam("worker_id"),
        )
        .returning(Jobs.c.id, Jobs.c.kind, Jobs.c.payload, Jobs.c.attempts, Jobs.c.max_attempts, Jobs.c.tenant_id)
    )


def renew(session: Session, job_ids: list[int], worker_id: str, lease_seconds: int) -> set[int]:
    """On the caller's session: a fresh lease on each of these running jobs that is still this worker's (even one
    whose lease ran out meanwhile, unless another worker took it); the ids renewed."""
    postgres = session.get_bind().dialect.name != "sqlite"
    _, locked_until = _lease_clock(postgres)
    stmt = (
        update(Jobs)
        .where(Jobs.c.id.in_(job_ids), Jobs.c.locked_by == worker_id, Jobs.c.state == JobState.RUNNING)
        .values(locked_until=locked_until)
        .returning(Jobs.c.id)
    )
    return set(session.scalars(stmt, _lease_params(postgres, utcnow(), lease_seconds)))


def taken_over(session: Session, job_ids: list[int], worker_id: str) -> list[int]:
    """Of these jobs, those another worker runs now."""
    return list(
        session.scalars(
            select(Jobs.c.id).where(
                Jobs.c.id.in_(job_ids), Jobs.c.state == JobState.RUNNING, Jobs.c.locked_by != worker_id
            )
        )
    )


def mark_done(session: Session, job_ids: list[int], worker_id: str) -> None:
    """On the caller's session: the jobs this worker finished are done."""
    session.execute(
        update(Jobs)
        .where(Jobs.c.id.in_(job_ids), Jobs.c.locked_by == worker_id)
        .values(state=JobState.DONE, locked_until=None, finished_at=utcnow(), last_error=None)
    )


def ensure_periodic(db: Database, kind: str, run_at: datetime) -> None:
    """The one row of a periodic job: created by whichever worker starts first, then rescheduled by its handler."""
    dialect_insert = pg_insert if not db.is_sqlite else sqlite_insert
    with db.session() as session:
        session.execute(
            dialect_insert(Job)
            .values(
                kind=kind,
                unique_key=f"periodic:{kind}",
                payload={},
                state=JobState.QUEUED,
                run_at=run_at,
                attempts=0,
                created_at=utcnow(),
            )
            .on_conflict_do_nothing(index_elements=["unique_key"])
        )


def reschedule(session: Session, jobs: list[tuple[int, datetime]], worker_id: str) -> None:
    """On the caller's session: each (job id, run_at) of this worker's is queued again, a first attempt at run_at."""
    session.execute(
        update(Jobs)
        .where(Jobs.c.id == bindparam("b_id"), Jobs.c.locked_by == worker_id)
        .values(state=JobState.QUEUED, run_at=bindparam("b_run_at"), attempts=0, locked_until=None, last_error=None),
        [{"b_id": job_id, "b_run_at": run_at} for job_id, run_at in jobs],
    )


def fail(db: Database, job: ClaimedJob, worker_id: str, error: str, retry_base_seconds: float) -> bool:
    """Record a failed attempt: back off and queue again, or mark the job dead. Returns True if dead."""
    dead = job.attempts >= job.max_attempts
    now = utcnow()
    values: dict = {"last_error": error[:4000], "locked_until": None}
    if dead:
        values |= {"state": JobState.DEAD, "finished_at": now}
    else:
        values |= {
            "state": JobState.QUEUED,
            "run_at": now + timedelta(seconds=backoff_seconds(job.attempts, retry_base_seconds)),
        }
    with db.session() as session:
        session.execute(update(Job).where(Job.id == job.id, Job.locked_by == worker_id).values(**values))
    return dead


def backoff_seconds(attempts: int, base_seconds: float) -> float:
    """Exponential backoff with jitter on the upper half, so retries of many jobs spread out."""
    ceiling = min(base_seconds * 2 ** (attempts - 1), BACKOFF_CAP_SECONDS)
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def page_of_jobs(
    session: Session, tenant_id: uuid.UUID, *, state: str | None, cursor: str | None, limit: int
) -> tuple[list[Job], str | None]:
    """The tenant's jobs, newest first, optionally in one state; and the next page's cursor."""
    stmt = select(Job).where(Job.tenant_id == tenant_id)
    if state:
        stmt = stmt.where(Job.state == state)
    return paginate(session, stmt, (Job.id,), cursor=cursor, limit=limit, descending=True)


def retry_dead(session: Session, job_id: int, tenant_id: uuid.UUID) -> Job:
    job = get_for_tenant(session, Job, job_id, tenant_id, field="job_id", what="job")
    if job.state != JobState.DEAD:
        raise Conflict(f"only a dead job can be retried; this one is {job.state}", field="job_id")
    job.state, job.attempts, job.run_at, job.finished_at = JobState.QUEUED, 0, utcnow(), None
    return job


def _set(session: Session, ids: list[int], **values) -> None:
    session.execute(update(Job).where(Job.id.in_(ids)).values(**values))


def move_queued(session: Session, kind: str, tenant_id: uuid.UUID | None, payload: dict, run_at: datetime) -> int:
    """On the caller's session: the queued jobs of `kind` whose payload has these values run at `run_at` instead;
    how many there were (a job already claimed is not moved: its handler checks again)."""
    stmt = update(Job).where(Job.kind == kind, Job.tenant_id == tenant_id, Job.state == JobState.QUEUED)
    for key, value in payload.items():
        stmt = stmt.where(Job.payload[key].as_string() == value)
    return rowcount(session.execute(stmt.values(run_at=run_at).execution_options(synchronize_session=False)))
