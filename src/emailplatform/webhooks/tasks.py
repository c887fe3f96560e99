"""The deliver_webhook job: one attempt of one delivery. HTTP failures are the delivery's business (it schedules
its next attempt itself); only our own failures (the database) fail the job. The database reads and writes of
concurrent deliveries are batched: one transaction a round, not one a delivery."""

import uuid

from emailplatform.jobs.batching import batcher_for
from emailplatform.jobs.worker import JobContext
from emailplatform.models import utcnow
from emailplatform.webhooks import sender, service


async def deliver_webhook(ctx: JobContext, payload: dict) -> None:
    runtime = ctx.runtime
    delivery_id = uuid.UUID(payload["delivery_id"])
    reads, writes = batcher_for(runtime.db, write=False), batcher_for(runtime.db, write=True)
    plan = await reads.call(service.plan_attempt, delivery_id)
    if isinstance(plan, str):
        await writes.call(service.end_delivery, delivery_id, plan)
    if not isinstance(plan, service.PlannedAttempt):
        return
    webhook_sender = sender.sender_for(runtime.settings)
    if webhook_sender.is_busy(plan.destination):
        await writes.call(service.defer_attempt, plan)
        return
    headers = plan.headers(utcnow())
    outcome = await webhook_sender.post(plan.destination, plan.url, plan.body, headers)
    await writes.call(service.record_attempt, plan, headers, outcome, manual=payload.get("manual", False))


HANDLERS: dict = {service.JOB_KIND: deliver_webhook}
