"""Webhook deliveries per second to a local receiver that answers at once, and the time from an event to its
delivery; beside a floor measured in the same run: plain aiohttp (the client the product uses) posting as many
requests of the same size, `--concurrency` at once, to the same receiver. Prints JSON.

    .venv/bin/python bench/webhooks_bench.py [--events 5000] [--rate 500] [--seconds 10] [--database-url URL]

The worker runs with the default settings (or the EMAILPLATFORM_ variables set), but for allowing the loopback
receiver. Two phases: a backlog (`--events` created at once, then delivered: the throughput, and times that
include the wait behind the backlog), and a steady rate (`--rate` events a second while the worker runs: the
time from an event to its delivery when nothing waits ahead of it). The receiver runs in its own process
(uvicorn, httptools, uvloop).
"""

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import datetime
from pathlib import Path

import aiohttp

RECEIVER_HOST = "127.0.0.1"


def receiver_app():
    """A bare ASGI app: 200 at once to every POST, remembering when each webhook-id arrived."""
    arrivals: dict[str, float] = {}

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        if scope["method"] == "GET":
            body = json.dumps(arrivals).encode()
        else:
            webhook_id = dict(scope["headers"]).get(b"webhook-id", b"").decode()
            arrivals[webhook_id or uuid.uuid4().hex] = time.time()
            body = b"ok"
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", str(len(body)).encode())]}
        )
        await send({"type": "http.response.body", "body": body})

    return app


def run_receiver(port: int) -> None:
    import uvicorn

    uvicorn.run(
        receiver_app(),
        host=RECEIVER_HOST,
        port=port,
        http="httptools",
        loop="uvloop",
        log_level="warning",
        access_log=False,
    )


def start_receiver() -> tuple[subprocess.Popen, str]:
    from tests.conftest import free_port

    port = free_port()
    process = subprocess.Popen([sys.executable, __file__, "--receiver", str(port)])
    url = f"http://{RECEIVER_HOST}:{port}"
    for _ in range(100):
        try:
            arrivals(url)
            return process, url
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the receiver did not start")


def arrivals(url: str) -> dict[str, float]:
    with urllib.request.urlopen(url + "/stats") as response:
        return json.load(response)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def bench_runtime(url: str, database_url: str, data_dir: Path):
    """A runtime with the default settings (but for allowing the loopback receiver) on a migrated database."""
    from emailplatform.assembly import build_runtime
    from emailplatform.config import Settings
    from emailplatform.logs import configure_logging
    from emailplatform.migrations import upgrade

    settings = Settings(
        database_url=database_url,
        data_dir=data_dir,
        secret_key="bench",
        webhook_allowed_hosts=[RECEIVER_HOST],
        log_level="WARNING",
    )
    configure_logging(settings)
    upgrade(settings.resolved_database_url)
    return build_runtime(settings)


def new_subscriber(runtime, url: str) -> uuid.UUID:
    """A tenant of its own (so each phase counts only its deliveries) with an endpoint hearing message.sent."""
    from emailplatform.tenants import service as tenant_service
    from emailplatform.webhooks import endpoints

    with runtime.db.session() as session:
        tenant = tenant_service.create_tenant(session, f"bench-{uuid.uuid4().hex[:8]}")
        endpoints.create_endpoint(session, runtime.settings, tenant.id, url + "/hook", ["message.sent"], "bench")
        return tenant.id


def create_events(runtime, tenant_id: uuid.UUID, number: int) -> None:
    from emailplatform.webhooks import fanout

    payloads = [{"message_id": str(uuid.uuid4()), "recipient": "r@example.com", "details": {}} for _ in range(number)]
    with runtime.db.session() as session:
        fanout.message_events(session, tenant_id, "sent", payloads)


def delivery_times(runtime, url: str, tenant_id: uuid.UUID) -> tuple[int, dict]:
    """How many deliveries the tenant has, and the times from their events to their arrival (ms)."""
    from emailplatform.models import WebhookDelivery

    with runtime.db.session(write=False) as session:
        deliveries = session.query(WebhookDelivery).filter_by(tenant_id=tenant_id)
        created = {str(d.id): d.created_at.timestamp() for d in deliveries}
    arrived = {key: at for key, at in arrivals(url).items() if key in created}
    latencies = [(arrived[key] - created[key]) * 1000 for key in arrived]
    return len(created), {
        "deliveries": len(arrived),
        "event_to_delivery_ms_p50": round(statistics.median(latencies), 1),
        "event_to_delivery_ms_p99": round(percentile(latencies, 0.99), 1),
    }


async def closing(runtime, work):
    from emailplatform.webhooks import sender

    try:
        await work
    finally:
        await sender.aclose_senders()
        await runtime.aclose()


def measure_backlog(url: str, events: int, database_url: str, data_dir: Path) -> dict:
    """`events` events created at once, then a worker delivers them all: the throughput."""
    from emailplatform.job_kinds import new_worker
    from emailplatform.jobs.worker import run

    runtime = bench_runtime(url, database_url, data_dir)
    tenant_id = new_subscriber(runtime, url)
    create_events(runtime, tenant_id, events)
    started = time.perf_counter()
    run(closing(runtime, new_worker(runtime).run_until_idle()))
    elapsed = time.perf_counter() - started
    _, times = delivery_times(runtime, url, tenant_id)
    runtime.close()
    return times | {
        "seconds": round(elapsed, 3),
        "per_second": round(times["deliveries"] / elapsed, 1),
        "webhook_concurrency": runtime.settings.webhook_concurrency,
        "webhook_endpoint_concurrency": runtime.settings.webhook_endpoint_concurrency,
    }


def measure_steady(url: str, rate: int, seconds: float, database_url: str, data_dir: Path) -> dict:
    """Events arriving at `rate` a second for `seconds` (a commit every 20 ms) while a worker runs: the time
    from an event to its delivery when nothing is queued behind it."""
    from emailplatform.job_kinds import new_worker
    from emailplatform.jobs.worker import run

    runtime = bench_runtime(url, database_url, data_dir)
    tenant_id = new_subscriber(runtime, url)
    ticks, per_tick = int(seconds * 50), max(1, rate // 50)

    def produce() -> None:
        started = time.perf_counter()
        for tick in range(ticks):
            time.sleep(max(0.0, started + tick / 50 - time.perf_counter()))
            create_events(runtime, tenant_id, per_tick)

    async def steady() -> None:
        stop = asyncio.Event()
        worker = asyncio.create_task(new_worker(runtime).run(stop))
        await asyncio.to_thread(produce)
        deadline = time.perf_counter() + 30
        while time.perf_counter() < deadline:
            total, times = await asyncio.to_thread(delivery_times, runtime, url, tenant_id)
            if times["deliveries"] == total:
                break
            await asyncio.sleep(0.2)
        stop.set()
        await worker

    run(closing(runtime, steady()))
    _, times = delivery_times(runtime, url, tenant_id)
    runtime.close()
    return times | {"events_per_second": per_tick * 50, "seconds": seconds}


def measure_floor(url: str, requests: int, concurrency: int) -> dict:
    from emailplatform.jobs.worker import run

    event = {"type": "message.sent", "timestamp": "2026-01-01T00:00:00Z", "message_id": str(uuid.uuid4())}
    body = json.dumps(event | {"recipient": "r0000@example.com", "details": {}}).encode()
    signature = "v1," + "x" * 44
    headers = {"Content-Type": "application/json", "webhook-timestamp": "1767225600", "webhook-signature": signature}

    async def post_all():
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:
            slots = asyncio.Semaphore(concurrency)

            async def post(number: int):
                numbered = headers | {"webhook-id": f"floor-{number}"}
                async with slots, session.post(url + "/floor", data=body, headers=numbered) as response:
                    response.raise_for_status()
                    await response.read()

            await asyncio.gather(*(post(number) for number in range(requests)))

    started = time.perf_counter()
    run(post_all())
    elapsed = time.perf_counter() - started
    return {"requests": requests, "seconds": round(elapsed, 3), "per_second": round(requests / elapsed, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=8,
        help="the floor's requests in flight (8: the fastest here, and the worker's bound for one endpoint)",
    )
    parser.add_argument("--rate", type=int, default=500, help="events a second in the steady-rate phase")
    parser.add_argument("--seconds", type=float, default=10, help="how long the steady-rate phase lasts")
    parser.add_argument("--database-url", default="", help="empty: SQLite in a temporary directory")
    parser.add_argument("--receiver", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receiver:
        run_receiver(args.receiver)
        return
    process, url = start_receiver()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            ours = measure_backlog(url, args.events, args.database_url, Path(tmp))
            steady = measure_steady(url, args.rate, args.seconds, args.database_url, Path(tmp))
        floor = measure_floor(url, args.events, args.concurrency)
    finally:
        process.terminate()
        process.wait()
    print(
        json.dumps(
            {
                "benchmark": "webhooks",
                "measured_at": datetime.now().isoformat(timespec="seconds"),
                "database": "postgresql" if args.database_url else "sqlite",
                "concurrency": args.concurrency,
                "webhooks": ours,
                "steady_rate": steady,
                "floor_plain_aiohttp": floor,
                "ratio_to_floor": round(ours["per_second"] / floor["per_second"], 3),
                "target_per_second": 1000,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
