"""The message counts analytics reads (by campaign, recipient domain and status) add up to the messages
themselves, whatever moved them: the split, suppression, sending, refusals, events and cancel."""

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from emailplatform.analytics import service as analytics
from emailplatform.campaigns import counts
from emailplatform.events import service as event_service
from emailplatform.models import DomainMessageCount, Message, MessageCount
from emailplatform.suppressions import service as suppression
from tests.conftest import run_jobs
from tests.helpers import create_campaign, create_template, csv_bytes, upload_file

ADDRESSES = [
    "ada@example.com",
    "bob@Example.COM",
    "hard@example.com",
    "blocked@example.org",
    "soft@example.net",
    "eve@example.net",
]


@pytest.fixture
def smtp_runtime(runtime, smtp_sink):
    runtime.settings.transport = "smtp"
    runtime.settings.smtp_url = smtp_sink.url
    runtime.settings.send_max_attempts = 1
    smtp_sink.replies = {"hard@example.com": "550 5.1.1 no such user", "soft@example.net": "451 4.3.0 try later"}
    return runtime


def start_campaign(client, addresses: list[str], **extra) -> uuid.UUID:
    template = create_template(client, "Hi", "<p>Hi {{ name }}</p>")
    file = upload_file(client, csv_bytes(["email", "name"], [[a, "N"] for a in addresses]))
    return uuid.UUID(create_campaign(client, template["template_id"], file["file_url"], **extra)["transaction_id"])


def record(runtime, transaction_id: uuid.UUID, email: str, kind: str) -> None:
    with runtime.db.session() as session:
        message_id = session.scalar(
            select(Message.id).where(
                Message.transaction_id == transaction_id, func.lower(Message.email) == email.lower()
            )
        )
        event_service.record(session, event_service.NewEvent(message_id, kind, details={"url": "https://x.example"}))


def counted(runtime, transaction_id: uuid.UUID) -> Counter:
    """The domain counts of a campaign; checked against its counts without domains on the way."""
    with runtime.db.session(write=False) as session:
        rows = session.scalars(select(DomainMessageCount).where(DomainMessageCount.transaction_id == transaction_id))
        by_domain = Counter({(row.domain, row.status): row.count for row in rows if row.count})
        overall = session.scalars(select(MessageCount).where(MessageCount.transaction_id == transaction_id))
        assert Counter({row.status: row.count for row in overall if row.count}) == sum(
            (Counter({status: n}) for (_, status), n in by_domain.items()), Counter()
        )
        return by_domain


def grouped_messages(runtime, transaction_id: uuid.UUID) -> Counter:
    with runtime.db.session(write=False) as session:
        stmt = select(Message.email, Message.status).where(Message.transaction_id == transaction_id)
        messages = session.execute(stmt)
        return Counter((counts.domain_of(email), counts.counted_status(status)) for email, status in messages)


def test_counts_follow_every_status_change(client, smtp_runtime, tenant):
    with smtp_runtime.db.session() as session:
        suppression.add(session, tenant.tenant_id, "blocked@example.org", "manual")
    sent = start_campaign(client, ADDRESSES)
    later = datetime.now(UTC) + timedelta(days=1)
    cancelled = start_campaign(client, ["x@example.com", "y@example.org"], schedule={"send_at": later.isoformat()})
    run_jobs(smtp_runtime)
    assert counted(smtp_runtime, cancelled) == {("example.com", "PENDING"): 1, ("example.org", "PENDING"): 1}
    assert client.post(f"/api/v1/email/campaigns/{cancelled}/cancel").status_code == 200
    for email, kind in [
        ("ada@example.com", "delivered"),
        ("ada@example.com", "opened"),
        ("bob@Example.COM", "clicked"),
        ("eve@example.net", "delivered"),
        ("eve@example.net", "complained"),
        ("ada@example.com", "opened"),
    ]:
        record(smtp_runtime, sent, email, kind)

    assert (
        counted(smtp_runtime, sent)
        == grouped_messages(smtp_runtime, sent)
        == {
            ("example.com", "OPENED"): 1,
            ("example.com", "CLICKED"): 1,
            ("example.com", "BOUNCED"): 1,
            ("example.org", "SUPPRESSED"): 1,
            ("example.net", "FAILED"): 1,
            ("example.net", "COMPLAINED"): 1,
        }
    )
    assert (
        counted(smtp_runtime, cancelled)
        == grouped_messages(smtp_runtime, cancelled)
        == {
            ("example.com", "CANCELLED"): 1,
            ("example.org", "CANCELLED"): 1,
        }
    )
    with smtp_runtime.db.session(write=False) as session:
        domains = dict(analytics.by_recipient_domain(session, analytics.Scope([sent, cancelled], 30)))
        per_campaign = analytics.counts_by_campaign(session, [sent, cancelled])
    com = domains["example.com"]
    assert (com.total, com.sent, com.delivered, com.bounced, com.opened, com.clicked) == (4, 3, 2, 1, 2, 1)
    assert (domains["example.net"].failed, domains["example.net"].complained) == (1, 1)
    assert (per_campaign[sent].total, per_campaign[sent].pending, per_campaign[sent].sent) == (6, 0, 4)
    assert (per_campaign[cancelled].total, per_campaign[cancelled].pending) == (2, 0)
