"""The queue's own housekeeping, run once an hour by whichever worker claims it: forget expired
Idempotency-Keys and week-old finished jobs (dead ones stay until retried or removed)."""

import asyncio
from datetime import datetime, timedelta

from sqlalchemy import delete

from emailplatform.models import IdempotencyKey, Job, JobState, utcnow

DONE_JOBS_KEPT = timedelta(days=7)
CLEANUP_EVERY = timedelta(hours=1)


async def cleanup(ctx, payload: dict) -> datetime:
    runtime = ctx.runtime

    def run():
        now = utcnow()
        with runtime.db.session() as session:
            expired = now - timedelta(hours=runtime.settings.idempotency_ttl_hours)
            session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < expired))
            session.execute(delete(Job).where(Job.state == JobState.DONE, Job.finished_at < now - DONE_JOBS_KEPT))

    await asyncio.to_thread(run)
    return utcnow() + CLEANUP_EVERY


HANDLERS = {"cleanup": cleanup}
PERIODIC_KINDS = ("cleanup",)  # one job of each is kept queued by every worker
