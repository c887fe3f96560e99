"""What the sending throttles cost: messages a second one process passes through `Throttles.sending`, 10 at once
(a worker's SMTP connections), when every message counts against a tenant limit and a domain's connections.

    .venv/bin/python -m bench.throttles_bench [--messages 3000] [--postgres-url URL] [--redis-url URL]

Prints JSON, per store (SQLite, PostgreSQL, Redis): messages a second under a tenant limit alone (one count a
message), under a tenant limit and a connection limit (a count and a hold, then the hold's release), beside a
floor measured in the same run: the same loop with no limit that applies (nothing counted).
"""

import argparse
import asyncio
import json
import tempfile
import time
import uuid

from emailplatform.assembly import build_runtime
from emailplatform.config import DomainThrottle, Settings
from emailplatform.migrations import upgrade
from emailplatform.models import Tenant
from emailplatform.runtime import Runtime
from emailplatform.sending.throttles import Throttles

IN_FLIGHT = 10
LIMITED_DOMAIN = "limited.example"


async def rate(throttles: Throttles, tenant_id: uuid.UUID, domain: str, messages: int) -> float:
    slots = asyncio.Semaphore(IN_FLIGHT)

    async def one():
        async with slots, throttles.sending(tenant_id, domain) as waiting:
            assert waiting is None, waiting

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(messages)))
    return round(messages / (time.perf_counter() - started))


def measure(runtime: Runtime, messages: int, **store) -> dict:
    settings = runtime.settings.model_copy(
        update=store
        | {
            "throttle_tenant_per_second": 1_000_000,
            "throttle_domains": {LIMITED_DOMAIN: DomainThrottle(connections=IN_FLIGHT)},
        }
    )
    with runtime.db.session() as session:
        limited, free = Tenant(name=f"bench-{uuid.uuid4().hex[:8]}"), Tenant(name=f"bench-{uuid.uuid4().hex[:8]}")
        free.send_per_second = 0
        session.add_all([limited, free])
    throttles = Throttles(settings, runtime.db)

    async def main():
        return {
            "floor_nothing_counted": await rate(throttles, free.id, "unlisted.example", messages),
            "tenant_limit": await rate(throttles, limited.id, "unlisted.example", messages),
            "tenant_and_connection_limits": await rate(throttles, limited.id, LIMITED_DOMAIN, messages),
        }

    return asyncio.run(main())


def runtime_of(url: str, workdir: str) -> Runtime:
    settings = Settings(database_url=url, data_dir=workdir, secret_key="bench", log_level="WARNING")
    upgrade(settings.resolved_database_url)
    return build_runtime(settings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--postgres-url", default="", help="a database to count in; empty: PostgreSQL is left out")
    parser.add_argument("--redis-url", default="", help="a Redis to count in; empty: Redis is left out")
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="ep-throttles-bench-")
    sqlite = runtime_of("", workdir)
    report = {
        "benchmark": "throttles",
        "in_flight": IN_FLIGHT,
        "messages": args.messages,
        "messages_per_second": {"sqlite": measure(sqlite, args.messages)},
    }
    if args.postgres_url:
        report["messages_per_second"]["postgresql"] = measure(runtime_of(args.postgres_url, workdir), args.messages)
    if args.redis_url:
        report["messages_per_second"]["redis"] = measure(
            sqlite, args.messages, redis_url=args.redis_url, redis_key_prefix=f"bench-{uuid.uuid4().hex[:8]}"
        )
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
