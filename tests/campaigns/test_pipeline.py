"""The whole path a sender takes: template + CSV -> campaign -> every recipient gets their own email, once."""

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from emailplatform.campaigns import service as campaign_service
from tests.conftest import run_jobs
from tests.helpers import all_pages, campaign, create_campaign, create_template, csv_bytes, upload_file

HTML = "<p>Hello {{ first_name }},</p><p>an offer for {{ company }}.</p>"


@pytest.fixture
def smtp_runtime(runtime, smtp_sink):
    runtime.settings.transport = "smtp"
    runtime.settings.smtp_url = smtp_sink.url
    return runtime


def test_every_good_row_gets_its_own_email_once_and_bad_rows_are_reported(client, smtp_runtime, smtp_sink):
    template = create_template(client, "Offer for {{ company }}", HTML)
    rows = [
        ["ada@example.com", "Ada", "Analytical Engines"],
        ["not-an-address", "Bob", "Nowhere"],
        ["grace@example.org", "Grace", "Navy & Co"],
        ["ADA@example.com", "Ada again", "Duplicate Ltd"],
        ["linus@example.net", "Linus"],
    ]
    file = upload_file(client, csv_bytes(["email", "first_name", "company"], rows))
    accepted = create_campaign(client, template["template_id"], file["file_url"], name="November offer")
    assert accepted["status"] == "ACCEPT"

    run_jobs(smtp_runtime)

    result = campaign(client, accepted["transaction_id"])
    assert result["status"] == "SENT"
    assert (result["total_messages"], result["invalid_rows"], result["duplicate_rows"]) == (2, 2, 1)
    assert result["summary"]["sent"] == 2 and result["summary"]["failed"] == 0
    received = smtp_sink.by_recipient()
    assert sorted(received) == ["ada@example.com", "grace@example.org"]
    assert all(len(mails) == 1 for mails in received.values())
    grace = received["grace@example.org"][0].message
    assert grace["Subject"] == "Offer for Navy & Co"
    assert grace["From"] == "Sender <news@sender.example.com>"
    assert "Hello Grace," in grace.get_body(("html",)).get_content()
    assert "Navy &amp; Co" in grace.get_body(("html",)).get_content()
    assert "Hello Grace," in grace.get_body(("plain",)).get_content()
    assert grace["Message-ID"] and grace["Date"]

    errors = all_pages(client, f"/api/v1/email/campaigns/{accepted['transaction_id']}/errors")
    assert [(e["row_number"], e["email"]) for e in errors] == [
        (3, "not-an-address"),
        (5, "ADA@example.com"),
        (6, "linus@example.net"),
    ]
    assert "not a valid email address" in errors[0]["reason"]
    assert "duplicate" in errors[1]["reason"]
    assert "company" in errors[2]["reason"]


def test_messages_batches_and_history_are_visible(client, smtp_runtime):
    template = create_template(client, "Hi {{ first_name }}", HTML)
    rows = [[f"user{i}@example.com", f"User{i}", "Acme"] for i in range(7)]
    file = upload_file(client, csv_bytes(["email", "first_name", "company"], rows))
    transaction_id = create_campaign(client, template["template_id"], file["file_url"], batch_size=3)["transaction_id"]
    run_jobs(smtp_runtime)

    batches = all_pages(client, f"/api/v1/email/campaigns/{transaction_id}/batches")
    assert [(b["seq"], b["message_count"], b["status"]) for b in batches] == [
        (0, 3, "SENT"),
        (1, 3, "SENT"),
        (2, 1, "SENT"),
    ]
    messages = all_pages(client, f"/api/v1/email/campaigns/{transaction_id}/messages", limit=2)
    assert [m["email"] for m in messages] == [f"user{i}@example.com" for i in range(7)]
    assert {m["status"] for m in messages} == {"SENT"}
    assert all_pages(client, f"/api/v1/email/campaigns/{transaction_id}/messages", status="FAILED") == []

    detail = client.get(f"/api/v1/email/messages/{messages[4]['message_id']}").json()
    assert detail["data"] == {"email": "user4@example.com", "first_name": "User4", "company": "Acme"}
    assert [h["type"] for h in detail["history"]] == ["created", "sent"]


def test_smtp_4xx_is_retried_later_and_5xx_bounces_that_message_only(client, smtp_runtime, smtp_sink):
    smtp_runtime.settings.send_retry_base_seconds = 0.3
    smtp_sink.replies = {"busy@example.com": "450 4.2.1 mailbox busy", "gone@example.com": "550 5.1.1 no such user"}
    template = create_template(client, "Hi", HTML)
    rows = [[e, "X", "Y"] for e in ("busy@example.com", "gone@example.com", "fine@example.com")]
    file = upload_file(client, csv_bytes(["email", "first_name", "company"], rows))
    transaction_id = create_campaign(client, template["template_id"], file["file_url"])["transaction_id"]

    run_jobs(smtp_runtime)
    by_email = {m["email"]: m for m in all_pages(client, f"/api/v1/email/campaigns/{transaction_id}/messages")}
    assert by_email["fine@example.com"]["status"] == "SENT"
    assert by_email["gone@example.com"]["status"] == "BOUNCED"  # a 5xx while sending is a bounce
    assert "550" in by_email["gone@example.com"]["last_error"]
    assert client.get("/api/v1/suppressions/gone@example.com").json()["reason"] == "hard_bounce"
    assert by_email["busy@example.com"]["status"] == "READY_TO_SEND"
    assert "450" in by_email["busy@example.com"]["last_error"]
    assert campaign(client, transaction_id)["status"] == "READY_TO_SEND"

    smtp_sink.replies.pop("busy@example.com")
    deadline = time.monotonic() + 20
    while campaign(client, transaction_id)["status"] != "SENT" and time.monotonic() < deadline:
        time.sleep(0.2)  # the retry is due 0.3 s after the refusal, 0.6 s after a second one…
        run_jobs(smtp_runtime)
    result = campaign(client, transaction_id)
    assert result["status"] == "SENT"
    assert (result["summary"]["sent"], result["summary"]["bounced"]) == (3, 1)
    assert sorted(smtp_sink.by_recipient()) == ["busy@example.com", "fine@example.com"]
    history = client.get(f"/api/v1/email/messages/{by_email['busy@example.com']['message_id']}").json()["history"]
    types = [h["type"] for h in history]
    assert types[0] == "created" and types[-1] == "sent" and set(types[1:-1]) == {"deferred"}


def test_scheduled_campaign_waits_for_its_time(client, smtp_runtime, smtp_sink):
    template = create_template(client, "Hi", HTML)
    file = upload_file(client, csv_bytes(["email", "first_name", "company"], [["a@example.com", "A", "B"]]))
    in_an_hour = datetime.now(UTC) + timedelta(hours=1)
    transaction_id = create_campaign(
        client, template["template_id"], file["file_url"], schedule={"send_at": in_an_hour.isoformat()}
    )["transaction_id"]

    run_jobs(smtp_runtime)
    assert campaign(client, transaction_id)["status"] == "SCHEDULED"
    assert [m["status"] for m in all_pages(client, f"/api/v1/email/campaigns/{transaction_id}/messages")] == [
        "SCHEDULED"
    ]
    assert smtp_sink.received == []

    # brought forward to a moment from now (however long the machine took so far), its time comes
    send_at = datetime.now(UTC) + timedelta(seconds=1)
    moved = client.post(f"/api/v1/email/campaigns/{transaction_id}/reschedule", json={"send_at": send_at.isoformat()})
    assert moved.status_code == 200, moved.text
    time.sleep(max((send_at - datetime.now(UTC)).total_seconds(), 0) + 0.1)
    run_jobs(smtp_runtime)
    assert campaign(client, transaction_id)["status"] == "SENT"
    assert sorted(smtp_sink.by_recipient()) == ["a@example.com"]


def test_cancelled_before_its_time_never_sends(client, smtp_runtime, smtp_sink):
    template = create_template(client, "Hi", HTML)
    file = upload_file(client, csv_bytes(["email", "first_name", "company"], [["a@example.com", "A", "B"]]))
    in_an_hour = datetime.now(UTC) + timedelta(hours=1)
    transaction_id = create_campaign(
        client, template["template_id"], file["file_url"], schedule={"send_at": in_an_hour.isoformat()}
    )["transaction_id"]
    run_jobs(smtp_runtime)
    send_at = datetime.now(UTC) + timedelta(seconds=1)  # brought forward: the jobs run only when the test says
    moved = client.post(f"/api/v1/email/campaigns/{transaction_id}/reschedule", json={"send_at": send_at.isoformat()})
    assert moved.status_code == 200, moved.text

    cancelled = client.post(f"/api/v1/email/campaigns/{transaction_id}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "CANCELLED"
    time.sleep(max((send_at - datetime.now(UTC)).total_seconds(), 0) + 0.1)
    run_jobs(smtp_runtime)
    assert smtp_sink.received == []
    assert campaign(client, transaction_id)["summary"]["cancelled"] == 1
    again = client.post(f"/api/v1/email/campaigns/{transaction_id}/cancel")
    assert again.status_code == 409 and again.json()["error"]["field"] == "transaction_id"


def test_cancel_while_sending_stops_what_has_not_gone_out(client, smtp_runtime, smtp_sink, tenant):
    smtp_runtime.settings.worker_concurrency = 1
    template = create_template(client, "Hi", HTML)
    rows = [[f"r{i}@example.com", "R", "C"] for i in range(20)]
    file = upload_file(client, csv_bytes(["email", "first_name", "company"], rows))
    transaction_id = create_campaign(client, template["template_id"], file["file_url"], batch_size=1)["transaction_id"]

    def cancel_on_first_message(_mail):
        if len(smtp_sink.received) == 1:
            with smtp_runtime.db.session() as session:
                campaign_service.cancel(session, tenant.tenant_id, uuid.UUID(transaction_id))

    smtp_sink.on_message = cancel_on_first_message
    run_jobs(smtp_runtime)

    result = campaign(client, transaction_id)
    assert result["status"] == "CANCELLED"
    messages = all_pages(client, f"/api/v1/email/campaigns/{transaction_id}/messages")
    sent = {m["email"] for m in messages if m["status"] == "SENT"}
    assert sent == set(smtp_sink.by_recipient())
    assert 1 <= len(sent) < 20
    assert {m["status"] for m in messages} == {"SENT", "CANCELLED"}


def test_idempotency_key_returns_the_first_answer(client, smtp_runtime):
    template = create_template(client, "Hi", HTML)
    file = upload_file(client, csv_bytes(["email", "first_name", "company"], [["a@example.com", "A", "B"]]))
    body = {
        "template_id": template["template_id"],
        "csv_file_url": file["file_url"],
        "from": {"email": "x@example.com"},
    }
    first = client.post("/api/v1/email/campaigns", json=body, headers={"Idempotency-Key": "order-42"})
    second = client.post("/api/v1/email/campaigns", json=body, headers={"Idempotency-Key": "order-42"})
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json()
    assert len(all_pages(client, "/api/v1/email/campaigns")) == 1

    changed = client.post(
        "/api/v1/email/campaigns", json=body | {"name": "other"}, headers={"Idempotency-Key": "order-42"}
    )
    assert changed.status_code == 422 and changed.json()["error"]["field"] == "Idempotency-Key"
    assert len(all_pages(client, "/api/v1/email/campaigns")) == 1


STALLING_TEMPLATES = [
    "{{ range(999999)|list|groupby('real')|list|length }}",
    '{% set s="a"*2000000 %}{{ (s|list|sort)|length }}',
]


@pytest.mark.parametrize("html", STALLING_TEMPLATES)
def test_a_template_that_would_stall_fails_its_messages_and_another_tenant_still_sends(client, runtime, html):
    runtime.settings.render_timeout_ms = 60_000  # the filter's own bound is met, not the clock
    from fastapi.testclient import TestClient

    from emailplatform.app import create_app
    from tests.conftest import PUBLIC_URL, new_tenant

    stalling = create_template(client, "S", html, text="t")
    rows = [[f"user{i}@example.com", f"User{i}", "Acme"] for i in range(8)]
    bad = create_campaign(
        client,
        stalling["template_id"],
        upload_file(client, csv_bytes(["email", "first_name", "company"], rows))["file_url"],
    )
    with TestClient(create_app(runtime), base_url=PUBLIC_URL) as other:
        other.headers["X-API-Key"] = new_tenant(runtime).api_key
        good = create_campaign(
            other,
            create_template(other, "Hi", HTML)["template_id"],
            upload_file(other, csv_bytes(["email", "first_name", "company"], rows[:2]))["file_url"],
        )
        run_jobs(runtime)
        assert campaign(other, good["transaction_id"])["summary"]["sent"] == 2

    failed = all_pages(client, f"/api/v1/email/campaigns/{bad['transaction_id']}/messages", status="FAILED")
    assert len(failed) == 8
    assert all(
        "a filter was given" in m["last_error"] and "at most 10000 are allowed" in m["last_error"] for m in failed
    )
