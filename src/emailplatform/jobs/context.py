"""What a job handler is given, and what it answers."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from emailplatform.jobs.queue import ClaimedJob
from emailplatform.runtime import Runtime


@dataclass
class JobContext:
    runtime: Runtime
    job: ClaimedJob


# A handler may answer when to run the same job again (a periodic job, a delivery put off); None: it is done.
Handler = Callable[[JobContext, dict], Awaitable[datetime | None]]
