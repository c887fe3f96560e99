"""Sending throttles: how fast one tenant's messages may go (a second, a day), and how much one mailbox provider
takes from us (messages in flight at once, messages a minute), counted together by every worker process on every
machine: in Redis when `redis_url` is set, else in the database (throttle_counters, throttle_holds).

A message asks `sending(tenant_id, recipient_domain)` just before it is handed to the transport. When a limit is
full and opens within `throttle_max_wait_seconds` the message waits for it in its worker; otherwise the answer is
`Waiting(until, reason)`: the message goes back to the queue until then (a day's quota used up never holds a worker
asleep for hours). A throttled message is never failed.

Rates are counted in fixed windows (the second, the minute, the UTC day): at a window's edge up to twice a limit can
go within one window's length. Counting is all or nothing: a message refused by one limit takes nothing from the
others. A store that cannot be reached holds messages back (`STORE_DOWN_WAIT`) rather than send past the limits.
"""

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import redis
import structlog
from cachetools import TTLCache
from sqlalchemy import case, delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from emailplatform.config import DomainThrottle, Settings
from emailplatform.db import Database
from emailplatform.models import Tenant, ThrottleCounter, ThrottleHold

log = structlog.get_logger("emailplatform.throttles")

DAY = 86_400
HOLD_SECONDS = 300  # a hold outlives any answer of the transport; a dead worker's holds free themselves by then
HOLD_RETRY_SECONDS = 0.05  # how soon a message refused a connection asks again
STORE_DOWN_WAIT = timedelta(seconds=10)
TENANT_CACHE_SECONDS = 30.0  # a tenant's own limits, changed, apply within this long
HOLDS_LOCK_CLASS = 0x7468  # PostgreSQL advisory lock space of the connection holds ("th")
REDIS_TIMEOUT_SECONDS = 2.0

# Built-in limits for the large mailbox providers, which publish none as figures: they answer 421/4.7.x when a
# sender goes too fast. These sit well below where they are known to start deferring a sender of good reputation
# (the figures common MTA configurations ship with); domains of one provider count together. Setting
# `throttle_domains` replaces a domain's entry or adds others; unlisted domains have no limit.
PROVIDERS: dict[str, tuple[str, DomainThrottle]] = {}
for _provider, _limits, _domains in (
    ("google", DomainThrottle(connections=20, per_minute=3000), ("gmail.com", "googlemail.com")),
    ("microsoft", DomainThrottle(connections=10, per_minute=1200),
     ("outlook.com", "hotmail.com", "live.com", "msn.com", "hotmail.co.uk", "hotmail.fr", "live.co.uk", "outlook.de")),
    ("yahoo", DomainThrottle(connections=10, per_minute=1200),
     ("yahoo.com", "ymail.com", "rocketmail.com", "yahoo.co.uk", "yahoo.fr", "yahoo.de", "aol.com")),
    ("apple", DomainThrottle(connections=5, per_minute=600), ("icloud.com", "me.com", "mac.com")),
    ("gmx", DomainThrottle(connections=5, per_minute=600), ("gmx.de", "gmx.net", "gmx.com", "web.de")),
):
    PROVIDERS |= {domain: (_provider, _limits) for domain in _domains}


@dataclass(frozen=True)
class Waiting:
    """Not now: the message goes back to the queue until `until`; `reason` says which limit."""

    until: datetime
    reason: str


@dataclass(frozen=True)
class Window:
    """One rate limit: at most `limit` messages a `seconds` long window, counted under `key`."""

    key: str
    limit: int
    seconds: int
    what: str

    def number(self, now: float) -> int:
        return int(now // self.seconds)

    def opens_at(self, now: float) -> float:
        return (self.number(now) + 1) * self.seconds


@dataclass(frozen=True)
class Hold:
    """One of `limit` connections to a provider, held by `holder` for a message in flight."""

    key: str
    limit: int
    holder: uuid.UUID
    what: str


class StoreDown(Exception):
    """The store of the counters cannot be reached."""


class Store(Protocol):
    def take(self, windows: Sequence[Window], hold: Hold | None, now: float) -> Window | Hold | None:
        """Count one message against every window and take the hold, or nothing at all: then the limit that is full."""

    def release(self, hold: Hold) -> None: ...


class DatabaseStore:
    """Counters in the database: each limit one row, counted with an upsert in one transaction, which PostgreSQL's
    row locks and SQLite's single writer make atomic across processes; holds are rows under an advisory lock."""

    def __init__(self, db: Database):
        self.db = db

    def take(self, windows: Sequence[Window], hold: Hold | None, now: float) -> Window | Hold | None:
        try:
            with self.db.session() as session:
                full = self._count(session, windows, now) or (hold and self._hold(session, hold, now))
                if full:
                    session.rollback()
                return full
        except SQLAlchemyError as exc:
            raise StoreDown(str(exc)) from exc

    def release(self, hold: Hold) -> None:
        try:
            with self.db.session() as session:
                session.execute(delete(ThrottleHold).where(ThrottleHold.id == hold.holder))
        except SQLAlchemyError as exc:
            raise StoreDown(str(exc)) from exc

    def _count(self, session, windows: Sequence[Window], now: float) -> Window | None:
        insert = pg_insert if self.db.dialect == "postgresql" else sqlite_insert
        for window in windows:
            stmt = insert(ThrottleCounter).values(key=window.key, window=window.number(now), count=1)
            newer = stmt.excluded.window > ThrottleCounter.window  # a new window starts from zero
            stmt = stmt.on_conflict_do_update(
                index_elements=["key"],
                set_={
                    "count": case((newer, 1), else_=ThrottleCounter.count + 1),
                    "window": case((newer, stmt.excluded.window), else_=ThrottleCounter.window),
                },
            ).returning(ThrottleCounter.count)
            if session.scalar(stmt) > window.limit:
                return window
        return None

    def _hold(self, session, hold: Hold, now: float) -> Hold | None:
        if self.db.dialect == "postgresql":
            session.execute(select(func.pg_advisory_xact_lock(HOLDS_LOCK_CLASS, func.hashtext(hold.key))))
        moment = _moment(now)
        session.execute(delete(ThrottleHold).where(ThrottleHold.key == hold.key, ThrottleHold.expires_at <= moment))
        held = session.scalar(select(func.count()).where(ThrottleHold.key == hold.key))
        if held >= hold.limit:
            return hold
        session.add(ThrottleHold(id=hold.holder, key=hold.key, expires_at=moment + timedelta(seconds=HOLD_SECONDS)))
        return None


# KEYS: the windows' counters. ARGV: limit and seconds of each. Counts all or none; answers the full one's place.
TAKE_WINDOWS = """
for i, key in ipairs(KEYS) do
  local count = redis.call('INCR', key)
  if count == 1 then redis.call('EXPIRE', key, tonumber(ARGV[2 * i]) + 1) end
  if count > tonumber(ARGV[2 * i - 1]) then
    for j = 1, i do redis.call('DECR', KEYS[j]) end
    return i
  end
end
return 0
"""
# KEYS[1]: the holds (a sorted set, scored by expiry). ARGV: limit, holder, now, expiry.
TAKE_HOLD = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[2])
redis.call('EXPIRE', KEYS[1], math.ceil(ARGV[4] - ARGV[3]) + 1)
return 1
"""


class RedisStore:
    """Counters in Redis, each take one script (atomic in Redis)."""

    def __init__(self, url: str, prefix: str):
        self.client = redis.Redis.from_url(
            url, socket_timeout=REDIS_TIMEOUT_SECONDS, socket_connect_timeout=REDIS_TIMEOUT_SECONDS
        )
        self.prefix = f"{prefix}:throttle:"
        self.take_windows = self.client.register_script(TAKE_WINDOWS)
        self.take_hold = self.client.register_script(TAKE_HOLD)

    def take(self, windows: Sequence[Window], hold: Hold | None, now: float) -> Window | Hold | None:
        keys = [f"{self.prefix}{w.key}:{w.number(now)}" for w in windows]
        args = [value for w in windows for value in (w.limit, w.seconds)]
        try:
            full = self.take_windows(keys=keys, args=args) if windows else 0
            if full:
                return windows[full - 1]
            if hold and not self.take_hold(keys=[self.prefix + hold.key], args=[
                hold.limit, str(hold.holder), now, now + HOLD_SECONDS
            ]):
                self._give_back(keys)
                return hold
        except redis.RedisError as exc:
            raise StoreDown(str(exc)) from exc
        return None

    def release(self, hold: Hold) -> None:
        try:
            self.client.zrem(self.prefix + hold.key, str(hold.holder))
        except redis.RedisError as exc:
            raise StoreDown(str(exc)) from exc

    def _give_back(self, keys: list[str]) -> None:
        with self.client.pipeline() as pipe:
            for key in keys:
                pipe.decr(key)
            pipe.execute()


@dataclass(frozen=True)
class TenantLimits:
    per_second: int
    per_day: int


class Throttles:
    """The limits of every tenant and recipient domain, counted in one store shared by all processes."""

    def __init__(self, settings: Settings, db: Database, store: Store | None = None):
        self.settings = settings
        self.db = db
        self.store = store or (
            RedisStore(settings.redis_url, settings.redis_key_prefix) if settings.redis_url else DatabaseStore(db)
        )
        self.tenants: TTLCache[uuid.UUID, TenantLimits] = TTLCache(maxsize=10_000, ttl=TENANT_CACHE_SECONDS)

    @asynccontextmanager
    async def sending(self, tenant_id: uuid.UUID, recipient_domain: str) -> AsyncIterator[Waiting | None]:
        """None: send now (a connection to the domain is held until the block ends); else wait until then."""
        hold = self.connection_of(recipient_domain)
        waiting = await self.acquire(tenant_id, recipient_domain, hold)
        try:
            yield waiting
        finally:
            if hold and waiting is None:
                await self._release(hold)

    async def acquire(self, tenant_id: uuid.UUID, recipient_domain: str, hold: Hold | None = None) -> Waiting | None:
        """Count one message to this domain for this tenant (and take `hold`), waiting in place for a limit that
        opens soon; a Waiting when it opens later."""
        windows = await self.windows_of(tenant_id, recipient_domain)
        if not windows and hold is None:
            return None
        deadline = time.time() + self.settings.throttle_max_wait_seconds
        while True:
            now = time.time()
            try:
                full = await asyncio.to_thread(self.store.take, windows, hold, now)
            except StoreDown as exc:
                log.warning("messages wait: the throttles' store cannot be reached", error=str(exc).splitlines()[0])
                return Waiting(_moment(now) + STORE_DOWN_WAIT, "the sending throttles cannot be counted just now")
            if full is None:
                return None
            opens = full.opens_at(now) if isinstance(full, Window) else now + HOLD_RETRY_SECONDS
            if opens > deadline:
                return Waiting(_moment(opens), f"throttled: {full.what}")
            await asyncio.sleep(opens - now + random.uniform(0, 0.02))  # spread those woken by the same window

    async def windows_of(self, tenant_id: uuid.UUID, recipient_domain: str) -> list[Window]:
        """The rate limits one message counts against, tightest first."""
        provider = self.provider_of(recipient_domain)
        tenant = self.tenants.get(tenant_id)
        if tenant is None:
            tenant = self.tenants[tenant_id] = await asyncio.to_thread(self._read_tenant, tenant_id)
        windows = []
        if provider and provider[1].per_minute:
            windows.append(Window(f"domain:{provider[0]}:minute", provider[1].per_minute, 60,
                                  f"{provider[1].per_minute} messages a minute to {provider[0]}"))
        if tenant.per_second:
            windows.append(Window(f"tenant:{tenant_id}:second", tenant.per_second, 1,
                                  f"the tenant's {tenant.per_second} messages a second"))
        if tenant.per_day:
            windows.append(Window(f"tenant:{tenant_id}:day", tenant.per_day, DAY,
                                  f"the tenant's {tenant.per_day} messages a day"))
        return windows

    def connection_of(self, recipient_domain: str) -> Hold | None:
        provider = self.provider_of(recipient_domain)
        if not provider or not provider[1].connections:
            return None
        name, limits = provider
        return Hold(f"domain:{name}:connections", limits.connections, uuid.uuid4(),
                    f"{limits.connections} connections to {name} at once")

    def provider_of(self, recipient_domain: str) -> tuple[str, DomainThrottle] | None:
        """The provider a domain counts under (the domain itself when the setting names it) and its limits."""
        domain = recipient_domain.lower()
        if domain in self.settings.throttle_domains:
            return domain, self.settings.throttle_domains[domain]
        return PROVIDERS.get(domain)

    def _read_tenant(self, tenant_id: uuid.UUID) -> TenantLimits:
        with self.db.session(write=False) as session:
            row = session.execute(
                select(Tenant.send_per_second, Tenant.send_per_day).where(Tenant.id == tenant_id)
            ).one_or_none()
        per_second, per_day = row or (None, None)
        return TenantLimits(
            self.settings.throttle_tenant_per_second if per_second is None else per_second,
            self.settings.throttle_tenant_per_day if per_day is None else per_day,
        )

    async def _release(self, hold: Hold) -> None:
        try:
            await asyncio.to_thread(self.store.release, hold)
        except StoreDown as exc:  # the hold expires by itself
            log.warning("a connection hold is left to expire", error=str(exc).splitlines()[0])


def _moment(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)
