"""Campaigns that finish: a captured message is delivered at once; an SMTP message with no outcome is final as
SENT after the outcome window, so its batches and its campaign reach COMPLETED and the campaign's callback says so.
The window never closes a campaign early, and an outcome that came before it stays."""

import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import update
from standardwebhooks.webhooks import Webhook

from emailplatform.analytics import service as analytics
from emailplatform.models import Message, utcnow
from tests.helpers import all_pages, campaign, create_campaign, create_template, csv_bytes, upload_file
from tests.webhooks.conftest import receiver  # noqa: F401  (a fixture: the real HTTP receiver of callbacks)
from tests.webhooks.webhook_helpers import run_deliveries

RECIPIENTS = ["ada@example.com", "bob@example.com", "gone@example.com", "cyd@example.com", "dee@example.com"]


@pytest.fixture
def callbacks(runtime, client, receiver):  # noqa: F811
    """The receiver, allowed as a callback URL; `callbacks.read()` verifies and returns what it was sent."""
    runtime.settings.webhook_allowed_hosts = ["127.0.0.1"]
    secret = client.post("/api/v1/webhooks/callback-secret/rotate").json()["secret"]
    receiver.read = lambda: [Webhook(secret).verify(r.body, r.headers) for r in receiver.received]
    return receiver


def start_campaign(client, callback_url: str) -> str:
    template = create_template(client, "Hi", "<p>Hi {{ name }}</p>")
    file = upload_file(client, csv_bytes(["email", "name"], [[e, e[:3]] for e in RECIPIENTS]))
    created = create_campaign(
        client, template["template_id"], file["file_url"], batch_size=2, callback_url=callback_url
    )
    return created["transaction_id"]


def statuses(client, transaction_id: str) -> tuple[str, set[str], dict[str, str]]:
    """The campaign's status, its batches' and its messages' by recipient."""
    batches = all_pages(client, f"/api/v1/email/campaigns/{transaction_id}/batches")
    messages = all_pages(client, f"/api/v1/email/campaigns/{transaction_id}/messages")
    return (
        campaign(client, transaction_id)["status"],
        {b["status"] for b in batches},
        {m["email"]: m["status"] for m in messages},
    )


def test_an_smtp_campaign_completes_once_the_outcome_window_has_passed(runtime, client, smtp_sink, callbacks):
    runtime.settings.transport, runtime.settings.smtp_url = "smtp", smtp_sink.url
    smtp_sink.replies = {"gone@example.com": "550 5.1.1 no such user"}
    transaction_id = start_campaign(client, callbacks.url)

    run_deliveries(runtime)
    assert sorted(smtp_sink.by_recipient()) == sorted(set(RECIPIENTS) - {"gone@example.com"})
    sent = {e: "SENT" for e in RECIPIENTS} | {"gone@example.com": "BOUNCED"}
    assert statuses(client, transaction_id) == ("SENT", {"SENT"}, sent)

    run_deliveries(runtime, due_now=True)  # the housekeeping job runs, well inside the 72-hour window
    assert statuses(client, transaction_id) == ("SENT", {"SENT"}, sent)
    assert "COMPLETED" not in [c["status"] for c in callbacks.read()]

    runtime.settings.outcome_window_hours = 0.05 / 3600
    time.sleep(0.1)  # every message was sent longer ago than the window now
    run_deliveries(runtime, due_now=True)
    assert statuses(client, transaction_id) == ("COMPLETED", {"COMPLETED"}, sent)  # the bounce is kept
    detail = campaign(client, transaction_id)
    assert detail["completed_at"] and detail["summary"]["sent"] == 5 and detail["summary"]["bounced"] == 1
    completed = [c for c in callbacks.read() if c["status"] == "COMPLETED"]
    assert len(completed) == 1 and completed[0]["transaction_id"] == transaction_id
    assert completed[0]["summary"]["sent"] == 5 and completed[0]["summary"]["delivered"] == 0

    run_deliveries(runtime, due_now=True)  # again: nothing changes, nothing is called twice
    assert [c["status"] for c in callbacks.read()].count("COMPLETED") == 1
    with runtime.db.session() as session:
        counts = analytics.counts_by_campaign(session, [uuid.UUID(transaction_id)])[uuid.UUID(transaction_id)]
    assert (counts.total, counts.sent, counts.bounced, counts.delivered, counts.pending) == (5, 5, 1, 0, 0)


def sent_hours_ago(runtime, transaction_id: str, emails: list[str], hours: float) -> None:
    """As if these messages had been sent `hours` ago: the time a test cannot wait for."""
    with runtime.db.session() as session:
        session.execute(
            update(Message)
            .where(Message.transaction_id == uuid.UUID(transaction_id), Message.email.in_(emails))
            .values(sent_at=utcnow() - timedelta(hours=hours))
        )


def test_a_message_still_inside_the_window_keeps_its_campaign_sent(runtime, client, smtp_sink, callbacks):
    runtime.settings.transport, runtime.settings.smtp_url = "smtp", smtp_sink.url
    runtime.settings.outcome_window_hours = 1.0
    old, recent = start_campaign(client, callbacks.url), start_campaign(client, callbacks.url)
    run_deliveries(runtime)
    sent_hours_ago(runtime, old, RECIPIENTS, 2)
    sent_hours_ago(runtime, recent, RECIPIENTS[:2], 2)  # its first batch; the others were sent just now
    run_deliveries(runtime, due_now=True)

    assert statuses(client, old) == ("COMPLETED", {"COMPLETED"}, {e: "SENT" for e in RECIPIENTS})
    batches = all_pages(client, f"/api/v1/email/campaigns/{recent}/batches")
    assert [b["status"] for b in batches] == ["COMPLETED", "SENT", "SENT"]
    assert campaign(client, recent)["status"] == "SENT"
    assert [c["transaction_id"] for c in callbacks.read() if c["status"] == "COMPLETED"] == [old]


def test_a_captured_campaign_is_delivered_and_completes_at_once(runtime, client, callbacks):
    transaction_id = start_campaign(client, callbacks.url)
    run_deliveries(runtime)

    assert statuses(client, transaction_id) == ("COMPLETED", {"COMPLETED"}, {e: "DELIVERED" for e in RECIPIENTS})
    some = all_pages(client, f"/api/v1/email/campaigns/{transaction_id}/messages")[0]
    history = client.get(f"/api/v1/email/messages/{some['message_id']}").json()["history"]
    assert [h["type"] for h in history] == ["created", "sent", "delivered"]
    completed = [c for c in callbacks.read() if c["status"] == "COMPLETED"]
    assert len(completed) == 1 and completed[0]["summary"]["delivered"] == 5
    with runtime.db.session() as session:
        counts = analytics.counts_by_campaign(session, [uuid.UUID(transaction_id)])[uuid.UUID(transaction_id)]
    assert (counts.sent, counts.delivered, counts.rate("delivered")) == (5, 5, 1.0)
