"""The storage's housekeeping, run by whichever worker claims it: the temporary files of writes that never
finished (an upload whose process was killed) are removed once nobody has written to them for PARTIAL_KEPT."""

import asyncio
from datetime import datetime, timedelta

import structlog

from emailplatform.models import utcnow

log = structlog.get_logger("emailplatform.storage")

PARTIAL_KEPT = timedelta(minutes=30)  # an upload that sent nothing for this long is not coming back
REMOVE_EVERY = timedelta(minutes=10)


async def remove_partial_files(ctx, payload: dict) -> datetime:
    removed = await asyncio.to_thread(ctx.runtime.storage.remove_partial, PARTIAL_KEPT)
    if removed:
        log.info("temporary files of unfinished writes removed", files=removed)
    return utcnow() + REMOVE_EVERY


HANDLERS = {"remove_partial_files": remove_partial_files}
PERIODIC_KINDS = ("remove_partial_files",)  # one job of each is kept queued by every worker
