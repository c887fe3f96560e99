"""What one write of the recorder costs, outside the send pipeline: outcomes of sent messages written back in groups,
as the recorder writes them (sending/recorder.py: one transaction a group on its held connection), beside a floor.

    .venv/bin/python -m bench.recorder_bench [--messages 6000] [--group 5] [--databases sqlite,postgresql]

The messages are a real campaign's, split and claimed (SENDING) first. The floor is the same work through the database
driver alone: one transaction a group with the status UPDATE … RETURNING of its rows by id and the two count
upserts (adding nothing, the counts already moved), no SQLAlchemy, no advisory lock.
Prints JSON: CPU and wall microseconds a write and an outcome, for each database.
"""

import argparse
import json
import tempfile
import time
import uuid
from pathlib import Path

from bench.campaign_bench import api_client, campaign_request, fresh_database, write_csv


def run_one(database: str, messages: int, group: int) -> dict:
    from sqlalchemy import select

    from emailplatform.assembly import build_runtime
    from emailplatform.campaigns import splitting, status
    from emailplatform.config import Settings
    from emailplatform.logs import configure_logging
    from emailplatform.migrations import upgrade
    from emailplatform.models import Batch, Transaction, utcnow
    from emailplatform.sending import recorder
    from emailplatform.sending.steps import Claimed, Outcome
    from emailplatform.sending.transports.base import SendResult, SendStatus

    workdir = Path(tempfile.mkdtemp(prefix="ep-bench-"))
    csv_path = workdir / "recipients.csv"
    write_csv(csv_path, messages)
    url, drop = fresh_database(database, workdir)
    settings = Settings(
        database_url=url,
        data_dir=workdir / "data",
        public_url="http://bench",
        secret_key="bench",
        log_level="WARNING",
        allow_unverified_domains=True,
    )
    configure_logging(settings)  # at WARNING: the access log would print to stdout, where the JSON goes
    upgrade(settings.resolved_database_url)
    runtime = build_runtime(settings)
    try:
        client = api_client(runtime)
        created = client.post("/api/v1/email/campaigns", json=campaign_request(client, csv_path))
        assert created.status_code == 202, created.text
        transaction_id = uuid.UUID(created.json()["transaction_id"])
        splitting.split_file(runtime, transaction_id)
        with runtime.db.session() as session:
            transaction = session.get_one(Transaction, transaction_id)
            batch_ids = session.scalars(select(Batch.id).where(Batch.transaction_id == transaction_id)).all()
        claimed = []
        for batch_id in batch_ids:
            with runtime.db.session() as session:
                rows = status.claim(session, batch_id, messages)
            claimed += [Claimed(row.id, row.email, row.position, row.attempts, False) for row in rows]
        groups = [claimed[i : i + group] for i in range(0, len(claimed), group)]
        plan = _Plan(batch_ids[0], transaction, settings)
        sent = SendResult(SendStatus.SENT, "250 2.0.0 Ok")

        def recorder_writes(connection) -> None:
            for outcomes in groups:
                with connection.begin():
                    recorder.record(connection, plan, [Outcome(message, sent) for message in outcomes])

        def floor_writes(connection) -> None:
            driver = connection.connection.driver_connection
            cursor = driver.cursor()
            mark = "?" if database == "sqlite" else "%s"
            campaign = transaction_id.hex if database == "sqlite" else transaction_id
            for outcomes in groups:
                ids = [m.id.hex if database == "sqlite" else m.id for m in outcomes]
                if database == "sqlite":
                    cursor.execute("BEGIN IMMEDIATE")
                cursor.execute(
                    f"UPDATE messages SET updated_at = {mark}, attempts = attempts + 1 "
                    f"WHERE id IN ({', '.join([mark] * len(ids))}) AND status = 'SENT' RETURNING id, email",
                    [utcnow(), *ids],
                )
                assert len(cursor.fetchall()) == len(ids)
                cursor.executemany(
                    f"INSERT INTO message_counts (transaction_id, status, count) VALUES ({mark}, {mark}, {mark}) "
                    "ON CONFLICT (transaction_id, status) DO UPDATE SET count = message_counts.count + excluded.count",
                    [(campaign, "PENDING", 0), (campaign, "SENT", 0)],
                )
                cursor.executemany(
                    "INSERT INTO domain_message_counts (transaction_id, domain, status, count) "
                    f"VALUES ({mark}, {mark}, {mark}, {mark}) ON CONFLICT (transaction_id, domain, status) "
                    "DO UPDATE SET count = domain_message_counts.count + excluded.count",
                    [(campaign, m.email.rpartition("@")[2], s, 0) for m in outcomes for s in ("PENDING", "SENT")],
                )
                driver.commit()

        result = {"database": database, "messages": len(claimed), "group": group}
        for name, writes in (("recorder", recorder_writes), ("floor", floor_writes)):
            with runtime.db.writer_engine.connect() as connection:
                cpu, wall = time.process_time(), time.perf_counter()
                writes(connection)
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            result[name] = {
                "cpu_us_per_write": round(cpu / len(groups) * 1e6),
                "wall_us_per_write": round(wall / len(groups) * 1e6),
                "cpu_us_per_outcome": round(cpu / len(claimed) * 1e6),
            }
        result["recorder_cpu_to_floor"] = round(
            result["recorder"]["cpu_us_per_write"] / result["floor"]["cpu_us_per_write"], 2
        )
        return result
    finally:
        runtime.close()
        drop()


class _Plan:
    """The parts of a batch's plan that recording sent outcomes reads."""

    def __init__(self, batch_id, transaction, settings):
        self.batch_id, self.transaction, self.settings, self.notify_sent = batch_id, transaction, settings, False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=6000)
    parser.add_argument("--group", type=int, default=5)
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    runs = [run_one(database, args.messages, args.group) for database in args.databases.split(",")]
    print(json.dumps({"runs": runs}, indent=2))


if __name__ == "__main__":
    main()
