"""Events of a message and of a campaign through the API, a page at a time; delivered_at on the message; the
campaign's message search (by the start of the address and by status), the UI's search."""

import uuid

from sqlalchemy import select

from emailplatform.events import service as event_service
from emailplatform.models import Message
from tests.conftest import new_tenant, run_jobs
from tests.helpers import all_pages, create_campaign, create_template, csv_bytes, upload_file

ADDRESSES = ["ann@example.com", "anna@example.org", "bob@example.com"]


def sent_campaign(client, runtime, smtp_sink) -> str:
    """A campaign sent over SMTP: no delivery is known until an event says so (capture delivers at once)."""
    runtime.settings.transport, runtime.settings.smtp_url = "smtp", smtp_sink.url
    version = create_template(client, "Hi", "<p>Hi <a href='https://shop.example/x'>shop</a></p>")
    file = upload_file(client, csv_bytes(["email"], [[a] for a in ADDRESSES]))
    transaction_id = create_campaign(client, version["template_id"], file["file_url"])["transaction_id"]
    run_jobs(runtime)
    return transaction_id


def record(runtime, transaction_id: str, email: str, kind: str, **details) -> str:
    with runtime.db.session() as session:
        message_id = session.scalar(
            select(Message.id).where(Message.transaction_id == uuid.UUID(transaction_id), Message.email == email)
        )
        event_service.record(session, event_service.NewEvent(message_id, kind, details=details))
    return str(message_id)


def message_of(client, transaction_id: str, email: str) -> dict:
    return client.get(f"/api/v1/email/campaigns/{transaction_id}/messages", params={"q": email}).json()["items"][0]


def test_a_messages_events_in_order_and_its_delivered_at(client, runtime, smtp_sink):
    transaction_id = sent_campaign(client, runtime, smtp_sink)
    assert message_of(client, transaction_id, "ann@")["delivered_at"] is None
    message_id = record(runtime, transaction_id, "ann@example.com", "delivered")
    record(runtime, transaction_id, "ann@example.com", "opened")
    record(runtime, transaction_id, "ann@example.com", "clicked", url="https://shop.example/x")

    events = all_pages(client, f"/api/v1/email/messages/{message_id}/events", limit=2)
    assert [e["type"] for e in events] == ["delivered", "opened", "clicked"]
    assert events[2]["details"] == {"url": "https://shop.example/x"} and events[0]["recipient"] == "ann@example.com"
    first = client.get(f"/api/v1/email/messages/{message_id}/events", params={"limit": 2}).json()
    assert len(first["items"]) == 2 and first["next_cursor"]

    message = client.get(f"/api/v1/email/messages/{message_id}").json()
    assert message["status"] == "CLICKED" and message["delivered_at"] is not None
    assert message["sent_at"] <= message["delivered_at"] and message["scheduled_at"] is None


def test_an_open_that_arrives_without_a_delivery_still_stamps_delivered_at_and_a_bounce_does_not(
    client, runtime, smtp_sink
):
    transaction_id = sent_campaign(client, runtime, smtp_sink)
    record(runtime, transaction_id, "bob@example.com", "opened")
    record(runtime, transaction_id, "anna@example.org", "bounced", reason="no_such_user", hard=True)
    assert message_of(client, transaction_id, "bob@")["delivered_at"] is not None
    assert message_of(client, transaction_id, "anna@")["delivered_at"] is None


def test_a_campaigns_events_of_one_type_each_with_its_recipient(client, runtime, smtp_sink):
    transaction_id = sent_campaign(client, runtime, smtp_sink)
    record(runtime, transaction_id, "ann@example.com", "delivered")
    record(runtime, transaction_id, "bob@example.com", "bounced", reason="mailbox_full")
    record(runtime, transaction_id, "anna@example.org", "delivered")

    events = all_pages(client, f"/api/v1/email/campaigns/{transaction_id}/events", limit=1)
    assert [(e["type"], e["recipient"]) for e in events] == [
        ("delivered", "ann@example.com"),
        ("bounced", "bob@example.com"),
        ("delivered", "anna@example.org"),
    ]
    bounced = all_pages(client, f"/api/v1/email/campaigns/{transaction_id}/events", type="bounced")
    assert [(e["recipient"], e["details"]["reason"]) for e in bounced] == [("bob@example.com", "mailbox_full")]

    bad = client.get(f"/api/v1/email/campaigns/{transaction_id}/events", params={"type": "exploded"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "type"
    bad_cursor = client.get(f"/api/v1/email/campaigns/{transaction_id}/events", params={"cursor": "nope"})
    assert bad_cursor.status_code == 422 and bad_cursor.json()["error"]["field"] == "cursor"


def test_message_search_by_the_start_of_the_address_and_by_status(client, runtime, smtp_sink):
    transaction_id = sent_campaign(client, runtime, smtp_sink)
    record(runtime, transaction_id, "bob@example.com", "bounced", reason="no_such_user")
    path = f"/api/v1/email/campaigns/{transaction_id}/messages"
    assert [m["email"] for m in all_pages(client, path, q="ann")] == ["ann@example.com", "anna@example.org"]
    assert [m["email"] for m in all_pages(client, path, q="anna@")] == ["anna@example.org"]
    assert [m["email"] for m in all_pages(client, path, status="BOUNCED")] == ["bob@example.com"]
    assert all_pages(client, path, q="ann", status="BOUNCED") == []
    assert all_pages(client, path, q="%") == []  # a wildcard is a character like any other
    assert client.get(path, params={"status": "LOST"}).json()["error"]["field"] == "status"


def test_another_tenants_message_and_campaign_events_are_not_found(client, runtime, smtp_sink):
    transaction_id = sent_campaign(client, runtime, smtp_sink)
    message_id = record(runtime, transaction_id, "ann@example.com", "delivered")
    other = {"X-API-Key": new_tenant(runtime).api_key}
    assert client.get(f"/api/v1/email/messages/{message_id}/events", headers=other).status_code == 404
    assert client.get(f"/api/v1/email/campaigns/{transaction_id}/events", headers=other).status_code == 404
    assert client.get(f"/api/v1/email/messages/{uuid.uuid4()}/events").status_code == 404
