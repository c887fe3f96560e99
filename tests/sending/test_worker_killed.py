"""A worker process killed (SIGKILL) in the middle of a campaign, three of them sending it to a slow SMTP server:
nobody is lost, and what goes twice is at most what the dead process had sent without its outcome written (its
SMTP transactions and the outcomes being written: at most its unrecorded limit, here its SMTP connections), not the
messages it had claimed."""

import os
import signal
import subprocess
import sys
from collections import Counter

import pytest

from tests.helpers import all_pages, campaign, create_campaign, create_template, csv_bytes, upload_file
from tests.jobs.test_worker_processes import process_env, wait_until, worker_processes

RECIPIENTS = 2000
CONNECTIONS = 8  # of each worker process; its 4 batches at once share them
UNRECORDED = CONNECTIONS  # messages a process may have sent with their outcomes not yet written
SERVER_SECONDS = 0.1  # how long the server takes to accept a message: up to 80 a second a process


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_killed_worker_sends_again_at_most_its_smtp_transactions(client, runtime, smtp_sink, database_url):
    recipients = [f"r{i:04d}@example{i % 7}.com" for i in range(RECIPIENTS)]
    smtp_sink.delay_seconds = SERVER_SECONDS
    template = create_template(client, "Hi {{ name }}", "<p>Hi {{ name }}</p>")
    file = upload_file(client, csv_bytes(["email", "name"], [[r, r[:5]] for r in recipients]))
    created = create_campaign(client, template["template_id"], file["file_url"], batch_size=200)
    transaction_id = created["transaction_id"]

    env = process_env(
        runtime,
        smtp_sink,
        EMAILPLATFORM_SMTP_CONNECTIONS=str(CONNECTIONS),
        EMAILPLATFORM_SEND_UNRECORDED_LIMIT=str(UNRECORDED),
    )
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "emailplatform.cli", "worker", "--processes", "3"], env=env, stderr=subprocess.DEVNULL
    )
    try:
        victim = min(worker_processes(supervisor.pid, 3))
        wait_until(lambda: len(smtp_sink.received) >= RECIPIENTS // 4, 60, "sending has started")
        os.kill(victim, signal.SIGKILL)
        assert len(smtp_sink.received) < RECIPIENTS * 3 // 4, "the kill was to fall in the middle of the campaign"

        wait_until(lambda: campaign(client, transaction_id)["status"] == "SENT", 60, "the campaign is sent")
        messages = all_pages(client, f"/api/v1/email/campaigns/{transaction_id}/messages")
        assert {m["status"] for m in messages} == {"SENT"}
        received = Counter(rcpt for mail in smtp_sink.received for rcpt in mail.rcpt_tos)
        assert set(received) == set(recipients), "nobody is lost"
        twice = sum(received.values()) - RECIPIENTS
        assert twice <= UNRECORDED, f"{twice} recipients got the message twice"
    finally:
        supervisor.kill()
        supervisor.wait()
