"""End-to-end campaign benchmark: N recipients on SQLite and PostgreSQL to a local SMTP sink, beside a floor.

    .venv/bin/python -m bench.campaign_bench [--recipients 100000] [--connections 10] [--databases sqlite,postgresql]
    .venv/bin/python -m bench.campaign_bench --recipients 1000000 --ingest-only     # the memory figure
    .venv/bin/python -m bench.campaign_bench --sink smtp-sink --processes 2 --databases postgresql

`--sink smtp-sink` sends to Postfix's C sink (/usr/sbin/smtp-sink, apt-get install postfix) instead of the aiosmtpd
one; `--processes N` sends with `emailplatform worker --processes N` (N processes of `--connections` SMTP
connections each) against the same database instead of one worker in the benchmark's process. EMAILPLATFORM_*
settings set in the benchmark's environment (EMAILPLATFORM_SEND_UNRECORDED_LIMIT…) apply to either.

Prints JSON: rows ingested per second, messages sent per second, end-to-end seconds and peak RSS per database,
and the floor: a plain aiosmtplib script sending the same number of pre-built messages over the same number of
connections to the same sink. Each database runs in a process of its own, so its peak RSS is its own.
"""

import argparse
import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiosmtplib
import psycopg

from emailplatform.job_kinds import new_worker
from emailplatform.jobs.worker import run

POSTGRES_URL = os.environ.get("EMAILPLATFORM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
HTML = """<html><body><h1>Hello {{ first_name }},</h1>
<p>Our autumn offer for {{ company }} in {{ city }} is ready.
<a href="https://example.com/offer?c={{ company|urlencode }}">See it</a>.</p>
<p>Kind regards,<br>The Example team</p></body></html>"""


def write_csv(path: Path, n: int) -> None:
    with path.open("w") as out:
        out.write("email,first_name,company,city\n")
        for i in range(n):
            out.write(f"person{i}@example{i % 97}.com,Name{i},Company {i % 1000},City {i % 50}\n")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_one(
    database: str, csv_path: Path, smtp_url: str, connections: int, ingest_only: bool, processes: int = 0
) -> dict:
    """One campaign, in this process, through the API and a worker, as a user's deployment would run it."""
    from emailplatform.assembly import build_runtime
    from emailplatform.config import Settings
    from emailplatform.logs import configure_logging
    from emailplatform.migrations import upgrade
    from emailplatform.models import Transaction

    workdir = Path(tempfile.mkdtemp(prefix="ep-bench-"))
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
    )
    configure_logging(settings)  # at WARNING: the access log would print to stdout, where the JSON goes
    upgrade(settings.resolved_database_url)
    runtime = build_runtime(settings)
    try:
        client = api_client(runtime)
        campaign = campaign_request(client, csv_path)
        started = time.perf_counter()
        response = client.post("/api/v1/email/campaigns", json=campaign)
        assert response.status_code == 202, response.text
        accepted = response.json()
        if ingest_only:
            from emailplatform.campaigns import splitting

            splitting.split_file(runtime, uuid.UUID(accepted["transaction_id"]))
        elif processes:
            send_with_processes(settings, runtime, uuid.UUID(accepted["transaction_id"]), processes)
        else:
            run(drain(runtime))
        ended = time.perf_counter()
        with runtime.db.session(write=False) as session:
            transaction = session.get(Transaction, uuid.UUID(accepted["transaction_id"]))
            ingest_seconds = (transaction.processed_at - transaction.created_at).total_seconds()
            result = {
                "database": database,
                "status": transaction.status,
                "recipients": transaction.total_messages,
                "ingest_rows_per_second": round(transaction.total_messages / ingest_seconds),
                "peak_rss_mb": round(peak_rss_mb(), 1),
            }
            if not ingest_only:
                send_seconds = (transaction.sent_at - transaction.processed_at).total_seconds()
                result |= {
                    "send_messages_per_second": round(transaction.total_messages / send_seconds),
                    "end_to_end_seconds": round(ended - started, 2),
                }
        return result
    finally:
        runtime.close()
        drop()


def new_api_key(runtime) -> str:
    """The API key of a new tenant, "bench"."""
    from emailplatform.tenants import service as tenant_service

    with runtime.db.session() as session:
        tenant = tenant_service.create_tenant(session, "bench")
        _, key = tenant_service.create_api_key(session, tenant.id)
    return key


def api_client(runtime):
    """A client of the runtime's API, in process, with a new tenant's key."""
    from fastapi.testclient import TestClient

    from emailplatform.app import create_app

    return TestClient(create_app(runtime), base_url="http://bench", headers={"X-API-Key": new_api_key(runtime)})


def campaign_request(client, csv_path: Path) -> dict:
    """The body of a create-campaign request: the benchmark's template and `csv_path` uploaded."""
    template = client.post(
        "/api/v1/templates", json={"name": "bench", "subject": "Offer for {{ company }}", "html": HTML}
    ).json()
    upload = client.post("/api/v1/files/upload-url", json={"filename": "bench.csv"}).json()
    client.put(upload["upload_url"], content=csv_path.read_bytes())
    return {
        "template_id": template["template_id"],
        "csv_file_url": upload["file_url"],
        "from": {"email": "news@example.com"},
    }


def send_with_processes(settings, runtime, transaction_id: uuid.UUID, processes: int) -> None:
    """Split and send with `emailplatform worker --processes N` on the same database, until the campaign is sent."""
    from emailplatform.models import Transaction, TransactionStatus

    env = os.environ | {  # EMAILPLATFORM_* settings of the benchmark's environment apply, as they do in-process
        "EMAILPLATFORM_DATABASE_URL": settings.database_url,
        "EMAILPLATFORM_DATA_DIR": str(settings.data_dir),
        "EMAILPLATFORM_SECRET_KEY": settings.secret_key,
        "EMAILPLATFORM_PUBLIC_URL": settings.public_url,
        "EMAILPLATFORM_TRANSPORT": "smtp",
        "EMAILPLATFORM_SMTP_URL": settings.smtp_url,
        "EMAILPLATFORM_SMTP_CONNECTIONS": str(settings.smtp_connections),
        "EMAILPLATFORM_LOG_LEVEL": "WARNING",
        "EMAILPLATFORM_ALLOW_UNVERIFIED_DOMAINS": "true",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "emailplatform.cli", "worker", "--processes", str(processes)],
        env=env,
        stdout=sys.stderr,
    )
    try:
        while True:
            with runtime.db.session(write=False) as session:
                status = session.get(Transaction, transaction_id).status
            if status in (TransactionStatus.SENT, TransactionStatus.COMPLETED, TransactionStatus.FAILED):
                return
            if worker.poll() is not None:
                raise RuntimeError(f"the workers exited with {worker.returncode}")
            time.sleep(0.2)
    finally:
        worker.terminate()
        worker.wait(120)


async def drain(runtime) -> None:
    try:
        await new_worker(runtime).run_until_idle()
    finally:
        await runtime.aclose()


def fresh_database(database: str, workdir: Path):
    if database == "sqlite":
        return f"sqlite:///{workdir / 'bench.db'}", lambda: None
    name = f"emailplatform_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')

    def drop():
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')

    return POSTGRES_URL.rsplit("/", 1)[0] + "/" + name, drop


async def floor(n: int, host: str, port: int, connections: int) -> float:
    """Messages per second of a plain script: pre-built messages, the same connections, the same sink, on the
    same kind of event loop as the worker."""
    from email.message import EmailMessage

    template = EmailMessage()
    template["From"] = "news@example.com"
    template["Subject"] = "Offer"
    template.set_content("Hello, our offer is ready.")
    template.add_alternative(HTML, subtype="html")
    raw = template.as_bytes()
    messages = [(f"person{i}@example.com", raw) for i in range(n)]

    async def sender(share):
        smtp = aiosmtplib.SMTP(hostname=host, port=port, start_tls=False)
        await smtp.connect()
        for recipient, body in share:
            await smtp.sendmail("news@example.com", [recipient], body)
        await smtp.quit()

    started = time.perf_counter()
    await asyncio.gather(*(sender(messages[i::connections]) for i in range(connections)))
    return n / (time.perf_counter() - started)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int) -> None:
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the sink did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--ingest-only", action="store_true", help="Split only: the ingest rate and its memory.")
    parser.add_argument("--sink", choices=["aiosmtpd", "smtp-sink"], default="aiosmtpd")
    parser.add_argument("--processes", type=int, default=0, help="Worker processes (0: one worker in this process).")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one database in this process
    parser.add_argument("--csv", help=argparse.SUPPRESS)
    parser.add_argument("--smtp-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(
            json.dumps(
                run_one(args.one, Path(args.csv), args.smtp_url, args.connections, args.ingest_only, args.processes)
            )
        )
        return

    port = free_port()
    if args.sink == "smtp-sink":
        sink = subprocess.Popen(["/usr/sbin/smtp-sink", "-u", "nobody", f"127.0.0.1:{port}", "1024"])
        wait_for_port(port)
    else:
        sink = subprocess.Popen([sys.executable, "-m", "bench.smtp_sink", str(port)], stdout=subprocess.PIPE, text=True)
        sink.stdout.readline()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            csv_path = Path(tmp) / "recipients.csv"
            write_csv(csv_path, args.recipients)
            report: dict = {
                "recipients": args.recipients,
                "connections": args.connections,
                "sink": args.sink,
                "worker_processes": args.processes or "one worker in the benchmark's process",
                "runs": [],
            }
            if not args.ingest_only:
                rate = run(floor(args.recipients, "127.0.0.1", port, args.connections))
                report["floor_messages_per_second"] = round(rate)
            for database in args.databases.split(","):
                command = [
                    sys.executable,
                    "-m",
                    "bench.campaign_bench",
                    "--one",
                    database,
                    "--csv",
                    str(csv_path),
                    "--smtp-url",
                    f"smtp://127.0.0.1:{port}",
                    "--connections",
                    str(args.connections),
                    "--processes",
                    str(args.processes),
                ]
                if args.ingest_only:
                    command.append("--ingest-only")
                measured = json.loads(subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout)
                if not args.ingest_only:
                    rate = measured["send_messages_per_second"] / report["floor_messages_per_second"]
                    measured["send_ratio_to_floor"] = round(rate, 2)
                report["runs"].append(measured)
        print(json.dumps(report, indent=2))
    finally:
        sink.terminate()


if __name__ == "__main__":
    main()
