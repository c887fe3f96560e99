"""A campaign pauses by itself when too many of its messages bounce, says why, sends nothing while paused, and
sends the rest once resumed; a sender can pause one too."""

import time
from collections import Counter

import pytest

from emailplatform.campaigns.pausing import reason_to_pause
from emailplatform.config import Settings
from tests.conftest import run_jobs
from tests.helpers import all_pages, campaign, create_campaign, create_template, csv_bytes, upload_file


@pytest.fixture
def smtp_runtime(runtime, smtp_sink):
    runtime.settings.transport = "smtp"
    runtime.settings.smtp_url = smtp_sink.url
    runtime.settings.worker_concurrency = 1  # one batch after another: the bounces of one are counted before the next
    runtime.settings.pause_min_sent = 4
    return runtime


def new_campaign(client, recipients: list[str], batch_size: int) -> str:
    template = create_template(client, "Hi", "<p>Hi {{ name }}</p>")
    file = upload_file(client, csv_bytes(["email", "name"], [[r, "x"] for r in recipients]))
    return create_campaign(client, template["template_id"], file["file_url"], batch_size=batch_size)["transaction_id"]


def received(smtp_sink) -> Counter:
    return Counter(r for mail in smtp_sink.received for r in mail.rcpt_tos)


def test_a_campaign_whose_bounces_pass_the_threshold_pauses_says_why_and_resumed_sends_the_rest(
    client, smtp_runtime, smtp_sink
):
    gone = [f"gone{i}@example.com" for i in range(2)]
    good = [f"good{i}@example.com" for i in range(10)]
    smtp_sink.replies = {address: "550 5.1.1 no such user" for address in gone}
    transaction_id = new_campaign(client, [*gone, *good], batch_size=4)  # two bounce of the first four

    run_jobs(smtp_runtime)
    paused = campaign(client, transaction_id)
    assert paused["status"] == "PAUSED"
    assert "2 of 4 messages bounced (50.00%)" in paused["status_reason"]
    assert "bounce rate threshold of 5.00%" in paused["status_reason"]
    assert sum(received(smtp_sink).values()) == 2, "the first batch's two good messages, then nothing"
    run_jobs(smtp_runtime)
    assert sum(received(smtp_sink).values()) == 2, "a paused campaign sends nothing"

    answer = client.post(f"/api/v1/email/campaigns/{transaction_id}/resume")
    assert answer.status_code == 200 and answer.json()["status"] == "READY_TO_SEND"
    assert answer.json()["status_reason"] is None
    run_jobs(smtp_runtime)

    done = campaign(client, transaction_id)
    assert done["status"] == "SENT", "its rates count afresh from the resume: the good rest does not pause it"
    assert received(smtp_sink) == Counter(good)
    assert (done["summary"]["sent"], done["summary"]["bounced"]) == (12, 2)
    statuses = Counter(m["status"] for m in all_pages(client, f"/api/v1/email/campaigns/{transaction_id}/messages"))
    assert statuses == {"SENT": 10, "BOUNCED": 2}


def test_a_sender_pauses_a_sending_campaign_and_only_a_paused_one_resumes(client, smtp_runtime, smtp_sink):
    transaction_id = new_campaign(client, [f"r{i}@example.com" for i in range(3)], batch_size=3)
    assert client.post(f"/api/v1/email/campaigns/{transaction_id}/resume").status_code == 409
    smtp_runtime.settings.worker_concurrency = 1
    run_jobs(smtp_runtime)  # split and sent
    answer = client.post(f"/api/v1/email/campaigns/{transaction_id}/pause")
    assert answer.status_code == 409
    assert answer.json()["error"]["field"] == "transaction_id" and "SENT" in answer.json()["error"]["message"]


def test_a_paused_campaign_sends_nothing_until_resumed(client, smtp_runtime, smtp_sink):
    recipients = [f"r{i}@example.com" for i in range(4)]
    transaction_id = new_campaign(client, recipients, batch_size=2)
    smtp_sink.replies = {r: "450 4.2.1 busy" for r in recipients}  # it stays sending, its messages deferred
    smtp_runtime.settings.send_retry_base_seconds = 1
    run_jobs(smtp_runtime)
    assert campaign(client, transaction_id)["status"] == "READY_TO_SEND"

    paused = client.post(f"/api/v1/email/campaigns/{transaction_id}/pause").json()
    assert (paused["status"], paused["status_reason"]) == ("PAUSED", "paused by request")
    smtp_sink.replies = {}
    time.sleep(1.1)
    run_jobs(smtp_runtime)
    assert received(smtp_sink) == Counter(), "the retries due meanwhile wait for the resume"

    client.post(f"/api/v1/email/campaigns/{transaction_id}/resume")
    run_jobs(smtp_runtime)
    assert campaign(client, transaction_id)["status"] == "SENT"
    assert received(smtp_sink) == Counter(recipients)


def test_the_complaint_threshold_and_the_minimum_sent():
    settings = Settings(pause_min_sent=1000)
    assert reason_to_pause({"sent": 999, "bounced": 999, "complained": 0}, settings) is None
    assert reason_to_pause({"sent": 1000, "bounced": 49, "complained": 2}, settings) is None
    complained = reason_to_pause({"sent": 1000, "bounced": 0, "complained": 3}, settings)
    assert "3 of 1000 messages complained (0.30%), past the complaint rate threshold of 0.30%" in complained
    assert "bounce rate threshold of 5.00%" in reason_to_pause({"sent": 1000, "bounced": 50, "complained": 0}, settings)
