"""The HTTP side of a delivery: one shared client per event loop, a concurrency bound per destination,
no redirects, no cookies, a deadline, and only the start of the answer read."""

import asyncio
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import aiohttp

from emailplatform.config import Settings
from emailplatform.webhooks import ssrf

MAX_RESPONSE_BYTES = 64 * 1024
EXCERPT_CHARS = 1000
USER_AGENT = "emailplatform-webhooks/1"
# A delivery whose destination has every slot taken waits this long for one, then is deferred: a fast endpoint
# frees a slot within milliseconds, and a slow one keeps the worker's other deliveries waiting no longer than this.
SLOT_WAIT_SECONDS = 0.5


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


class Destination:
    """The slots of one destination, when one was last taken or given back, and how many deliveries hold or
    wait for one."""

    def __init__(self, concurrency: int):
        self.slots = asyncio.Semaphore(concurrency)
        self.moved_at = 0.0
        self.users = 0

    async def acquire(self) -> bool:
        if self.slots.locked():
            if asyncio.get_running_loop().time() - self.moved_at > SLOT_WAIT_SECONDS:
                return False
            try:
                async with asyncio.timeout(SLOT_WAIT_SECONDS):
                    await self.slots.acquire()
            except TimeoutError:
                return False
        else:
            await self.slots.acquire()
        self.moved_at = asyncio.get_running_loop().time()
        return True

    def release(self) -> None:
        self.slots.release()
        self.moved_at = asyncio.get_running_loop().time()


class Sender:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(resolver=ssrf.CheckedResolver(settings), use_dns_cache=False, limit=500),
            cookie_jar=aiohttp.DummyCookieJar(),
            headers={"User-Agent": USER_AGENT, "Content-Type": "application/json"},
        )
        # one record a destination, while a delivery holds or waits for one of its slots: a worker meets a new
        # callback URL with every campaign that names one
        self.destinations: dict[str, Destination] = {}

    async def take_slot(self, destination: str) -> bool:
        """One of the `webhook_endpoint_concurrency` slots of `destination`, waiting SLOT_WAIT_SECONDS at most
        (not at all when its slots have all been held that long already); False when none came free.
        Give it back with release_slot."""
        state = self.destinations.get(destination)
        if state is None:
            state = self.destinations[destination] = Destination(self.settings.webhook_endpoint_concurrency)
        state.users += 1
        taken = False
        try:
            taken = await state.acquire()
        finally:
            if not taken:
                self._leave(destination, state)
        return taken

    def release_slot(self, destination: str) -> None:
        state = self.destinations[destination]
        state.release()
        self._leave(destination, state)

    def _leave(self, destination: str, state: Destination) -> None:
        state.users -= 1
        if not state.users:
            del self.destinations[destination]

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Outcome:
        """POST `body` to `url` (the caller holds a slot of its destination), within `webhook_timeout_seconds`."""
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.settings.webhook_timeout_seconds):
                await ssrf.check_url_async(url, self.settings)
                return await self._post(url, body, headers, started)
        except ssrf.RefusedDestination as exc:
            return Outcome(None, _since(started), error=f"refused: {exc}")
        except TimeoutError:
            return Outcome(None, _since(started), error=f"no answer within {self.settings.webhook_timeout_seconds} s")
        except Exception as exc:  # whatever the far end does to the client (aiohttp's errors, a header it cannot
            # read) is this attempt's failure, not the job's: a failed job would go again unlogged
            return Outcome(None, _since(started), error=f"{type(exc).__name__}: {exc}")

    async def _post(self, url: str, body: bytes, headers: dict[str, str], started: float) -> Outcome:
        async with self.session.post(url, data=body, headers=headers, allow_redirects=False) as response:
            received = bytearray()
            while len(received) < MAX_RESPONSE_BYTES:
                chunk = await response.content.read(MAX_RESPONSE_BYTES - len(received))
                if not chunk:
                    break
                received += chunk
            return Outcome(
                response.status,
                _since(started),
                response_excerpt=received[:EXCERPT_CHARS].decode(errors="replace"),
                retry_after_seconds=_retry_after(response.headers) if response.status in (429, 503) else None,
            )

    async def aclose(self) -> None:
        await self.session.close()


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isascii() and value.isdigit():  # "²".isdigit() too
        return float(value)
    try:
        return max((parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds(), 0.0)
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
