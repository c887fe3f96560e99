"""Campaigns under sending throttles, to a real SMTP server: a throttled message waits for its turn and is sent
later, never failed; two worker processes hold one tenant limit together (counted in the database or in Redis)."""

import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import redis
from sqlalchemy import select

from emailplatform.config import DomainThrottle
from emailplatform.models import Job
from emailplatform.tenants import service as tenant_service
from tests.conftest import run_jobs
from tests.helpers import all_pages, campaign, create_campaign, create_template, csv_bytes, upload_file
from tests.jobs.test_worker_processes import process_env, wait_until

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def smtp_runtime(runtime, smtp_sink):
    runtime.settings.transport = "smtp"
    runtime.settings.smtp_url = smtp_sink.url
    return runtime


@pytest.fixture
def arrivals(smtp_sink) -> list[float]:
    """When the sink took each message."""
    times: list[float] = []
    smtp_sink.on_message = lambda mail: times.append(time.time())
    return times


def throttle(runtime, tenant, per_second=None, per_day=None):
    with runtime.db.session() as session:
        tenant_service.set_throttles(session, tenant.name, per_second, per_day)


def send_campaign(client, count: int, **extra) -> tuple[str, list[str]]:
    recipients = [f"r{i:03d}@example.com" for i in range(count)]
    template = create_template(client, "Hi {{ name }}", "<p>Hi {{ name }}</p>")
    file = upload_file(client, csv_bytes(["email", "name"], [[r, r[:4]] for r in recipients]))
    return create_campaign(client, template["template_id"], file["file_url"], **extra)["transaction_id"], recipients


def messages_of(client, transaction_id) -> dict[str, dict]:
    return {m["email"]: m for m in all_pages(client, f"/api/v1/email/campaigns/{transaction_id}/messages")}


def test_a_tenant_limit_spreads_a_campaign_over_seconds_and_every_message_goes_once(
    client, smtp_runtime, smtp_sink, tenant, arrivals
):
    smtp_runtime.settings.smtp_connections = 2  # two in flight wait at most a second each: all wait in place
    throttle(smtp_runtime, tenant, per_second=2)
    transaction_id, recipients = send_campaign(client, 10)
    run_jobs(smtp_runtime)

    assert campaign(client, transaction_id)["status"] == "SENT"
    assert Counter(r for mail in smtp_sink.received for r in mail.rcpt_tos) == Counter(recipients)
    # Ten at two a second take five windows of a second; the first two may arrive late, behind the connection's
    # set-up, among the next two: at least four seconds see messages arrive, none more than four.
    by_second = Counter(int(t) for t in arrivals)
    assert len(by_second) >= 4 and max(by_second.values()) <= 4, by_second


def test_a_message_throttled_longer_than_the_wait_goes_back_to_the_queue_and_is_sent_later_never_failed(
    client, smtp_runtime, smtp_sink, tenant
):
    smtp_runtime.settings.throttle_max_wait_seconds = 0
    throttle(smtp_runtime, tenant, per_second=2)
    transaction_id, recipients = send_campaign(client, 5)
    run_jobs(smtp_runtime)

    waiting = [m for m in messages_of(client, transaction_id).values() if m["status"] == "READY_TO_SEND"]
    assert waiting, "five at two a second do not all go at once"
    assert all(m["last_error"] == "throttled: the tenant's 2 messages a second" and m["attempts"] == 0 for m in waiting)
    assert campaign(client, transaction_id)["status"] == "READY_TO_SEND"
    history = client.get(f"/api/v1/email/messages/{waiting[0]['message_id']}").json()["history"]
    assert [h["type"] for h in history] == ["created"], "waiting for a turn is no attempt and no event"

    deadline = time.monotonic() + 15
    while campaign(client, transaction_id)["status"] != "SENT" and time.monotonic() < deadline:
        time.sleep(0.2)
        run_jobs(smtp_runtime)
    assert campaign(client, transaction_id)["status"] == "SENT"
    assert {m["status"] for m in messages_of(client, transaction_id).values()} == {"SENT"}
    assert Counter(r for mail in smtp_sink.received for r in mail.rcpt_tos) == Counter(recipients)


def test_a_domains_connection_limit_holds_the_messages_in_flight_to_it_to_that_many(
    client, smtp_runtime, smtp_sink, arrivals
):
    smtp_runtime.settings.throttle_domains = {"example.com": DomainThrottle(connections=1)}
    smtp_sink.delay_seconds = 0.2  # each message takes a fifth of a second
    transaction_id, recipients = send_campaign(client, 5)
    started = time.time()
    run_jobs(smtp_runtime)

    assert campaign(client, transaction_id)["status"] == "SENT"
    assert Counter(r for mail in smtp_sink.received for r in mail.rcpt_tos) == Counter(recipients)
    gaps = [later - earlier for earlier, later in zip(arrivals, arrivals[1:])]
    assert min(gaps) >= 0.19, "one at a time, each after the one before was answered"
    assert arrivals[-1] - started >= 1.0


def test_a_days_quota_used_up_leaves_the_rest_waiting_until_midnight(client, smtp_runtime, smtp_sink, tenant):
    throttle(smtp_runtime, tenant, per_day=3)
    transaction_id, _ = send_campaign(client, 5)
    run_jobs(smtp_runtime)

    by_status = Counter(m["status"] for m in messages_of(client, transaction_id).values())
    assert by_status == {"SENT": 3, "READY_TO_SEND": 2}
    assert len(smtp_sink.received) == 3
    midnight = (datetime.now(UTC) + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    with smtp_runtime.db.session() as session:
        jobs = session.scalars(select(Job).where(Job.kind == "send_batch", Job.tenant_id == tenant.tenant_id)).all()
    assert [job.run_at for job in jobs if job.run_at > datetime.now(UTC)] == [midnight], "the batch comes back then"


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("counted_in", ["database", "redis"])
def test_two_worker_processes_hold_one_tenant_limit_together(client, runtime, smtp_sink, tenant, arrivals, counted_in):
    limit = 4
    env = process_env(runtime, smtp_sink, EMAILPLATFORM_THROTTLE_TENANT_PER_SECOND=str(limit))
    if counted_in == "redis":
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
        prefix = f"eptest-{uuid.uuid4().hex[:12]}"
        env |= {"EMAILPLATFORM_REDIS_URL": REDIS_URL, "EMAILPLATFORM_REDIS_KEY_PREFIX": prefix}
    transaction_id, recipients = send_campaign(client, 20, batch_size=4)
    workers = subprocess.Popen(
        [sys.executable, "-m", "emailplatform.cli", "worker", "--processes", "2"],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: campaign(client, transaction_id)["status"] == "SENT", 60, "the campaign is sent")
    finally:
        workers.terminate()
        workers.wait(30)
    assert Counter(r for mail in smtp_sink.received for r in mail.rcpt_tos) == Counter(recipients)
    # Twenty at four a second between both take five windows of a second (the first ones may arrive late, behind
    # the connections' set-up, in the second of the next): four seconds at least see messages arrive. Each
    # process counting on its own would send them in three.
    by_second = Counter(int(t) for t in arrivals)
    assert len(by_second) >= 4, by_second
