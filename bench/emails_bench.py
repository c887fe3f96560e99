"""Transactional email benchmark: a steady stream of single sends (POST /api/v1/emails, one recipient each, one
call after another from `--clients` threads) while the embedded worker sends them to a local SMTP sink; beside it,
a campaign of the same number of recipients on the same database and sink, and the floor.

    .venv/bin/python -m bench.emails_bench [--emails 1000] [--clients 1] [--databases sqlite,postgresql]

Prints JSON per database: the call's p50/p99 latency (ms) and calls/s; messages/s of the stream, from its first call
until its last message is SENT; the campaign's send messages/s and end-to-end seconds (bench.campaign_bench); and the
floor: a plain aiosmtplib script sending pre-built messages to the same sink over the same connections.
"""

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.campaign_bench import floor, free_port, fresh_database, new_api_key, run_one, wait_for_port, write_csv

HTML = '<p>Hello Ada, <a href="https://shop.example.com/orders/1042">your order 1042</a> has shipped.</p>'


def stream(database: str, smtp_url: str, emails: int, clients: int, connections: int) -> dict:
    """`emails` single sends through the API, with the worker of the embedded deployment sending meanwhile."""
    from fastapi.testclient import TestClient
    from sqlalchemy import func, select

    from emailplatform.app import create_app
    from emailplatform.assembly import build_runtime
    from emailplatform.config import Settings
    from emailplatform.logs import configure_logging
    from emailplatform.migrations import upgrade
    from emailplatform.models import Message, MessageStatus

    workdir = Path(tempfile.mkdtemp(prefix="ep-bench-emails-"))
    url, drop = fresh_database(database, workdir)
    settings = Settings(
        database_url=url,
        data_dir=workdir / "data",
        transport="smtp",
        smtp_url=smtp_url,
        smtp_connections=connections,
        public_url="http://bench",
        secret_key="bench",
        log_level="WARNING",
        allow_unverified_domains=True,
        rate_limit_api_key="",
        rate_limit_tenant="",
        access_log=False,
    )
    configure_logging(settings)
    upgrade(settings.resolved_database_url)
    runtime = build_runtime(settings)
    try:
        key = new_api_key(runtime)
        latencies: list[float] = []
        lock = threading.Lock()
        app = create_app(runtime, with_worker=True)
        with TestClient(app, base_url="http://bench", headers={"X-API-Key": key}) as client:

            def send(share: range) -> None:
                for i in share:
                    body = {
                        "from": {"email": "orders@example.com", "name": "Shop"},
                        "to": f"person{i}@example{i % 97}.com",
                        "subject": f"Order {i} has shipped",
                        "html": HTML,
                        "tags": ["shipping"],
                    }
                    started = time.perf_counter()
                    response = client.post("/api/v1/emails", json=body)
                    elapsed = time.perf_counter() - started
                    assert response.status_code == 202, response.text
                    with lock:
                        latencies.append(elapsed)

            started = time.perf_counter()
            threads = [threading.Thread(target=send, args=(range(c, emails, clients),)) for c in range(clients)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            calls_done = time.perf_counter()
            while True:
                with runtime.db.session(write=False) as session:
                    sent = session.scalar(select(func.count()).where(Message.status == MessageStatus.SENT))
                if sent >= emails:
                    break
                time.sleep(0.05)
            all_sent = time.perf_counter()
        latencies.sort()
        return {
            "call_p50_ms": round(statistics.median(latencies) * 1000, 2),
            "call_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
            "calls_per_second": round(emails / (calls_done - started)),
            "stream_messages_per_second": round(emails / (all_sent - started)),
            "last_sent_after_last_call_seconds": round(all_sent - calls_done, 2),
        }
    finally:
        runtime.close()
        drop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--emails", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    port = free_port()
    sink = subprocess.Popen([sys.executable, "-m", "bench.smtp_sink", str(port)], stdout=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        smtp_url = f"smtp://127.0.0.1:{port}"
        csv_path = Path(tempfile.mkdtemp(prefix="ep-bench-csv-")) / "recipients.csv"
        write_csv(csv_path, args.emails)
        results = []
        for database in args.databases.split(","):
            single = stream(database, smtp_url, args.emails, args.clients, args.connections)
            campaign = run_one(database, csv_path, smtp_url, args.connections, ingest_only=False)
            results.append(
                {"database": database, "emails": args.emails, "clients": args.clients}
                | single
                | {
                    "campaign_send_messages_per_second": campaign["send_messages_per_second"],
                    "campaign_end_to_end_seconds": campaign["end_to_end_seconds"],
                }
            )
        floor_rate = asyncio.run(floor(args.emails, "127.0.0.1", port, args.connections))
        print(json.dumps({"results": results, "floor_messages_per_second": round(floor_rate)}, indent=2))
    finally:
        sink.terminate()
        sink.wait(10)


if __name__ == "__main__":
    main()
