"""Every kind of job the platform runs, and the lanes they run in. The queue knows no kind: whoever starts a
worker (the CLI, the embedded app, a test, a benchmark) starts it with these."""

import asyncio
import signal
from pathlib import Path

from emailplatform.assembly import build_runtime
from emailplatform.campaigns import tasks as campaign_tasks
from emailplatform.config import Settings, get_settings
from emailplatform.jobs import tasks as maintenance_tasks
from emailplatform.jobs.processes import WorkerProcesses
from emailplatform.jobs.worker import Lane, Worker, run, run_supervised
from emailplatform.logs import configure_logging
from emailplatform.privacy import tasks as retention_tasks
from emailplatform.runtime import Runtime
from emailplatform.sending import tasks as sending_tasks
from emailplatform.storage import tasks as storage_tasks
from emailplatform.webhooks import tasks as webhook_tasks

HANDLERS = {
    **campaign_tasks.HANDLERS,
    **sending_tasks.HANDLERS,
    **webhook_tasks.HANDLERS,
    **maintenance_tasks.HANDLERS,
    **storage_tasks.HANDLERS,
    **retention_tasks.HANDLERS,
}
PERIODIC_KINDS = (
    *campaign_tasks.PERIODIC_KINDS,
    *maintenance_tasks.PERIODIC_KINDS,
    *storage_tasks.PERIODIC_KINDS,
    *retention_tasks.PERIODIC_KINDS,
)


def lanes(settings: Settings) -> list[Lane]:
    """Webhook deliveries, which mostly wait on the network, in a lane of their own: neither kind takes the
    other's slots."""
    network_kinds = tuple(webhook_tasks.HANDLERS)
    return [
        Lane(settings.worker_concurrency, network_kinds, other_kinds=True),
        Lane(settings.webhook_concurrency, network_kinds),
    ]


def new_worker(runtime: Runtime, *, poll_seconds: float = 0.25) -> Worker:
    return Worker(runtime, HANDLERS, lanes(runtime.settings), periodic=PERIODIC_KINDS, poll_seconds=poll_seconds)


def run_worker_process() -> None:
    """A worker process's whole life: its settings from the environment, jobs until SIGTERM or SIGINT, then the
    jobs in flight finished."""
    settings = get_settings()
    configure_logging(settings)
    runtime = build_runtime(settings)

    async def main():
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await run_supervised(lambda: new_worker(runtime), stop)
        finally:
            await runtime.aclose()

    run(main())


def supervised_workers(count: int, settings: Settings, status_path: Path | None = None) -> WorkerProcesses:
    """`count` worker processes, restarted if they die and drained on stop (not yet started); their status
    published to `status_path`, if given."""
    return WorkerProcesses(count, run_worker_process, settings.worker_drain_seconds, status_path)
