"""Rate limits: how many requests a key, a tenant or an address may make in a moving window (the `limits` library).

The counters live in this process's memory, or in Redis when `redis_url` is set, so that every process of a
deployment counts together. When Redis cannot be reached the limits are not applied (fail-open, with a
warning): an email platform must not stop taking API calls because its limiter is down.
"""

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import structlog
from limits import RateLimitItem, RateLimitItemPerMinute, parse_many
from limits.errors import StorageError
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from emailplatform.config import Settings

log = structlog.get_logger("emailplatform.ratelimits")

REDIS_TIMEOUT_SECONDS = 0.5  # a Redis that answers slower than this counts as down
SKIP_AFTER_FAILURE_SECONDS = 5.0  # while Redis is down, how long requests pass without trying it again


@lru_cache(maxsize=64)
def parse(text: str) -> tuple[RateLimitItem, ...]:
    """The limits of a setting such as `10/minute;100/hour`; none for an empty one."""
    return tuple(parse_many(text)) if text.strip() else ()


@lru_cache(maxsize=1024)
def per_minute(amount: int) -> tuple[RateLimitItem, ...]:
    return (RateLimitItemPerMinute(amount),)


@dataclass(frozen=True)
class Rule:
    """The limits one thing is held to: `scope` names what is counted (`api-key`), `subject` which one."""

    scope: str
    subject: str
    limits: Sequence[RateLimitItem]


@dataclass(frozen=True)
class Quota:
    """Where a request left the tightest of its limits, or the limit it went past when `allowed` is false."""

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int  # until the window lets one more request in
    window_seconds: int
    scope: str


class Limiter:
    def __init__(self, settings: Settings):
        self.remote = bool(settings.redis_url)
        if self.remote:
            storage = storage_from_string(
                settings.redis_url,
                key_prefix=settings.redis_key_prefix,
                wrap_exceptions=True,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            )
        else:
            storage = MemoryStorage()
        self.strategy = MovingWindowRateLimiter(storage)
        self._lock = threading.Lock()
        self._skip_until = 0.0
        self._down = False

    def hit(self, *rules: Rule) -> Quota | None:
        """Count one request against every rule, stopping at the first limit it goes past (that refusal is the
        answer). Otherwise the quota closest to running out; None when no limit applies or Redis is down."""
        if time.monotonic() < self._skip_until:
            return None
        try:
            quota = self._hit(rules)
        except StorageError as exc:
            self._failed(exc)
            return None
        if self._down:
            self._down = False
            log.warning("rate limits apply again: Redis answers")
        return quota

    def _hit(self, rules: Sequence[Rule]) -> Quota | None:
        tightest = None
        for rule in rules:
            for item in rule.limits:
                allowed = self.strategy.hit(item, rule.scope, rule.subject)
                quota = self._quota(item, rule, allowed)
                if not allowed:
                    return quota
                if tightest is None or quota.remaining < tightest.remaining:
                    tightest = quota
        return tightest

    def _quota(self, item: RateLimitItem, rule: Rule, allowed: bool) -> Quota:
        reset_at, remaining = self.strategy.get_window_stats(item, rule.scope, rule.subject)
        reset_seconds = max(1, math.ceil(reset_at - time.time())) if remaining < item.amount else 0
        return Quota(allowed, item.amount, remaining, reset_seconds, item.get_expiry(), rule.scope)

    def _failed(self, exc: StorageError) -> None:
        with self._lock:
            self._skip_until = time.monotonic() + SKIP_AFTER_FAILURE_SECONDS
            self._down = True
        log.warning(
            "rate limits are not applied: Redis cannot be reached",
            error=str(exc).splitlines()[0] if str(exc) else "",
            retry_in_seconds=SKIP_AFTER_FAILURE_SECONDS,
        )
