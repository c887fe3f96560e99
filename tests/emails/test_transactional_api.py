"""POST /api/v1/emails end to end: one call -> the email in the SMTP sink, in the list of emails, its webhooks
called; through the campaigns' pipeline (suppression, tracking, statuses, history)."""

import base64
from datetime import UTC, datetime, timedelta

import httpx

from emailplatform.app import create_app
from tests.conftest import free_port, run_jobs
from tests.helpers import create_template, serving
from tests.webhooks.webhook_helpers import run_deliveries

SENDER = {"email": "orders@sender.example.com", "name": "Acme Shop"}


def send(client, body: dict, **headers) -> dict:
    response = client.post("/api/v1/emails", json=body, headers=headers)
    assert response.status_code == 202, response.text
    return response.json()


def test_one_curl_sends_an_email_seen_in_the_sink_the_list_and_its_webhook(
    client, smtp_runtime, smtp_sink, receiver, tenant
):
    hook = client.post("/api/v1/webhooks/endpoints", json={"url": receiver.url, "event_types": ["message.sent"]})
    assert hook.status_code == 201, hook.text
    body = {
        "from": SENDER,
        "to": "ada@example.com",
        "subject": "Your order 1042 has shipped",
        "html": '<p>Hello Ada, <a href="https://shop.example.com/orders/1042">your order</a> is on its way.</p>',
        "tags": ["shipping"],
        "metadata": {"order_id": "1042"},
    }
    port = free_port()
    with serving(create_app(smtp_runtime), port):  # a real HTTP call, as curl makes it
        response = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/emails", json=body, headers={"Authorization": f"Bearer {tenant.api_key}"}
        )
    assert response.status_code == 202, response.text
    [accepted] = response.json()["emails"]
    assert accepted["recipients"] == 1

    run_deliveries(smtp_runtime)

    [mail] = smtp_sink.by_recipient()["ada@example.com"]
    message = mail.message
    assert message["Subject"] == "Your order 1042 has shipped"
    assert message["From"] == "Acme Shop <orders@sender.example.com>"
    assert message["To"] == "ada@example.com"
    html = message.get_body(("html",)).get_content()
    assert "Hello Ada," in html and "http://testserver/t/c/" in html and "/t/o/" in html  # clicks and opens tracked
    assert "https://shop.example.com/orders/1042" not in html
    text = message.get_body(("plain",)).get_content()
    assert "your order (https://shop.example.com/orders/1042) is on its way." in text

    email = client.get(f"/api/v1/emails/{accepted['id']}").json()
    assert email["status"] in ("SENT", "COMPLETED")
    [recipient] = email["recipients"]
    assert (recipient["email"], recipient["status"]) == ("ada@example.com", "SENT")
    assert [h["type"] for h in recipient["history"]][:2] == ["created", "sent"]

    listed = client.get("/api/v1/emails", params={"tag": "shipping"}).json()["items"]
    assert [e["id"] for e in listed] == [accepted["id"]]
    assert client.get("/api/v1/emails", params={"tag": "shipp"}).json()["items"] == []
    assert [e["id"] for e in client.get("/api/v1/emails", params={"metadata": "order_id:1042"}).json()["items"]] == [
        accepted["id"]
    ]
    assert client.get("/api/v1/emails", params={"metadata": "order_id:1043"}).json()["items"] == []
    assert client.get("/api/v1/email/campaigns").json()["items"] == []  # an email is not a campaign
    assert client.get("/api/v1/analytics/overview", params={"tag": "shipping"}).json()["totals"]["sent"] == 1
    assert client.get("/api/v1/analytics/overview", params={"tag": "billing"}).json()["totals"]["sent"] == 0

    [sent] = [r.json for r in receiver.received if r.json["type"] == "message.sent"]
    assert sent["transaction_id"] == accepted["id"] and sent["recipient"] == "ada@example.com"
    assert sent["tags"] == ["shipping"] and sent["metadata"] == {"order_id": "1042"}


def test_to_cc_bcc_each_get_a_copy_that_shows_to_and_cc_but_never_bcc(client, smtp_runtime, smtp_sink):
    accepted = send(
        client,
        {
            "from": "billing@sender.example.com",
            "to": ["ada@example.com", "bob@example.com"],
            "cc": ["cy@example.org"],
            "bcc": ["audit@example.net", "ADA@example.com"],
            "reply_to": "help@sender.example.com",
            "subject": "Invoice 7",
            "text": "Your invoice is attached.\n\nThanks",
            "headers": {"X-Invoice": "7"},
            "attachments": [
                {
                    "filename": "invoice-7.pdf",
                    "content_type": "application/pdf",
                    "content": base64.b64encode(b"%PDF-1.4 invoice").decode(),
                }
            ],
            "tracking": False,
        },
    )["emails"][0]
    assert accepted["recipients"] == 4  # ADA@ is ada@ again

    run_jobs(smtp_runtime)

    received = smtp_sink.by_recipient()
    assert sorted(received) == ["ada@example.com", "audit@example.net", "bob@example.com", "cy@example.org"]
    for mails in received.values():
        [mail] = mails
        message = mail.message
        assert message["To"] == "ada@example.com, bob@example.com" and message["Cc"] == "cy@example.org"
        assert message["Bcc"] is None and b"audit@example.net" not in mail.raw
        assert message["Reply-To"] == "help@sender.example.com" and message["X-Invoice"] == "7"
        [attachment] = message.iter_attachments()
        assert attachment.get_filename() == "invoice-7.pdf" and attachment.get_content() == b"%PDF-1.4 invoice"
        html = message.get_body(("html",)).get_content()
        assert "Your invoice is attached." in html and ".gif" not in html  # no open pixel without tracking
    email = client.get(f"/api/v1/emails/{accepted['id']}").json()
    assert [r["status"] for r in email["recipients"]] == ["SENT"] * 4


def test_a_template_with_data_and_a_default_sender(client, smtp_runtime, smtp_sink):
    template = create_template(client, "Welcome, {{ name }}", "<p>Hi {{ name }}, your code is {{ code }}.</p>")
    sender = client.put("/api/v1/tenant", json={"default_sender": {"email": "hello@sender.example.com"}})
    assert sender.status_code == 200
    accepted = send(
        client,
        {"to": ["ada@example.com"], "template_id": template["template_id"], "data": {"name": "Ada", "code": 4711}},
    )["emails"][0]
    run_jobs(smtp_runtime)
    [mail] = smtp_sink.by_recipient()["ada@example.com"]
    assert mail.message["Subject"] == "Welcome, Ada" and mail.message["From"] == "hello@sender.example.com"
    assert "your code is 4711." in mail.message.get_body(("html",)).get_content()
    email = client.get(f"/api/v1/emails/{accepted['id']}").json()
    assert email["subject"] == "Welcome, Ada"
    message = client.get(f"/api/v1/email/messages/{email['recipients'][0]['message_id']}").json()
    assert message["data"] == {"name": "Ada", "code": 4711} and message["status"] == "SENT"

    missing = client.post(
        "/api/v1/emails",
        json={"to": ["ada@example.com"], "template_id": template["template_id"], "data": {"name": "Ada"}},
    )
    assert missing.status_code == 422 and missing.json()["error"]["field"] == "data"
    assert "code" in missing.json()["error"]["message"]


def test_a_batch_sends_each_email_and_answers_an_id_each_in_order(client, smtp_runtime, smtp_sink):
    emails = [
        {"from": SENDER, "to": f"user{i}@example.com", "subject": f"No. {i}", "text": f"Message {i}"} for i in range(30)
    ]
    accepted = send(client, {"emails": emails})["emails"]
    assert len({a["id"] for a in accepted}) == 30
    run_jobs(smtp_runtime)
    received = smtp_sink.by_recipient()
    for i, email in enumerate(accepted):
        [mail] = received[f"user{i}@example.com"]
        assert mail.message["Subject"] == f"No. {i}"
        assert client.get(f"/api/v1/emails/{email['id']}").json()["recipients"][0]["email"] == f"user{i}@example.com"


def test_a_suppressed_recipient_is_not_sent_to(client, smtp_runtime, smtp_sink):
    assert client.post("/api/v1/suppressions", json={"email": "gone@example.com"}).status_code in (200, 201)
    accepted = send(
        client, {"from": SENDER, "to": ["gone@example.com", "here@example.com"], "subject": "S", "text": "T"}
    )["emails"][0]
    run_jobs(smtp_runtime)
    assert sorted(smtp_sink.by_recipient()) == ["here@example.com"]
    statuses = {r["email"]: r["status"] for r in client.get(f"/api/v1/emails/{accepted['id']}").json()["recipients"]}
    assert statuses == {"gone@example.com": "SUPPRESSED", "here@example.com": "SENT"}


def test_an_idempotency_key_sends_once(client, smtp_runtime, smtp_sink):
    body = {"from": SENDER, "to": "ada@example.com", "subject": "Once", "text": "Only once"}
    first = send(client, body, **{"Idempotency-Key": "order-1042"})
    again = send(client, body, **{"Idempotency-Key": "order-1042"})
    assert first == again
    other = client.post("/api/v1/emails", json=body | {"subject": "Twice"}, headers={"Idempotency-Key": "order-1042"})
    assert other.status_code == 422 and other.json()["error"]["field"] == "Idempotency-Key"
    run_jobs(smtp_runtime)
    assert len(smtp_sink.by_recipient()["ada@example.com"]) == 1


def test_send_at_waits_until_its_time(client, smtp_runtime, smtp_sink):
    later = datetime.now(UTC) + timedelta(hours=1)
    accepted = send(
        client,
        {"from": SENDER, "to": "ada@example.com", "subject": "Later", "text": "Later", "send_at": later.isoformat()},
    )["emails"][0]
    assert accepted["status"] == "SCHEDULED"
    run_jobs(smtp_runtime)
    assert smtp_sink.received == []
    email = client.get(f"/api/v1/emails/{accepted['id']}").json()
    assert email["status"] == "SCHEDULED" and email["recipients"][0]["status"] == "SCHEDULED"
    assert client.get("/api/v1/emails", params={"status": "SCHEDULED"}).json()["items"][0]["id"] == accepted["id"]


def test_bad_emails_are_422s_naming_the_field(client, runtime):
    def refused(body) -> dict:
        response = client.post("/api/v1/emails", json=body)
        assert response.status_code == 422, response.text
        return response.json()["error"]

    base = {"from": SENDER, "to": "ada@example.com", "subject": "S", "text": "T"}
    assert refused(base | {"to": "not-an-address"})["field"] == "emails.0.to.0"
    assert "no sender" in refused({k: v for k, v in base.items() if k != "from"})["message"]
    assert "html, text" in refused({"to": "ada@example.com", "subject": "S", "from": SENDER})["message"]
    assert refused(base | {"headers": {"Bcc": "x@example.com"}})["field"] == "emails.0.headers"
    assert refused(base | {"attachments": [{"filename": "a.pdf", "content": "not base64!"}]})["field"] == (
        "emails.0.attachments.0.content"
    )
    runtime.settings.email_max_bytes = 64 * 1024
    big = base64.b64encode(b"x" * 70_000).decode()
    too_big = refused(base | {"attachments": [{"filename": "a.bin", "content": big}]})
    assert too_big["field"] == "attachments" and "bytes" in too_big["message"]
    assert refused({"emails": [base] * 501})["field"] == "emails"
    no_such = "0193b7a8-4c2e-7d51-9f0a-3e5c8b2d1a40"
    unknown = client.post("/api/v1/emails", json={"to": "a@example.com", "template_id": no_such, "from": SENDER})
    assert unknown.status_code == 404
    assert client.get(f"/api/v1/emails/{no_such}").status_code == 404
