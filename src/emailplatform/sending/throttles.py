"""Sending throttles: how fast one tenant's messages may go (a second, a day), and how much one mailbox provider
takes from us (messages in flight at once, messages a minute), counted together by every worker process on every
machine: in Redis when `redis_url` is set, else in the database (throttle_counters, throttle_holds).

A message asks `sending(tenant_id, recipient_domain)` just before it is handed to the transport. When a limit is
full and opens within `throttle_max_wait_seconds` the message waits for it in its worker; otherwise the answer is
`Waiting(until, reason)`: the message goes back to the queue until then (a day's quota used up never holds a worker
asleep for hours). A throttled message is never failed.

Rates are counted in fixed windows (the second, the minute, the UTC day): at a window's edge up to twice a limit can
go within one window's length. A process takes a share of a window at a time (`_window`'s chunk) and spends it
itself, and keeps a connection's lease for its next messages to the provider (given back once unused for
`HOLD_IDLE_SECONDS`), so that the store is asked a few times a window, not once a message. Counting is all or
nothing: a message refused by one limit takes nothing from the others. A store that cannot be reached holds
messages back (`STORE_DOWN_WAIT`) rather than send past the limits.
"""

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
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
from emailplatform.sending.transports.base import OutgoingMessage

log = structlog.get_logger("emailplatform.throttles")

DAY = 86_400
HOLD_SECONDS = 60  # a connection's lease in the store; a dead worker's leases free themselves by then
HOLD_REUSE_MARGIN_SECONDS = 30  # a process reuses a lease for its next messages while more than this is left of it
HOLD_IDLE_SECONDS = 1.0  # a lease no message of the process used for this long is given back
HOLD_RETRY_SECONDS = 0.05  # how soon a message refused a connection asks again
CHUNK_MOST = 100
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
    (
        "microsoft",
        DomainThrottle(connections=10, per_minute=1200),
        (
            "outlook.com",
            "hotmail.com",
            "live.com",
            "msn.com",
            "hotmail.co.uk",
            "hotmail.fr",
            "live.co.uk",
            "outlook.de",
        ),
    ),
    (
        "yahoo",
        DomainThrottle(connections=10, per_minute=1200),
        ("yahoo.com", "ymail.com", "rocketmail.com", "yahoo.co.uk", "yahoo.fr", "yahoo.de", "aol.com"),
    ),
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
    """One rate limit: at most `limit` messages a `seconds` long window, counted under `key`. A process takes
    `chunk` of them at a time from the store and spends them itself."""

    key: str
    limit: int
    seconds: int
    what: str
    chunk: int = 1

    def number(self, now: float) -> int:
        return int(now // self.seconds)

    def opens_at(self, now: float) -> float:
        return (self.number(now) + 1) * self.seconds


@dataclass(frozen=True)
class Hold:
    """One of `limit` connections to a provider, held by `holder` until `expires` (time.time())."""

    key: str
    limit: int
    holder: uuid.UUID
    what: str
    expires: float = 0.0

    def opens_at(self, now: float) -> float:
        return now + HOLD_RETRY_SECONDS


@dataclass(frozen=True)
class Taken:
    """What the store gave: as many messages of each window as `granted` says, or nothing (`full` the limit)."""

    full: Window | Hold | None = None
    granted: tuple[int, ...] = ()


class StoreDown(Exception):
    """The store of the counters cannot be reached."""


class Store(Protocol):
    def take(self, windows: Sequence[Window], hold: Hold | None, now: float) -> Taken:
        """Up to `chunk` messages of each window and the hold, or nothing at all when one limit is full."""

    def release(self, hold: Hold) -> None: ...


def _granted(window: Window, count_after: int) -> int:
    """Of the `chunk` just counted, those under the limit (the count may pass it: a full window stays full)."""
    return max(0, min(window.chunk, window.limit - (count_after - window.chunk)))


class DatabaseStore:
    """Counters in the database: each limit one row, counted with an upsert in one transaction, which PostgreSQL's
    row locks and SQLite's single writer make atomic across processes; holds are rows under an advisory lock."""

    def __init__(self, db: Database):
        self.db = db

    def take(self, windows: Sequence[Window], hold: Hold | None, now: float) -> Taken:
        try:
            with self.db.session() as session:
                taken = self._count(session, windows, now)
                if not taken.full and hold and self._hold(session, hold, now):
                    taken = Taken(full=hold)
                if taken.full:
                    session.rollback()
                return taken
        except SQLAlchemyError as exc:
            raise StoreDown(str(exc)) from exc

    def release(self, hold: Hold) -> None:
        try:
            with self.db.session() as session:
                session.execute(delete(ThrottleHold).where(ThrottleHold.id == hold.holder))
        except SQLAlchemyError as exc:
            raise StoreDown(str(exc)) from exc

    def _count(self, session, windows: Sequence[Window], now: float) -> Taken:
        insert = pg_insert if self.db.dialect == "postgresql" else sqlite_insert
        granted = []
        for window in windows:
            stmt = insert(ThrottleCounter).values(key=window.key, window=window.number(now), count=window.chunk)
            newer = stmt.excluded.window > ThrottleCounter.window  # a new window starts from zero
            counted = stmt.on_conflict_do_update(
                index_elements=["key"],
                set_={
                    "count": case((newer, window.chunk), else_=ThrottleCounter.count + window.chunk),
                    "window": case((newer, stmt.excluded.window), else_=ThrottleCounter.window),
                },
            ).returning(ThrottleCounter.count)
            granted.append(_granted(window, session.scalar(counted)))
            if not granted[-1]:
                return Taken(full=window)
        return Taken(granted=tuple(granted))

    def _hold(self, session, hold: Hold, now: float) -> bool:
        """Whether the provider's connections are all held."""
        if self.db.dialect == "postgresql":
            session.execute(select(func.pg_advisory_xact_lock(HOLDS_LOCK_CLASS, func.hashtext(hold.key))))
        expired = delete(ThrottleHold).where(ThrottleHold.key == hold.key, ThrottleHold.expires_at <= _moment(now))
        session.execute(expired)
        if session.scalar(select(func.count()).where(ThrottleHold.key == hold.key)) >= hold.limit:
            return True
        session.add(ThrottleHold(id=hold.holder, key=hold.key, expires_at=_moment(hold.expires)))
        return False


# KEYS: the windows' counters. ARGV: limit, seconds and chunk of each. Answers the place of the full one (0: none)
# and what each window granted; counts all or none.
TAKE_WINDOWS = """
local granted = {0}
for i, key in ipairs(KEYS) do
  local limit, seconds, chunk = tonumber(ARGV[3 * i - 2]), tonumber(ARGV[3 * i - 1]), tonumber(ARGV[3 * i])
  local count = redis.call('INCRBY', key, chunk)
  if count == chunk then redis.call('EXPIRE', key, seconds + 1) end
  local got = math.max(0, math.min(chunk, limit - (count - chunk)))
  if got == 0 then
    for j = 1, i do redis.call('DECRBY', KEYS[j], tonumber(ARGV[3 * j])) end
    return {i}
  end
  granted[i + 1] = got
end
return granted
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
    """Counters in Redis, the windows one script and the hold another (each atomic in Redis)."""

    def __init__(self, url: str, prefix: str):
        self.client = redis.Redis.from_url(
            url, socket_timeout=REDIS_TIMEOUT_SECONDS, socket_connect_timeout=REDIS_TIMEOUT_SECONDS
        )
        self.prefix = f"{prefix}:throttle:"
        self.take_windows = self.client.register_script(TAKE_WINDOWS)
        self.take_hold = self.client.register_script(TAKE_HOLD)

    def take(self, windows: Sequence[Window], hold: Hold | None, now: float) -> Taken:
        keys = [f"{self.prefix}{w.key}:{w.number(now)}" for w in windows]
        args = [value for w in windows for value in (w.limit, w.seconds, w.chunk)]
        try:
            answer = self.take_windows(keys=keys, args=args) if windows else [0]
            if answer[0]:
                return Taken(full=windows[answer[0] - 1])
            if hold and not self.take_hold(
                keys=[self.prefix + hold.key], args=[hold.limit, str(hold.holder), now, hold.expires]
            ):
                self._give_back(keys, windows)
                return Taken(full=hold)
        except redis.RedisError as exc:
            raise StoreDown(str(exc)) from exc
        return Taken(granted=tuple(answer[1:]))

    def release(self, hold: Hold) -> None:
        try:
            self.client.zrem(self.prefix + hold.key, str(hold.holder))
        except redis.RedisError as exc:
            raise StoreDown(str(exc)) from exc

    def _give_back(self, keys: list[str], windows: Sequence[Window]) -> None:
        with self.client.pipeline() as pipe:
            for key, window in zip(keys, windows):
                pipe.decrby(key, window.chunk)
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
        self.shares: dict[str, tuple[int, int]] = {}  # window key: its number, and messages of it this process has left
        self.leases: dict[str, dict[uuid.UUID, tuple[Hold, float]]] = {}  # free leases by provider, and since when
        self.tasks: set[asyncio.Task] = set()

    @asynccontextmanager
    async def sending(self, tenant_id: uuid.UUID, recipient_domain: str) -> AsyncIterator[Waiting | None]:
        """None: send now (a connection to the domain is held until the block ends); else wait until then."""
        taken = await self._acquire(tenant_id, recipient_domain, self.connection_of(recipient_domain))
        if isinstance(taken, Waiting):
            yield taken
            return
        try:
            yield None
        finally:
            if taken:
                await self._give_back(taken)

    def hold(self, message: OutgoingMessage):
        """The send step's throttle (sending/steps.py): `sending` for the message's tenant and recipient domain."""
        return self.sending(message.tenant_id, message.recipient.rpartition("@")[2].lower())

    async def acquire(self, tenant_id: uuid.UUID, recipient_domain: str) -> Waiting | None:
        """Count one message to this domain for this tenant against the rate limits (no connection)."""
        taken = await self._acquire(tenant_id, recipient_domain, None)
        return taken if isinstance(taken, Waiting) else None

    async def _acquire(
        self, tenant_id: uuid.UUID, recipient_domain: str, connection: Hold | None
    ) -> Waiting | Hold | None:
        """Count one message and take a connection lease, waiting in place for a limit that opens soon: the lease
        (None without a connection limit), or a Waiting when a limit opens later."""
        windows = await self.windows_of(tenant_id, recipient_domain)
        if not windows and connection is None:
            return None
        deadline = time.time() + self.settings.throttle_max_wait_seconds
        while True:
            now = time.time()
            try:
                full, lease = await self._take(windows, connection, now)
            except StoreDown as exc:
                log.warning("messages wait: the throttles' store cannot be reached", error=str(exc).splitlines()[0])
                return Waiting(_moment(now) + STORE_DOWN_WAIT, "the sending throttles cannot be counted just now")
            if full is None:
                return lease
            opens = full.opens_at(now)
            if opens > deadline:
                return Waiting(_moment(opens), f"throttled: {full.what}")
            await asyncio.sleep(opens - now + random.uniform(0, 0.02))  # spread those woken by the same window

    async def _take(
        self, windows: list[Window], connection: Hold | None, now: float
    ) -> tuple[Window | Hold | None, Hold | None]:
        """One message from this process's share of every window, and a lease it holds or a new one; what the
        share lacks comes from the store, in chunks. The full limit, or the lease."""
        lease = self._free_lease(connection, now) if connection else None
        while True:
            short = [w for w in windows if not self._left(w, now)]
            new_lease = None
            if connection and lease is None:
                new_lease = replace(connection, holder=uuid.uuid4(), expires=now + HOLD_SECONDS)
            if short or new_lease:
                taken = await asyncio.to_thread(self.store.take, short, new_lease, now)
                if taken.full:
                    if lease:
                        self._return_lease(lease)
                    return taken.full, None
                for window, granted in zip(short, taken.granted):
                    self.shares[window.key] = (window.number(now), self._left(window, now) + granted)
                lease = lease or new_lease
            if all(self._left(w, now) for w in windows):  # else another message spent them meanwhile: again
                for window in windows:
                    self.shares[window.key] = (window.number(now), self._left(window, now) - 1)
                return None, lease

    def _left(self, window: Window, now: float) -> int:
        number, left = self.shares.get(window.key, (None, 0))
        return left if number == window.number(now) else 0

    def _free_lease(self, connection: Hold, now: float) -> Hold | None:
        """A lease of this process no message uses now, with time enough left; older ones are given back."""
        free = self.leases.setdefault(connection.key, {})
        while free:
            _, (lease, _) = free.popitem()
            if lease.expires - now > HOLD_REUSE_MARGIN_SECONDS:
                return lease
            self._spawn(self._release(lease))
        return None

    async def _give_back(self, lease: Hold) -> None:
        if lease.expires - time.time() > HOLD_REUSE_MARGIN_SECONDS:
            self._return_lease(lease)
        else:
            await self._release(lease)

    def _return_lease(self, lease: Hold) -> None:
        """Keep the lease for this process's next message to the provider; given back once unused for a moment."""
        self.leases.setdefault(lease.key, {})[lease.holder] = (lease, time.monotonic())
        asyncio.get_running_loop().call_later(HOLD_IDLE_SECONDS, self._release_if_idle, lease)

    def _release_if_idle(self, lease: Hold) -> None:
        free = self.leases.get(lease.key, {})
        kept = free.get(lease.holder)
        if kept and time.monotonic() - kept[1] >= HOLD_IDLE_SECONDS * 0.99:
            del free[lease.holder]
            self._spawn(self._release(lease))

    def _spawn(self, coroutine) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def windows_of(self, tenant_id: uuid.UUID, recipient_domain: str) -> list[Window]:
        """The rate limits one message counts against, tightest first."""
        provider = self.provider_of(recipient_domain)
        tenant = self.tenants.get(tenant_id)
        if tenant is None:
            tenant = self.tenants[tenant_id] = await asyncio.to_thread(self._read_tenant, tenant_id)
        windows = []
        if provider and provider[1].per_minute:
            windows.append(
                _window(
                    f"domain:{provider[0]}:minute",
                    provider[1].per_minute,
                    60,
                    f"{provider[1].per_minute} messages a minute to {provider[0]}",
                )
            )
        if tenant.per_second:
            windows.append(
                _window(
                    f"tenant:{tenant_id}:second",
                    tenant.per_second,
                    1,
                    f"the tenant's {tenant.per_second} messages a second",
                )
            )
        if tenant.per_day:
            windows.append(
                _window(f"tenant:{tenant_id}:day", tenant.per_day, DAY, f"the tenant's {tenant.per_day} messages a day")
            )
        return windows

    def connection_of(self, recipient_domain: str) -> Hold | None:
        provider = self.provider_of(recipient_domain)
        if not provider or not provider[1].connections:
            return None
        name, limits = provider
        return Hold(
            f"domain:{name}:connections",
            limits.connections,
            uuid.uuid4(),
            f"{limits.connections} connections to {name} at once",
        )

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


def _window(key: str, limit: int, seconds: int, what: str) -> Window:
    """A limit whose share a process takes at a time is a twentieth of it (a thousandth of a day's), 1 to 100:
    a few store trips a window, and little of a day left unspent by a process that stops."""
    chunk = max(1, min(CHUNK_MOST, limit // (1000 if seconds == DAY else 20)))
    return Window(key, limit, seconds, what, chunk)


def _moment(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)
