"""A campaign created through the API calls its callback_url back at every status change, signed."""

from standardwebhooks.webhooks import Webhook

from tests.helpers import campaign, create_campaign, create_template, csv_bytes, upload_file
from tests.webhooks.webhook_helpers import run_deliveries


def test_a_campaigns_status_changes_reach_its_callback_url_signed(runtime, client, receiver):
    secret = client.post("/api/v1/webhooks/callback-secret/rotate").json()["secret"]
    template = create_template(client, "Hi", "<p>Hi {{ name }}</p>")
    file = upload_file(client, csv_bytes(["email", "name"], [["a@example.com", "A"], ["b@example.com", "B"]]))
    created = create_campaign(client, template["template_id"], file["file_url"], callback_url=receiver.url)

    for _ in range(5):  # the pipeline's own jobs, then the callbacks they enqueued
        run_deliveries(runtime)

    events = [Webhook(secret).verify(r.body, r.headers) for r in receiver.received]
    final = campaign(client, created["transaction_id"])["status"]
    assert events and {e["transaction_id"] for e in events} == {created["transaction_id"]}
    latest = max(events, key=lambda e: e["timestamp"])  # deliveries run side by side: they may arrive out of order
    assert latest["status"] == final and latest["summary"]["total_messages"] == 2
    assert len({r.headers["webhook-id"] for r in receiver.received}) == len(events)


def test_a_campaign_with_a_forbidden_callback_url_is_refused(runtime, client):
    runtime.settings.webhook_allowed_hosts = []
    template = create_template(client, "Hi", "<p>Hi</p>")
    file = upload_file(client, csv_bytes(["email"], [["a@example.com"]]))
    body = {
        "template_id": template["template_id"],
        "csv_file_url": file["file_url"],
        "from": {"email": "news@sender.example.com"},
        "callback_url": "http://169.254.169.254/latest",
    }
    response = client.post("/api/v1/email/campaigns", json=body)
    assert response.status_code == 422 and response.json()["error"]["field"] == "callback_url"


def test_an_endpoint_subscribed_to_message_events_hears_each_message_sent(runtime, client, receiver):
    created = client.post("/api/v1/webhooks/endpoints", json={"url": receiver.url, "event_types": ["message.sent"]})
    assert created.status_code == 201, created.text
    template = create_template(client, "Hi", "<p>Hi {{ name }}</p>")
    rows = [["a@example.com", "A"], ["b@example.com", "B"], ["c@example.com", "C"]]
    file = upload_file(client, csv_bytes(["email", "name"], rows))
    transaction_id = create_campaign(client, template["template_id"], file["file_url"])["transaction_id"]

    run_deliveries(runtime)

    events = [Webhook(created.json()["secret"]).verify(r.body, r.headers) for r in receiver.received]
    assert sorted(e["recipient"] for e in events) == ["a@example.com", "b@example.com", "c@example.com"]
    assert {(e["type"], e["transaction_id"]) for e in events} == {("message.sent", transaction_id)}
