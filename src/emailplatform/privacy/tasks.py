"""The retention job: once an hour, whichever worker claims it removes what the retention settings no longer keep."""

import asyncio
from datetime import datetime, timedelta

import structlog

from emailplatform.models import utcnow
from emailplatform.privacy import retention as retention_service

RETENTION_EVERY = timedelta(hours=1)
log = structlog.get_logger("emailplatform.retention")


async def retention(ctx, payload: dict) -> datetime:
    done = await asyncio.to_thread(retention_service.apply, ctx.runtime)
    if any(done.values()):
        log.info("retention", **done)
    return utcnow() + RETENTION_EVERY


HANDLERS = {"retention": retention}
PERIODIC_KINDS = ("retention",)
