"""/metrics tells what happened to the messages as the campaign API does: a campaign to a real SMTP server that
refuses some recipients, then SES events (signed SNS notifications) for deliveries, a bounce and a complaint.
And how far sending is behind: messages a relay keeps refusing for now wait, and are counted as waiting."""

import datetime as dt
import uuid

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import run_jobs
from tests.events.test_ses_events import (
    bounce,
    cert_server,
    complaint,
    delivery,
    open_event,
    pki,
    post,
    signed,
    sns_client,
)
from tests.helpers import campaign, create_campaign, create_template, csv_bytes, upload_file

__all__ = ["cert_server", "pki", "sns_client"]  # fixtures of the SES events tests, used here

OUTCOMES = ("sent", "delivered", "bounced", "complained", "failed")


def scrape(client) -> dict[tuple[str, frozenset], float]:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def outcome(name: str) -> tuple[str, frozenset]:
    return f"emailplatform_messages_{name}_total", frozenset()


def in_status(status: str) -> tuple[str, frozenset]:
    return "emailplatform_messages", frozenset({"status": status}.items())


WAITING = ("emailplatform_messages_waiting", frozenset())
OLDEST_SENDING = ("emailplatform_campaigns_oldest_sending_seconds", frozenset())


def gained(before: dict, after: dict, key) -> float:
    return after.get(key, 0) - before.get(key, 0)  # the database is the run's: earlier tests' messages are in it


def send_campaign(client, runtime, emails: list[str]) -> tuple[str, dict[str, dict]]:
    template = create_template(client, "Hi", "<p>Hi {{ email }}</p>")
    file = upload_file(client, csv_bytes(["email"], [[e] for e in emails]))
    transaction_id = create_campaign(client, template["template_id"], file["file_url"])["transaction_id"]
    run_jobs(runtime)
    messages = client.get(f"/api/v1/email/campaigns/{transaction_id}/messages").json()["items"]
    return transaction_id, {m["email"].split("-")[0]: m | {"hex": uuid.UUID(m["message_id"]).hex} for m in messages}


@pytest.fixture
def smtp_runtime(runtime, smtp_sink):
    runtime.settings.transport = "smtp"
    runtime.settings.smtp_url = smtp_sink.url
    return runtime


def test_the_outcome_counters_match_the_campaign_api_after_bounces_complaints_and_failures(
    sns_client, smtp_runtime, smtp_sink, cert_server, pki
):
    suffix = uuid.uuid4().hex[:8]
    names = ["hard", "hard2", "soft", "ada", "grace", "linus", "moaner", "bouncer", "quiet", "quiet2"]
    emails = [f"{name}-{suffix}@example.com" for name in names]
    smtp_sink.replies = {
        f"hard-{suffix}@example.com": "550 5.1.1 no such user",
        f"hard2-{suffix}@example.com": "550 5.1.1 no such user",
        f"soft-{suffix}@example.com": "451 4.3.0 try later",
    }
    smtp_runtime.settings.send_max_attempts = 1  # a refusal for now is the last
    before = scrape(sns_client)

    transaction_id, sent = send_campaign(sns_client, smtp_runtime, emails)
    events = [delivery(sent[name]["hex"], sent[name]["email"]) for name in ("ada", "grace", "linus", "moaner")]
    events += [
        complaint(sent["moaner"]["hex"], sent["moaner"]["email"]),
        bounce(sent["bouncer"]["hex"], sent["bouncer"]["email"]),
    ]
    for record in events:
        assert post(sns_client, signed(cert_server, pki, record)).status_code == 200
    after = scrape(sns_client)

    summary = campaign(sns_client, transaction_id)["summary"]
    assert {name: summary[name] for name in OUTCOMES} == {
        "sent": 9,
        "delivered": 4,
        "bounced": 3,
        "complained": 1,
        "failed": 1,
    }
    assert {name: gained(before, after, outcome(name)) for name in OUTCOMES} == {
        name: summary[name] for name in OUTCOMES
    }
    assert {status: gained(before, after, in_status(status)) for status in summary["by_status"]} == summary["by_status"]
    assert gained(before, after, in_status("PENDING")) == 0


def test_a_counter_never_goes_down_when_a_message_moves_on_out_of_its_outcome(sns_client, runtime, cert_server, pki):
    _, sent = send_campaign(sns_client, runtime, [f"ada-{uuid.uuid4().hex[:8]}@example.com"])
    ada = sent["ada"]
    assert post(sns_client, signed(cert_server, pki, bounce(ada["hex"], ada["email"]))).status_code == 200
    bounced = scrape(sns_client)
    assert post(sns_client, signed(cert_server, pki, open_event(ada["hex"], ada["email"]))).status_code == 200
    opened = scrape(sns_client)

    assert sns_client.get(f"/api/v1/email/messages/{ada['message_id']}").json()["status"] == "OPENED"
    assert gained(bounced, opened, in_status("BOUNCED")) == -1  # it is not bounced now
    assert gained(bounced, opened, outcome("bounced")) == 0  # but it did bounce: a drop would read as a reset


def test_messages_a_relay_keeps_refusing_wait_and_the_oldest_sending_campaign_ages(client, smtp_runtime, smtp_sink):
    suffix = uuid.uuid4().hex[:8]
    emails = [f"{name}-{suffix}@example.com" for name in ("ada", "grace", "linus")]
    smtp_sink.replies = {email: "451 4.3.0 try later" for email in emails}
    before = scrape(client)

    transaction_id, _ = send_campaign(client, smtp_runtime, emails)  # tried once; the retries are minutes away
    scraped_at = dt.datetime.now(dt.UTC)
    waiting = scrape(client)
    sending = campaign(client, transaction_id)
    assert sending["status"] == "READY_TO_SEND" and sending["summary"]["pending"] == 3
    assert gained(before, waiting, WAITING) == 3
    assert gained(before, waiting, outcome("sent")) == 0
    assert gained(before, waiting, outcome("failed")) == 0
    processed_at = dt.datetime.fromisoformat(sending["processed_at"])
    assert waiting[OLDEST_SENDING] >= (scraped_at - processed_at).total_seconds() > 0

    assert client.post(f"/api/v1/email/campaigns/{transaction_id}/cancel").status_code == 200
    cancelled = scrape(client)
    assert gained(before, cancelled, WAITING) == 0
    assert gained(before, cancelled, in_status("CANCELLED")) == 3
