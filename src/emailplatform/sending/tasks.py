import uuid

from emailplatform.sending import pipeline


async def send_batch(ctx, payload: dict) -> None:
    await pipeline.send_batch(ctx.runtime, uuid.UUID(payload["batch_id"]))


HANDLERS = {"send_batch": send_batch}
