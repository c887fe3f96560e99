"""Housekeeping, run by whichever worker claims it, once an hour (or once an outcome window, when shorter)."""

import asyncio
from datetime import datetime, timedelta

from sqlalchemy import delete

from emailplatform.campaigns import status
from emailplatform.models import IdempotencyKey, Job, JobState, utcnow

DONE_JOBS_KEPT = timedelta(days=7)
CLEANUP_EVERY = timedelta(hours=1)


async def cleanup(ctx, payload: dict) -> datetime:
    """Close the outcome window: a message SENT longer ago than it with no outcome is final as SENT, so its batch
    and campaign complete. Forget expired Idempotency-Keys and week-old finished jobs (dead ones stay until retried
    or removed)."""
    runtime = ctx.runtime
    window = timedelta(hours=runtime.settings.outcome_window_hours)

    def run():
        now = utcnow()
        with runtime.db.session() as session:
            status.complete_finished(session, sent_before=now - window)
            expired = now - timedelta(hours=runtime.settings.idempotency_ttl_hours)
            session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < expired))
            session.execute(delete(Job).where(Job.state == JobState.DONE, Job.finished_at < now - DONE_JOBS_KEPT))

    await asyncio.to_thread(run)
    return utcnow() + min(CLEANUP_EVERY, window)


HANDLERS = {"cleanup": cleanup}
PERIODIC_KINDS = ("cleanup",)  # one job of each is kept queued by every worker
