"""PostgreSQL stopped and started again under a running campaign, as an outage or a restart would: the API
answers 503 meanwhile, no process exits, and the campaign goes on to reach every recipient."""

import subprocess
import sys
import time
from collections import Counter

import httpx
import pytest

from emailplatform.assembly import build_runtime
from emailplatform.config import Settings
from emailplatform.migrations import upgrade
from emailplatform.tenants import service as tenant_service
from tests.conftest import clean_env, free_port
from tests.helpers import campaign, create_campaign, create_template, csv_bytes, upload_file
from tests.postgres_cluster import PostgresCluster

RECIPIENTS = 600


@pytest.fixture
def cluster():
    cluster = PostgresCluster(free_port())
    cluster.start()
    yield cluster
    cluster.remove()


def start(args: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "emailplatform.cli", *args], env=env, stderr=subprocess.DEVNULL)


def wait_until(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not within {seconds} s: {what}")


def answers(api: httpx.Client, path: str) -> httpx.Response | None:
    try:
        return api.get(path)
    except httpx.TransportError:
        return None


def test_a_campaign_rides_out_a_database_outage(cluster, tmp_path, smtp_sink):
    url = cluster.create_database("emailplatform")
    upgrade(Settings(database_url=url).resolved_database_url)
    runtime = build_runtime(Settings(database_url=url, data_dir=tmp_path / "data"))
    with runtime.db.session() as session:
        tenant = tenant_service.create_tenant(session, "outage")
        _, key = tenant_service.create_api_key(session, tenant.id)
    runtime.close()

    port = free_port()
    env = clean_env(
        **{
            "EMAILPLATFORM_DATABASE_URL": url,
            "EMAILPLATFORM_DATA_DIR": str(tmp_path / "data"),
            "EMAILPLATFORM_SECRET_KEY": "outage-secret",
            "EMAILPLATFORM_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "EMAILPLATFORM_TRANSPORT": "smtp",
            "EMAILPLATFORM_SMTP_URL": smtp_sink.url,
            "EMAILPLATFORM_SMTP_CONNECTIONS": "2",
            "EMAILPLATFORM_ALLOW_UNVERIFIED_DOMAINS": "true",
            "EMAILPLATFORM_JOB_RETRY_BASE_SECONDS": "0.5",
            "EMAILPLATFORM_INBOUND_PORT": str(free_port()),
            "EMAILPLATFORM_LOG_LEVEL": "WARNING",
            # the campaign is polled 20 times a second for up to two minutes: past the key's 1,000 a minute
            "EMAILPLATFORM_RATE_LIMIT_API_KEY": "",
            "EMAILPLATFORM_RATE_LIMIT_TENANT": "",
        }
    )
    smtp_sink.delay_seconds = 0.02  # a few seconds of sending, so the outage falls in the middle of it
    server = start(["serve", "--port", str(port), "--processes", "1"], env)  # the API and its worker process
    worker = start(["worker", "--processes", "2"], env)  # and two supervised worker processes beside them
    api = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": key}, timeout=30)
    try:
        wait_until(
            lambda: (r := answers(api, "/readyz")) is not None and r.status_code == 200, 60, "the server is ready"
        )
        recipients = [f"r{i:04d}@example.com" for i in range(RECIPIENTS)]
        template = create_template(api, "Hi {{ name }}", "<p>Hi {{ name }}</p>")
        file = upload_file(api, csv_bytes(["email", "name"], [[r, f"N{r[1:5]}"] for r in recipients]))
        transaction_id = create_campaign(api, template["template_id"], file["file_url"], batch_size=50)[
            "transaction_id"
        ]
        wait_until(lambda: len(smtp_sink.received) >= 50, 60, "sending has started")

        cluster.stop("fast")
        assert len(smtp_sink.received) < RECIPIENTS, "the outage was to fall in the middle of the campaign"
        down = [api.get(f"/api/v1/email/campaigns/{transaction_id}") for _ in range(3)]  # one keep-alive connection
        assert [r.status_code for r in down] == [503] * 3
        assert down[0].json()["error"]["code"] == "unavailable" and int(down[0].headers["Retry-After"]) > 0
        created = api.post("/api/v1/templates", json={"name": "during", "subject": "s", "html": "<p>x</p>"})
        assert created.status_code == 503
        assert api.get("/healthz").status_code == 200
        not_ready = api.get("/readyz")
        assert not_ready.status_code == 503 and not_ready.json()["checks"]["database"].startswith("unavailable")
        time.sleep(4)  # long enough for every process to have tried and failed a few times
        assert server.poll() is None and worker.poll() is None, "no process may exit because the database went away"

        cluster.start()
        done = wait_until(
            lambda: (c := campaign(api, transaction_id))["status"] in ("SENT", "COMPLETED") and c,
            120,
            "the campaign finishes after the outage",
        )
        assert done["status"] in ("SENT", "COMPLETED")
        received = Counter(rcpt for mail in smtp_sink.received for rcpt in mail.rcpt_tos)
        assert set(received) == set(recipients), "every recipient gets the message"
        ready = api.get("/readyz")
        assert ready.json()["status"] == "ready" and ready.json()["checks"] == {
            "database": "ok",
            "storage": "ok",
            "worker": "ok",
        }
        assert server.poll() is None and worker.poll() is None
    finally:
        api.close()
        for process in (server, worker):
            process.terminate()
        for process in (server, worker):
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
