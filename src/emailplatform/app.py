"""The FastAPI application: every domain's router, one error format, and (optionally) a worker beside it."""

import asyncio
import os
import threading
from contextlib import asynccontextmanager
from pathlib import Path

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from emailplatform import __version__, ui
from emailplatform.assembly import build_runtime
from emailplatform.db import UNAVAILABLE
from emailplatform.errors import AppError, Unavailable
from emailplatform.health import router as health_router
from emailplatform.jobs.processes import STATUS_ENV, PublishedStatus
from emailplatform.jobs.worker import new_event_loop as worker_loop
from emailplatform.logs import AccessLog
from emailplatform.metrics.middleware import HttpMetrics
from emailplatform.metrics.service import new_registry
from emailplatform.openapi import error_responses, new_app
from emailplatform.request_limits import RequestLimits
from emailplatform.runtime import Runtime
from emailplatform.security_headers import SecurityHeaders

log = structlog.get_logger("emailplatform.app")
RETRY_AFTER_SECONDS = 5  # what a 503 asks a client to wait before it tries again


def create_app(
    runtime: Runtime | None = None,
    *,
    with_worker: bool = False,
    worker_processes: int = 0,
    worker_status: Path | None = None,
) -> FastAPI:
    """The app; beside it, `worker_processes` supervised worker processes, or else with `with_worker` a worker
    thread of this process (the `send` command's embedded run). Or the workers are another process's, which
    publishes their status to `worker_status`."""
    runtime = runtime or build_runtime()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        worker = _workers(runtime, with_worker, worker_processes)
        app.state.worker = worker or (PublishedStatus(worker_status) if worker_status else None)
        if worker:
            worker.start()
        yield
        if worker:
            worker.stop()

    app = new_app(title="emailplatform", version=__version__, lifespan=lifespan)
    app.state.runtime = runtime
    app.state.metrics = new_registry(runtime.db, lambda: getattr(app.state, "worker", None))
    settings = runtime.settings
    app.add_middleware(
        RequestLimits,
        max_bytes=settings.request_max_bytes,
        upload_max_bytes=settings.upload_max_bytes,
        certificate_header=settings.tls_proxy_cert_header,
    )
    app.add_middleware(SecurityHeaders)
    app.add_middleware(HttpMetrics, registry=app.state.metrics)
    app.add_middleware(AccessLog, enabled=runtime.settings.access_log)
    _add_error_handlers(app)
    for router in _routers():  # any route may meet a rate limit, a body too large, a database it cannot reach for now
        app.include_router(router, responses=error_responses(413, 429, 503))
    app.include_router(health_router)
    app.include_router(ui.router)
    app.mount(ui.STATIC_PATH, ui.static_app, name="ui-static")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon():
        return FileResponse(ui.FAVICON, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"})

    return app


def create_app_from_env() -> FastAPI:
    """The app of one of the API processes of `serve --api-workers N`: settings from the environment, and no
    workers of its own (the serve command runs them, once for all its API processes, and publishes their status)."""
    from emailplatform.config import get_settings
    from emailplatform.logs import configure_logging

    settings = get_settings()
    configure_logging(settings)
    status = os.environ.get(STATUS_ENV)
    return create_app(build_runtime(settings), worker_status=Path(status) if status else None)


def _workers(runtime: Runtime, with_worker: bool, processes: int):
    if processes:
        from emailplatform.job_kinds import supervised_workers

        return supervised_workers(processes, runtime.settings)
    return WorkerThread(runtime) if with_worker else None


def _routers():
    from emailplatform.campaigns.api import router as campaigns
    from emailplatform.deliverability.api import router as deliverability
    from emailplatform.domains.api import router as domains
    from emailplatform.emails.api import router as emails
    from emailplatform.events.ses_api import router as ses_events
    from emailplatform.events.tracking_api import router as tracking
    from emailplatform.jobs.api import router as jobs
    from emailplatform.metrics.api import router as metrics
    from emailplatform.sending.api import router as outbox
    from emailplatform.storage.api import router as files
    from emailplatform.suppressions.api import router as suppressions
    from emailplatform.templates.api import router as templates
    from emailplatform.tenants.api import router as api_keys
    from emailplatform.testsends.api import router as test_sends
    from emailplatform.webhooks.api import router as webhooks

    return [
        templates,
        files,
        campaigns,
        emails,
        outbox,
        jobs,
        api_keys,
        webhooks,
        domains,
        suppressions,
        ses_events,
        tracking,
        metrics,
        test_sends,
        deliverability,
        *_parity_routers(),
    ]


def _parity_routers():
    """The API twins of what the UI offers beside the above: the tenant's settings, users, events, analytics."""
    from emailplatform.analytics.api import router as analytics
    from emailplatform.audit.api import router as audit
    from emailplatform.domains.sender_api import router as tenant
    from emailplatform.events.api import router as events
    from emailplatform.privacy.api import router as recipients
    from emailplatform.users.api import router as users

    return [tenant, events, users, analytics, audit, recipients]


UNREADABLE_BODY = "There was an error parsing the body"


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def app_error(_request: Request, exc: AppError):
        return JSONResponse(exc.to_dict(), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError):
        details = [{"field": _field_name(e["loc"]), "reason": e["msg"]} for e in exc.errors()]
        message = "; ".join(f"{d['field']}: {d['reason']}" for d in details)
        body = {"code": "invalid", "message": message, "field": details[0]["field"] if details else None}
        return JSONResponse({"error": body | {"details": details}}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException):
        code = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        body = {"code": code, "message": str(exc.detail), "field": None, "details": None}
        if exc.detail == UNREADABLE_BODY:  # FastAPI's answer to a body that is not UTF-8
            body |= {"message": "the body cannot be read: it is not JSON in UTF-8", "field": "body"}
        return JSONResponse({"error": body}, status_code=exc.status_code)

    async def database_unavailable(request: Request, exc: Exception):
        log.warning("database unavailable", path=request.url.path, error=str(exc).splitlines()[0] if str(exc) else "")
        return await app_error(
            request,
            Unavailable(
                "the database cannot be reached at the moment; try again shortly",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            ),
        )

    for unavailable in UNAVAILABLE:
        app.add_exception_handler(unavailable, database_unavailable)

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception):
        log.exception("unhandled error", path=request.url.path)
        return JSONResponse(
            {
                "error": {
                    "code": "internal",
                    "message": "an unexpected error; it has been logged",
                    "field": None,
                    "details": None,
                }
            },
            status_code=500,
        )


def _field_name(loc) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


class WorkerThread:
    """The embedded deployment's worker: its own thread and event loop, so rendering never stalls the API."""

    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self.loop = worker_loop()
        self.stop_event: asyncio.Event | None = None
        self.restarts = 0
        self.thread = threading.Thread(target=self._main, name="emailplatform-worker", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _main(self) -> None:
        from emailplatform.job_kinds import new_worker
        from emailplatform.jobs.worker import run_supervised

        asyncio.set_event_loop(self.loop)

        async def run():
            self.stop_event = asyncio.Event()
            try:
                await run_supervised(lambda: new_worker(self.runtime), self.stop_event, self._restarted)
            finally:
                await self.runtime.aclose()

        self.loop.run_until_complete(run())

    def _restarted(self) -> None:
        self.restarts += 1

    @property
    def alive(self) -> bool:
        return self.thread.is_alive()

    def stop(self, timeout: float = 30) -> None:
        if self.stop_event is not None:
            self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(timeout)
