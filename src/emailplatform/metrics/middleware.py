"""What Prometheus scrapes of this process: its HTTP requests. Request counts and latencies belong to the process
that served them (scrape every API process)."""

import time

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HttpMetrics:
    """ASGI middleware counting each request by method, route template (not the raw path: ids would make a
    series each) and status, with its duration."""

    def __init__(self, app: ASGIApp, registry: CollectorRegistry):
        self.app = app
        self.requests = Counter(
            "emailplatform_http_requests", "HTTP requests answered.", ["method", "route", "status"], registry=registry
        )
        self.seconds = Histogram(
            "emailplatform_http_request_duration_seconds",
            "Time to answer an HTTP request.",
            ["method", "route"],
            registry=registry,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started, status = time.perf_counter(), 500

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.requests.labels(scope["method"], route, str(status)).inc()
            self.seconds.labels(scope["method"], route).observe(time.perf_counter() - started)
