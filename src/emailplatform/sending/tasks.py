import uuid

from emailplatform.campaigns.status import SEND_BATCH_JOB
from emailplatform.sending import pipeline


async def send_batch(ctx, payload: dict) -> None:
    await pipeline.send_batch(ctx.runtime, uuid.UUID(payload["batch_id"]), throttle=ctx.runtime.throttles)


HANDLERS = {SEND_BATCH_JOB: send_batch}
