"""The deliver_webhook job: one attempt of one delivery. HTTP failures are the delivery's business (it schedules
its next attempt itself); only our own failures (the database) fail the job."""

import asyncio
import uuid

from emailplatform.jobs.worker import JobContext
from emailplatform.models import utcnow
from emailplatform.runtime import Runtime
from emailplatform.webhooks import sender, service


async def deliver_webhook(ctx: JobContext, payload: dict) -> None:
    runtime = ctx.runtime
    delivery_id = uuid.UUID(payload["delivery_id"])
    plan = await asyncio.to_thread(_plan, runtime, delivery_id)
    if isinstance(plan, str):
        await asyncio.to_thread(_in_session, runtime, service.end_delivery, delivery_id, plan)
    if not isinstance(plan, service.PlannedAttempt):
        return
    webhook_sender = sender.sender_for(runtime.settings)
    if webhook_sender.is_busy(plan.destination):
        await asyncio.to_thread(_in_session, runtime, service.defer_attempt, plan)
        return
    headers = plan.headers(utcnow())
    outcome = await webhook_sender.post(plan.destination, plan.url, plan.body, headers)
    await asyncio.to_thread(
        _in_session, runtime, service.record_attempt, plan, headers, outcome, manual=payload.get("manual", False)
    )


def _plan(runtime: Runtime, delivery_id: uuid.UUID) -> service.PlannedAttempt | str | None:
    with runtime.db.session(write=False) as session:
        return service.plan_attempt(session, delivery_id)


def _in_session(runtime: Runtime, function, *args, **kwargs) -> None:
    with runtime.db.session() as session:
        function(session, *args, **kwargs)


HANDLERS: dict = {service.JOB_KIND: deliver_webhook}
