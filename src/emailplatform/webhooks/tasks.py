"""The deliver_webhook job: one attempt of one delivery. HTTP failures are the delivery's business (it schedules
its next attempt itself); only our own failures (the database) fail the job. The database reads and writes of
concurrent deliveries are batched: a few statements a round, not a few a delivery."""

import uuid
from datetime import datetime, timedelta

from emailplatform.jobs.batching import batcher_for
from emailplatform.jobs.context import JobContext
from emailplatform.models import utcnow
from emailplatform.webhooks import deliveries, sender

BUSY_DEFER_SECONDS = 1.0  # a delivery whose destination has every slot taken runs again this much later


async def deliver_webhook(ctx: JobContext, payload: dict) -> datetime | None:
    """Attempt the delivery; or, when its destination has every slot taken, run this same job again a moment
    later, with no attempt made."""
    runtime = ctx.runtime
    delivery_id = uuid.UUID(payload["delivery_id"])
    reads, writes = batcher_for(runtime.db, write=False), batcher_for(runtime.db, write=True)
    plan = await reads.call(deliveries.plan_attempts, (delivery_id, payload.get("attempts_made")))
    if isinstance(plan, str):
        await writes.call(deliveries.end_deliveries, (delivery_id, plan))
    if not isinstance(plan, deliveries.PlannedAttempt):
        return None
    webhook_sender = sender.sender_for(runtime.settings)
    if not await webhook_sender.take_slot(plan.destination):
        return utcnow() + timedelta(seconds=BUSY_DEFER_SECONDS)
    try:
        started_at = utcnow()
        headers = plan.headers(started_at)
        outcome = await webhook_sender.post(plan.url, plan.body, headers)
    finally:
        webhook_sender.release_slot(plan.destination)
    attempt = deliveries.Attempt(plan, started_at, headers, outcome, manual=payload.get("manual", False))
    await writes.call(deliveries.record_attempts, attempt)
    return None


HANDLERS: dict = {deliveries.JOB_KIND: deliver_webhook}
