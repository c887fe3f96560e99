"""The time of a /metrics scrape with 1,000,000 messages in the database (100 campaigns by default).

    .venv/bin/python -m bench.metrics_bench [--campaigns 100] [--messages-per-campaign 10000] [--database-url URL]

The database is filled as bench/ui_bench.py fills it. Prints JSON: the scrape's median and worst time over a
few requests (after one warm-up), beside a floor measured in the same run (the same server answering /healthz)
and beside what the same figures would cost read from the messages table (one GROUP BY status), which is
what a scrape does not do: it reads the message counts, which grow with campaigns, not messages.
"""

import argparse
import json
import statistics
import tempfile
import time

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bench.ui_bench import fill, timed
from emailplatform.app import create_app
from emailplatform.assembly import build_runtime
from emailplatform.config import Settings
from emailplatform.migrations import upgrade
from emailplatform.models import Message, MessageCount
from emailplatform.runtime import Runtime

REPEATS = 5


def messages_table_group_by(runtime: Runtime) -> dict:
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        with runtime.db.session(write=False) as session:
            session.execute(select(Message.status, func.count()).group_by(Message.status)).all()
        times.append((time.perf_counter() - started) * 1000)
    return {"median_ms": round(statistics.median(times), 1), "worst_ms": round(max(times), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--campaigns", type=int, default=100)
    parser.add_argument("--messages-per-campaign", type=int, default=10_000)
    parser.add_argument("--database-url", default="", help="empty: SQLite in a temporary directory")
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="ep-metrics-bench-")
    settings = Settings(
        database_url=args.database_url, data_dir=f"{workdir}/data", secret_key="bench", log_level="WARNING"
    )
    settings.data_dir.mkdir(parents=True)
    upgrade(settings.resolved_database_url)
    runtime = build_runtime(settings)
    fill(runtime, args.campaigns, args.messages_per_campaign, domains=50)
    with runtime.db.session(write=False) as session:
        count_rows = session.scalar(select(func.count()).select_from(MessageCount))
    with TestClient(create_app(runtime)) as client:
        report = {
            "benchmark": "metrics",
            "database": runtime.db.dialect,
            "campaigns": args.campaigns,
            "messages": args.campaigns * args.messages_per_campaign,
            "message_count_rows": count_rows,
            "floor_healthz": timed(client, "/healthz"),
            "scrape": timed(client, "/metrics"),
            "messages_table_group_by": messages_table_group_by(runtime),
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
