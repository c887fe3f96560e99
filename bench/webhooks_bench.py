"""Webhook deliveries per second to a local receiver that answers at once, and the time from an event to its
delivery; beside a floor measured in the same run: plain httpx posting as many requests, as concurrently,
to the same receiver. Prints JSON.

    .venv/bin/python bench/webhooks_bench.py [--events 5000] [--concurrency 64] [--database-url URL]

The events are all created first (one commit), then a worker delivers them: the event-to-delivery times
include the wait behind the backlog. The receiver runs in its own process (uvicorn).
"""

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

import httpx

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
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    return app


def run_receiver(port: int) -> None:
    import uvicorn

    uvicorn.run(receiver_app(), host=RECEIVER_HOST, port=port, log_level="warning", access_log=False)


def start_receiver() -> tuple[subprocess.Popen, str]:
    from tests.conftest import free_port

    port = free_port()
    process = subprocess.Popen([sys.executable, __file__, "--receiver", str(port)])
    url = f"http://{RECEIVER_HOST}:{port}"
    for _ in range(100):
        try:
            httpx.get(url + "/stats")
            return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("the receiver did not start")


def arrivals(url: str) -> dict[str, float]:
    return httpx.get(url + "/stats").json()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def measure_deliveries(url: str, events: int, concurrency: int, database_url: str, data_dir: Path) -> dict:
    from emailplatform.config import Settings
    from emailplatform.jobs.worker import Worker
    from emailplatform.migrations import upgrade
    from emailplatform.models import WebhookDelivery
    from emailplatform.runtime import Runtime
    from emailplatform.tenants import service as tenant_service
    from emailplatform.webhooks import sender, service

    settings = Settings(
        database_url=database_url, data_dir=data_dir, secret_key="bench", worker_concurrency=concurrency,
        webhook_endpoint_concurrency=concurrency, webhook_allowed_hosts=[RECEIVER_HOST], log_level="WARNING",
    )
    upgrade(settings.resolved_database_url)
    runtime = Runtime(settings)
    with runtime.db.session() as session:
        tenant = tenant_service.create_tenant(session, f"bench-{uuid.uuid4().hex[:8]}")
        service.create_endpoint(session, settings, tenant.id, url + "/hook", ["message.sent"], "bench")
    with runtime.db.session() as session:
        for number in range(events):
            payload = {"message_id": str(uuid.uuid4()), "recipient": f"r{number}@example.com", "details": {}}
            service.message_event(session, tenant.id, "sent", payload)
    with runtime.db.session(write=False) as session:
        created = {str(d.id): d.created_at.timestamp() for d in session.query(WebhookDelivery).filter_by(tenant_id=tenant.id)}

    async def work():
        try:
            await Worker(runtime).run_until_idle()
        finally:
            await sender.aclose_senders()
            await runtime.aclose()

    started = time.perf_counter()
    asyncio.run(work())
    elapsed = time.perf_counter() - started
    runtime.close()
    arrived = {key: at for key, at in arrivals(url).items() if key in created}
    latencies = [(arrived[key] - created[key]) * 1000 for key in arrived]
    return {
        "deliveries": len(arrived),
        "seconds": round(elapsed, 3),
        "per_second": round(len(arrived) / elapsed, 1),
        "event_to_delivery_ms_p50": round(statistics.median(latencies), 1),
        "event_to_delivery_ms_p99": round(percentile(latencies, 0.99), 1),
    }


def measure_floor(url: str, requests: int, concurrency: int) -> dict:
    body = json.dumps({"type": "message.sent", "recipient": "r@example.com", "details": {}}).encode()

    async def post_all():
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(limits=limits) as client:
            slots = asyncio.Semaphore(concurrency)

            async def post(number: int):
                async with slots:
                    response = await client.post(url + "/floor", content=body, headers={"webhook-id": f"floor-{number}"})
                    response.raise_for_status()

            await asyncio.gather(*(post(number) for number in range(requests)))

    started = time.perf_counter()
    asyncio.run(post_all())
    elapsed = time.perf_counter() - started
    return {"requests": requests, "seconds": round(elapsed, 3), "per_second": round(requests / elapsed, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--database-url", default="", help="empty: SQLite in a temporary directory")
    parser.add_argument("--receiver", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receiver:
        run_receiver(args.receiver)
        return
    process, url = start_receiver()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            ours = measure_deliveries(url, args.events, args.concurrency, args.database_url, Path(tmp))
        floor = measure_floor(url, args.events, args.concurrency)
    finally:
        process.terminate()
        process.wait()
    print(json.dumps({
        "benchmark": "webhooks",
        "measured_at": datetime.now().isoformat(timespec="seconds"),
        "database": "postgresql" if args.database_url else "sqlite",
        "concurrency": args.concurrency,
        "webhooks": ours,
        "floor_plain_httpx": floor,
        "ratio_to_floor": round(ours["per_second"] / floor["per_second"], 3),
        "target_per_second": 1000,
    }, indent=2))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
