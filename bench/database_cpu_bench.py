"""What a message and an event cost PostgreSQL: its CPU time, on a cluster of the benchmark's own (so no other
client's work is counted), for a campaign sent end to end by bench/campaign_bench.py and for events recorded as the
SNS endpoint and the tracking buffers record them (record_many, 100 deliveries or 50 opens a transaction).

    .venv/bin/python -m bench.database_cpu_bench [--recipients 20000] [--events 5000]

The cluster runs with fsync=off (tests/postgres_cluster.py): WAL flushes are not counted. Prints JSON: PostgreSQL's
CPU milliseconds per message sent and per event, and the benchmark's own for comparison. CPU time, not wall time,
so a busy machine changes it less; the floor of the campaign run is in its own figures.
"""

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from emailplatform.app import create_app
from emailplatform.assembly import build_runtime
from emailplatform.config import Settings
from emailplatform.events import service as event_service
from emailplatform.migrations import upgrade
from emailplatform.models import Message
from tests.conftest import PUBLIC_URL, free_port, make_settings, new_tenant
from tests.postgres_cluster import PostgresCluster
from tests.ui.test_analytics import sent_campaign

TICK = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / TICK  # its own and its reaped children's user and system time


def cluster_cpu_seconds(cluster: PostgresCluster) -> float:
    """The postmaster's, its ended backends' (reaped by it) and its running children's CPU time."""
    postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0])
    children = Path(f"/proc/{postmaster}/task/{postmaster}/children").read_text().split()
    total = _cpu_seconds(postmaster)
    for child in children:
        with contextlib.suppress(FileNotFoundError):  # it ended meanwhile: counted in the postmaster's
            total += _cpu_seconds(int(child))
    return total


def campaign_cost(cluster: PostgresCluster, recipients: int) -> dict:
    before = cluster_cpu_seconds(cluster)
    env = dict(os.environ, EMAILPLATFORM_TEST_POSTGRES_URL=cluster.url())
    args = ["--databases", "postgresql", "--recipients", str(recipients)]
    done = subprocess.run(
        [sys.executable, "-m", "bench.campaign_bench", *args], env=env, capture_output=True, text=True, check=True
    )
    time.sleep(1)  # its connections closed, their backends reaped
    spent = cluster_cpu_seconds(cluster) - before
    return {"campaign": json.loads(done.stdout), "pg_cpu_ms_per_message_sent": round(spent * 1000 / recipients, 3)}


def events_cost(cluster: PostgresCluster, messages: int) -> dict:
    url = cluster.create_database("events_bench")
    upgrade(Settings(database_url=url).resolved_database_url)
    runtime = build_runtime(make_settings(url, Path(tempfile.mkdtemp()) / "data"))
    tenant = new_tenant(runtime)
    with TestClient(create_app(runtime), base_url=PUBLIC_URL) as client:
        client.headers["X-API-Key"] = tenant.api_key
        addresses = [f"r{i}@d{i % 50}.example" for i in range(messages)]
        transaction_id = uuid.UUID(sent_campaign(client, runtime, addresses, "Events"))
    with runtime.db.session() as session:
        ids = list(session.scalars(select(Message.id).where(Message.transaction_id == transaction_id)))
    figures = {}
    for kind, per_transaction in (("delivered", 100), ("opened", 50)):
        pg_before, app_before = cluster_cpu_seconds(cluster), time.process_time()
        for start in range(0, len(ids), per_transaction):
            with runtime.db.session() as session:
                chunk = ids[start : start + per_transaction]
                event_service.record_many(session, [event_service.NewEvent(m, kind) for m in chunk])
        figures[f"pg_cpu_ms_per_{kind}_event"] = round((cluster_cpu_seconds(cluster) - pg_before) * 1000 / len(ids), 3)
        figures[f"app_cpu_ms_per_{kind}_event"] = round((time.process_time() - app_before) * 1000 / len(ids), 3)
    runtime.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=5_000)
    options = parser.parse_args()
    cluster = PostgresCluster(free_port())
    cluster.start()
    try:
        print(json.dumps(campaign_cost(cluster, options.recipients) | events_cost(cluster, options.events), indent=2))
    finally:
        cluster.remove()


if __name__ == "__main__":
    main()
