"""How a process logs (structlog, readable text or JSON lines on stderr), and the HTTP access log."""

import logging
import re
import sys
import time
import uuid

import structlog
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emailplatform.config import Settings

REQUEST_ID_HEADER = "x-request-id"
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")  # what a proxy's or client's id looks like; else ours

access_log = structlog.get_logger("emailplatform.access")


def configure_logging(settings: Settings) -> None:
    level = logging.getLevelName(settings.log_level.upper())
    renderer = (
        structlog.processors.JSONRenderer()
        if settings.log_json
        else structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level if isinstance(level, int) else logging.INFO),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )


class AccessLog:
    """ASGI middleware: one log line a request (method, route template, status, duration, request id), and the
    request id in an `X-Request-ID` answer header. A sane incoming `X-Request-ID` is kept (a proxy's id ties
    its log to ours), else a new one is made. Every line logged while the request runs carries the id too.

    The route template, not the path, is logged: paths hold ids and the tokens of tracking and upload links."""

    def __init__(self, app: ASGIApp, enabled: bool = True):
        self.app = app
        self.enabled = enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        incoming = Headers(scope=scope).get(REQUEST_ID_HEADER, "")
        request_id = incoming if SANE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        started, status = time.perf_counter(), 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                if self.enabled:
                    access_log.info(
                        "request",
                        method=scope["method"],
                        route=route_template(scope),
                        status=status,
                        duration_ms=round((time.perf_counter() - started) * 1000, 1),
                    )


def route_template(scope: Scope) -> str:
    """The template of the route that answered (`/api/v1/templates/{template_id}`); a mounted app's prefix."""
    if (route := scope.get("route")) is not None:
        return route.path
    if "endpoint" in scope:  # a Mount (the UI's static files) names no route, only its prefix
        return f"{scope.get('root_path', '')}/{{path}}"
    return "unmatched"
