"""The HTTP side of a delivery: one shared client per event loop, a concurrency bound per destination,
no redirects, a deadline, and only the start of the answer read."""

import asyncio
import time
import weakref
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

import httpcore
import httpx

from emailplatform.config import Settings
from emailplatform.webhooks import ssrf

MAX_RESPONSE_BYTES = 64 * 1024
EXCERPT_CHARS = 1000
USER_AGENT = "emailplatform-webhooks/1"


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    latency_ms: float
    response_excerpt: str | None = None
    error: str | None = None
    retry_after_seconds: float | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a connection pool whose every connection goes through ssrf.GuardedBackend."""

    def __init__(self, settings: Settings, limits: httpx.Limits):
        super().__init__(limits=limits, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=ssrf.GuardedBackend(settings),
        )


class Sender:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.client = httpx.AsyncClient(
            transport=GuardedTransport(settings, httpx.Limits(max_connections=500, max_keepalive_connections=100)),
            timeout=httpx.Timeout(settings.webhook_timeout_seconds),
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": USER_AGENT, "Content-Type": "application/json"},
        )
        self.slots: defaultdict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(settings.webhook_endpoint_concurrency)
        )

    def is_busy(self, destination: str) -> bool:
        return self.slots[destination].locked()

    async def post(self, destination: str, url: str, body: bytes, headers: dict[str, str]) -> Outcome:
        """POST `body` to `url`, at most `webhook_endpoint_concurrency` at once per `destination`."""
        async with self.slots[destination]:
            started = time.perf_counter()
            try:
                async with asyncio.timeout(self.settings.webhook_timeout_seconds):
                    await ssrf.check_url_async(url, self.settings)
                    return await self._post(url, body, headers, started)
            except ssrf.RefusedDestination as exc:
                return Outcome(None, _since(started), error=f"refused: {exc}")
            except TimeoutError:
                return Outcome(None, _since(started), error=f"no answer within {self.settings.webhook_timeout_seconds} s")
            except httpx.HTTPError as exc:
                return Outcome(None, _since(started), error=f"{type(exc).__name__}: {exc}")

    async def _post(self, url: str, body: bytes, headers: dict[str, str], started: float) -> Outcome:
        async with self.client.stream("POST", url, content=body, headers=headers) as response:
            received = bytearray()
            async for chunk in response.aiter_bytes():
                received += chunk
                if len(received) >= MAX_RESPONSE_BYTES:
                    break
            return Outcome(
                response.status_code,
                _since(started),
                response_excerpt=received[:EXCERPT_CHARS].decode(errors="replace"),
                retry_after_seconds=_retry_after(response) if response.status_code in (429, 503) else None,
            )

    async def aclose(self) -> None:
        await self.client.aclose()


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        return max((parsedate_to_datetime(value) - datetime.now(timezone.utc)).total_seconds(), 0.0)
    except (TypeError, ValueError):
        return None


_senders: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, Sender]]" = weakref.WeakKeyDictionary()


def sender_for(settings: Settings) -> Sender:
    """The sender of this event loop and these settings: one client, shared by every delivery."""
    per_loop = _senders.setdefault(asyncio.get_running_loop(), {})
    if id(settings) not in per_loop:
        per_loop[id(settings)] = Sender(settings)
    return per_loop[id(settings)]


async def aclose_senders() -> None:
    """Close this event loop's clients (a worker calls it as it stops)."""
    for sender in _senders.pop(asyncio.get_running_loop(), {}).values():
        await sender.aclose()
