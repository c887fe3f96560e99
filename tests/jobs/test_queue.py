"""The work queue: failing jobs retry and end dead, visible and retryable; a killed worker loses nothing."""

import os
import signal
import subprocess
import sys
import time
from collections import Counter

from emailplatform.sending.pipeline import SLICE
from tests.conftest import clean_env, run_jobs
from tests.helpers import all_pages, campaign, create_campaign, create_template, csv_bytes, upload_file


def test_a_failing_job_ends_dead_is_visible_and_can_be_retried(client, runtime):
    runtime.settings.job_max_attempts = 2
    runtime.settings.job_retry_base_seconds = 0.05
    template = create_template(client, "Hi", "<p>Hi {{ name }}</p>")
    content = csv_bytes(["email", "name"], [["a@example.com", "A"]])
    file = upload_file(client, content)
    transaction_id = create_campaign(client, template["template_id"], file["file_url"])["transaction_id"]
    key = file["file_url"].removeprefix("local://files/")
    runtime.storage.delete(key)  # the file vanishes from storage after the campaign was accepted

    for _ in range(2):
        run_jobs(runtime)
        time.sleep(0.1)
    dead = client.get("/api/v1/jobs", params={"state": "dead"}).json()["items"]
    assert [(j["kind"], j["attempts"]) for j in dead] == [("split_file", 2)]
    assert "StoredFileMissing" in dead[0]["last_error"]

    runtime.storage.put(key, content)
    retried = client.post(f"/api/v1/jobs/{dead[0]['id']}/retry")
    assert retried.status_code == 200 and retried.json()["state"] == "queued"
    run_jobs(runtime)
    assert campaign(client, transaction_id)["status"] == "COMPLETED"
    assert client.post(f"/api/v1/jobs/{dead[0]['id']}/retry").status_code == 409


def test_a_worker_killed_mid_batch_loses_nothing(client, runtime, smtp_sink, database_url):
    recipients = [f"r{i:03d}@example.com" for i in range(2 * SLICE)]
    smtp_sink.delay_seconds = 0.01
    template = create_template(client, "Hi", "<p>Hi {{ name }}</p>")
    file = upload_file(client, csv_bytes(["email", "name"], [[r, "R"] for r in recipients]))
    transaction_id = create_campaign(client, template["template_id"], file["file_url"])["transaction_id"]

    env = clean_env(
        **{
            "EMAILPLATFORM_DATABASE_URL": database_url,
            "EMAILPLATFORM_DATA_DIR": str(runtime.settings.data_dir),
            "EMAILPLATFORM_SECRET_KEY": runtime.settings.secret_key,
            "EMAILPLATFORM_TRANSPORT": "smtp",
            "EMAILPLATFORM_SMTP_URL": smtp_sink.url,
            "EMAILPLATFORM_SMTP_CONNECTIONS": "2",
            "EMAILPLATFORM_JOB_LEASE_SECONDS": "2",
        }
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "emailplatform.cli", "worker", "--processes", "1"], env=env, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while len(smtp_sink.received) < SLICE + 10 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    assert SLICE + 10 <= len(smtp_sink.received) < len(recipients), "the worker was to die in the middle of the batch"

    time.sleep(2.5)  # the dead worker's lease runs out
    runtime.settings.transport, runtime.settings.smtp_url = "smtp", smtp_sink.url
    run_jobs(runtime)

    assert campaign(client, transaction_id)["status"] == "SENT"
    messages = all_pages(client, f"/api/v1/email/campaigns/{transaction_id}/messages")
    assert {m["status"] for m in messages} == {"SENT"}
    counts = Counter(rcpt for mail in smtp_sink.received for rcpt in mail.rcpt_tos)
    assert set(counts) == set(recipients)
    assert sum(counts.values()) - len(recipients) <= SLICE  # only the slice in flight may go twice


def test_housekeeping_forgets_expired_idempotency_keys_and_old_jobs(client, runtime, tenant):
    from datetime import timedelta

    from sqlalchemy import func, select

    from emailplatform.models import IdempotencyKey, Job, JobState, utcnow

    old = utcnow() - timedelta(days=8)
    with runtime.db.session() as session:
        session.add_all(
            [
                IdempotencyKey(
                    tenant_id=tenant.tenant_id,
                    key="old",
                    request_hash="x",
                    status_code=202,
                    response={},
                    created_at=old,
                ),
                IdempotencyKey(tenant_id=tenant.tenant_id, key="fresh", request_hash="x", status_code=202, response={}),
                Job(kind="send_batch", payload={}, state=JobState.DONE, finished_at=old),
                Job(kind="send_batch", payload={}, state=JobState.DEAD, finished_at=old),
            ]
        )
    run_jobs(runtime)
    with runtime.db.session(write=False) as session:
        keys = set(session.scalars(select(IdempotencyKey.key).where(IdempotencyKey.tenant_id == tenant.tenant_id)))
        states = dict(
            session.execute(select(Job.state, func.count()).where(Job.kind == "send_batch").group_by(Job.state)).all()
        )
        periodic = session.scalars(select(Job).where(Job.kind == "cleanup")).all()
    assert keys == {"fresh"}
    assert states == {JobState.DEAD: 1}
    assert len(periodic) == 1 and periodic[0].state == JobState.QUEUED and periodic[0].run_at > utcnow()
