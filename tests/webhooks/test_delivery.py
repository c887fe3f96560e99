"""Deliveries reach a real receiver on loopback, signed (checked with the standardwebhooks package), retried,
logged, and never sent where they may not go. Retries are driven by making scheduled attempts due at once."""

import asyncio
import base64
import hashlib
import hmac
import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook

from emailplatform.job_kinds import new_worker
from emailplatform.jobs import queue
from emailplatform.models import Job, JobState, Transaction, WebhookDelivery, WebhookEndpoint, utcnow
from emailplatform.webhooks import deliveries, fanout, sender, ssrf
from tests.webhooks.webhook_helpers import change_status, create_transaction, run_deliveries

SUMMARY = {"total_messages": 2, "delivered": 1, "bounced": 0, "complained": 0, "opened": 0, "clicked": 0}


def new_endpoint(client, url: str, event_types=("message.sent",)) -> dict:
    response = client.post("/api/v1/webhooks/endpoints", json={"url": url, "event_types": list(event_types)})
    assert response.status_code == 201, response.text
    return response.json()


def send_message_event(runtime, tenant, recipient="ada@example.com") -> None:
    with runtime.db.session() as session:
        payload = {"message_id": "m-1", "recipient": recipient, "details": {"smtp_reply": "250 ok"}}
        fanout.message_event(session, tenant.tenant_id, "sent", payload)


def jobs(runtime, tenant, condition) -> int:
    """How many of the tenant's jobs meet `condition`."""
    with runtime.db.session() as session:
        return session.scalar(select(func.count()).select_from(Job).where(Job.tenant_id == tenant.tenant_id, condition))


def only_delivery(client) -> dict:
    items = client.get("/api/v1/webhooks/deliveries").json()["items"]
    assert len(items) == 1
    return items[0]


def test_every_status_change_of_a_campaign_arrives_signed(runtime, client, tenant, receiver):
    secret = client.post("/api/v1/webhooks/callback-secret/rotate").json()["secret"]
    endpoint = new_endpoint(client, receiver.url.replace("/hook", "/endpoint"), ["transaction.status_changed"])
    transaction_id = create_transaction(runtime, tenant.tenant_id, callback_url=receiver.url)
    statuses = ["PROCESSING", "READY_TO_SEND", "SENT", "COMPLETED"]

    for status in statuses:
        change_status(runtime, transaction_id, status, SUMMARY)
        run_deliveries(runtime)

    callbacks = [r for r in receiver.received if r.path == "/hook"]
    assert [Webhook(secret).verify(r.body, r.headers)["status"] for r in callbacks] == statuses
    to_endpoint = [r for r in receiver.received if r.path == "/endpoint"]
    assert [Webhook(endpoint["secret"]).verify(r.body, r.headers)["status"] for r in to_endpoint] == statuses
    assert callbacks[-1].headers["Content-Type"] == "application/json"
    payload = callbacks[-1].json
    assert payload["transaction_id"] == str(transaction_id)
    assert payload["summary"] == SUMMARY and payload["timestamp"].endswith("Z")
    expected = hmac.new(base64.b64decode(secret.removeprefix("whsec_")), callbacks[-1].body, hashlib.sha256)
    assert callbacks[-1].headers["X-Signature"] == expected.hexdigest()
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 8  # every delivery its own id


def test_a_receiver_failing_three_times_gets_the_delivery_on_the_fourth(runtime, client, tenant, receiver):
    endpoint = new_endpoint(client, receiver.url)
    receiver.fail_next = 3
    send_message_event(runtime, tenant)

    run_deliveries(runtime)
    shown = client.get(f"/api/v1/webhooks/endpoints/{endpoint['id']}").json()
    assert shown["failing_since"] is not None and shown["enabled"] is True
    for _ in range(3):
        run_deliveries(runtime, due_now=True)

    assert len(receiver.received) == 4
    assert client.get(f"/api/v1/webhooks/endpoints/{endpoint['id']}").json()["failing_since"] is None
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1  # a receiver can deduplicate
    event = Webhook(endpoint["secret"]).verify(receiver.received[-1].body, receiver.received[-1].headers)
    assert event["type"] == "message.sent" and event["recipient"] == "ada@example.com"
    delivery = only_delivery(client)
    assert delivery["status"] == "succeeded" and delivery["attempts"] == 4
    assert [a["status_code"] for a in delivery["attempt_log"]] == [500, 500, 500, 200]
    assert delivery["id"] == receiver.received[0].headers["webhook-id"]


def test_a_delivery_that_never_succeeds_ends_failed_and_can_be_sent_again(runtime, client, tenant, receiver):
    new_endpoint(client, receiver.url)
    receiver.status = 500
    send_message_event(runtime, tenant)

    run_deliveries(runtime)
    for _ in range(len(deliveries.RETRY_SCHEDULE_SECONDS) + 2):
        run_deliveries(runtime, due_now=True)

    assert len(receiver.received) == len(deliveries.RETRY_SCHEDULE_SECONDS) + 1
    failed = client.get("/api/v1/webhooks/deliveries", params={"status": "failed"}).json()["items"]
    assert len(failed) == 1 and failed[0]["last_error"] == "answered HTTP 500"
    assert len(failed[0]["attempt_log"]) == len(deliveries.RETRY_SCHEDULE_SECONDS) + 1
    assert failed[0]["attempt_log"][0]["response_excerpt"] == "ok"

    receiver.status = 200
    assert client.post(f"/api/v1/webhooks/deliveries/{failed[0]['id']}/retry").status_code == 202
    run_deliveries(runtime)
    assert only_delivery(client)["status"] == "succeeded"
    assert receiver.received[-1].headers["webhook-id"] == failed[0]["id"]


def test_a_deleted_endpoints_deliveries_end_failed_and_are_never_sent_again(runtime, client, tenant, receiver):
    endpoint = new_endpoint(client, receiver.url)
    receiver.status = 500
    send_message_event(runtime, tenant)
    run_deliveries(runtime)
    assert client.delete(f"/api/v1/webhooks/endpoints/{endpoint['id']}").status_code == 204

    delivery = only_delivery(client)
    assert delivery["status"] == "failed" and delivery["last_error"] == "the endpoint was deleted"
    assert delivery["callback"] is False
    retry = client.post(f"/api/v1/webhooks/deliveries/{delivery['id']}/retry")
    assert retry.status_code == 409 and retry.json()["error"]["field"] == "delivery_id"
    run_deliveries(runtime, due_now=True)
    assert len(receiver.received) == 1 and only_delivery(client)["status"] == "failed"


def test_an_endpoint_answering_410_is_disabled_and_says_why(runtime, client, tenant, receiver):
    endpoint = new_endpoint(client, receiver.url)
    receiver.status = 410
    send_message_event(runtime, tenant)
    run_deliveries(runtime)
    send_message_event(runtime, tenant)
    run_deliveries(runtime, due_now=True)

    assert len(receiver.received) == 1
    shown = client.get(f"/api/v1/webhooks/endpoints/{endpoint['id']}").json()
    assert shown["enabled"] is False and "410" in shown["disabled_reason"]
    assert only_delivery(client)["status"] == "failed"


def test_an_endpoint_failing_for_five_days_is_disabled_and_says_why(runtime, client, tenant, receiver):
    endpoint = new_endpoint(client, receiver.url)
    receiver.status = 503
    send_message_event(runtime, tenant)
    run_deliveries(runtime)
    assert client.get(f"/api/v1/webhooks/endpoints/{endpoint['id']}").json()["enabled"] is True
    with runtime.db.session() as session:  # as if every attempt since had failed too
        session.get(WebhookEndpoint, uuid.UUID(endpoint["id"])).failing_since = utcnow() - timedelta(days=5, minutes=1)
    run_deliveries(runtime, due_now=True)

    shown = client.get(f"/api/v1/webhooks/endpoints/{endpoint['id']}").json()
    assert shown["enabled"] is False and "5 days" in shown["disabled_reason"]
    delivery = only_delivery(client)
    assert delivery["status"] == "failed" and delivery["attempts"] == 2 and len(receiver.received) == 2


def test_429_retry_after_is_honoured(runtime, client, tenant, receiver):
    new_endpoint(client, receiver.url)
    receiver.status, receiver.extra_headers = 429, {"Retry-After": "7200"}
    send_message_event(runtime, tenant)
    run_deliveries(runtime)

    delivery = only_delivery(client)
    attempt = delivery["attempt_log"][0]
    wait = datetime.fromisoformat(delivery["next_attempt_at"]) - datetime.fromisoformat(attempt["started_at"])
    assert delivery["status"] == "pending" and 7100 < wait.total_seconds() < 7300


def test_redirects_are_not_followed(runtime, client, tenant, receiver):
    new_endpoint(client, receiver.url)
    receiver.status, receiver.extra_headers = 302, {"Location": receiver.url.replace("/hook", "/elsewhere")}
    send_message_event(runtime, tenant)
    run_deliveries(runtime)

    assert [r.path for r in receiver.received] == ["/hook"]
    assert only_delivery(client)["last_status_code"] == 302


def test_a_slow_receiver_is_an_attempt_that_timed_out(runtime, client, tenant, receiver):
    runtime.settings.webhook_timeout_seconds = 0.3
    new_endpoint(client, receiver.url)
    receiver.delay = 1.0
    send_message_event(runtime, tenant)
    run_deliveries(runtime)

    delivery = only_delivery(client)
    assert delivery["status"] == "pending"
    assert "no answer within" in delivery["last_error"] or "Timeout" in delivery["last_error"]


def test_nothing_is_sent_to_a_forbidden_address(runtime, client, tenant, receiver):
    new_endpoint(client, receiver.url)
    transaction_id = create_transaction(runtime, tenant.tenant_id, callback_url=receiver.url)
    runtime.settings.webhook_allowed_hosts = []  # the deployment stops allowing loopback, as in production
    send_message_event(runtime, tenant)
    change_status(runtime, transaction_id, "PROCESSING", SUMMARY)
    run_deliveries(runtime)

    assert receiver.received == []
    items = client.get("/api/v1/webhooks/deliveries").json()["items"]
    assert len(items) == 2
    for delivery in items:
        assert "refused" in delivery["last_error"] and "loopback" in delivery["last_error"]


def test_connections_go_only_to_addresses_checked_as_they_open(runtime):
    """The check before each request could be outrun by a name that resolves elsewhere a moment later (DNS
    rebinding): the client's own resolver checks the addresses it connects to."""

    async def addresses(host: str) -> set[str]:
        return {result["host"] for result in await ssrf.CheckedResolver(runtime.settings).resolve(host, 80)}

    runtime.settings.webhook_allowed_hosts = []
    with pytest.raises(ssrf.RefusedDestination, match="loopback"):
        asyncio.run(addresses("localhost"))
    runtime.settings.webhook_allowed_hosts = ["localhost"]
    assert asyncio.run(addresses("localhost")) <= {"127.0.0.1", "::1"}


def test_a_retry_after_that_is_no_number_is_an_ordinary_retry(runtime, client, tenant, receiver):
    new_endpoint(client, receiver.url)
    receiver.status, receiver.extra_headers = 429, {"Retry-After": "\u00c2\u00b2"}  # sent as UTF-8 "²"
    send_message_event(runtime, tenant)
    run_deliveries(runtime)

    delivery = only_delivery(client)
    assert delivery["status"] == "pending" and [a["status_code"] for a in delivery["attempt_log"]] == [429]
    started = datetime.fromisoformat(delivery["attempt_log"][0]["started_at"])
    assert (
        4 < (datetime.fromisoformat(delivery["next_attempt_at"]) - started).total_seconds() < 60
    )  # the 5 s step, not the 5 min one
    assert jobs(runtime, tenant, Job.state == JobState.DEAD) == 0


def test_a_job_that_comes_twice_sends_nothing_the_second_time(runtime, client, tenant, receiver):
    """A worker killed after an attempt was recorded, but before its job was marked done, leaves the job to be
    claimed again when its lease runs out."""
    new_endpoint(client, receiver.url)
    receiver.status = 500
    send_message_event(runtime, tenant)
    run_deliveries(runtime)
    delivery = only_delivery(client)
    with runtime.db.session() as session:
        queue.enqueue(session, deliveries.JOB_KIND, {"delivery_id": delivery["id"], "attempts_made": 0})
    run_deliveries(runtime)

    assert len(receiver.received) == 1 and only_delivery(client)["attempts"] == 1


def test_a_callback_url_answering_410_gets_nothing_more(runtime, tenant, receiver):
    receiver.status = 410
    transaction_id = create_transaction(runtime, tenant.tenant_id, callback_url=receiver.url)
    change_status(runtime, transaction_id, "PROCESSING", SUMMARY)
    run_deliveries(runtime)
    run_deliveries(runtime, due_now=True)

    assert len(receiver.received) == 1
    with runtime.db.session() as session:
        delivery = session.scalars(select(WebhookDelivery).where(WebhookDelivery.tenant_id == tenant.tenant_id)).one()
        assert (delivery.status, delivery.attempts, delivery.callback) == ("failed", 1, True)


def test_a_rotated_secret_signs_beside_the_old_one_for_a_day(runtime, client, tenant, receiver):
    endpoint = new_endpoint(client, receiver.url)
    old = endpoint["secret"]
    rotated = client.post(f"/api/v1/webhooks/endpoints/{endpoint['id']}/rotate-secret")
    new = rotated.json()["secret"]
    send_message_event(runtime, tenant)
    run_deliveries(runtime)

    request = receiver.received[0]
    assert new != old and rotated.json()["previous_secret_expires_at"]
    assert Webhook(new).verify(request.body, request.headers)["type"] == "message.sent"
    assert Webhook(old).verify(request.body, request.headers)["type"] == "message.sent"


def test_status_payload_names_the_transaction_status(runtime, tenant, receiver):
    transaction_id = create_transaction(runtime, tenant.tenant_id, callback_url=None)
    change_status(runtime, transaction_id, "CANCELLED", SUMMARY)  # no subscriber: nothing to do
    run_deliveries(runtime)
    with runtime.db.session() as session:
        assert session.get(Transaction, transaction_id).status == "CANCELLED"
    assert receiver.received == []


def test_a_busy_endpoint_defers_its_deliveries_without_holding_up_others(runtime, client, tenant, receiver):
    runtime.settings.webhook_endpoint_concurrency = 1
    receiver.delay = 2.0  # far longer than a delivery waits for a busy endpoint's slot
    new_endpoint(client, receiver.url.replace("/hook", "/busy"), ["message.sent"])
    new_endpoint(client, receiver.url.replace("/hook", "/other"), ["message.delivered"])
    for number in range(3):
        send_message_event(runtime, tenant, recipient=f"r{number}@example.com")
    with runtime.db.session() as session:
        payload = {"message_id": "m-2", "recipient": "x@example.com"}
        fanout.message_event(session, tenant.tenant_id, "delivered", payload)
    run_deliveries(runtime)

    busy = sorted((r for r in receiver.received if r.path == "/busy"), key=lambda r: r.received_at)
    (other,) = [r for r in receiver.received if r.path == "/other"]
    assert other.received_at < busy[0].answered_at  # not held up behind the busy endpoint
    assert all(later.received_at >= earlier.answered_at for earlier, later in zip(busy, busy[1:]))  # one at a time
    items = client.get("/api/v1/webhooks/deliveries").json()["items"]
    sent = [d for d in items if d["event_type"] == "message.sent"]
    assert sum(d["attempts"] for d in sent) == len(busy)  # a deferral is no attempt
    deferred = [d for d in sent if d["status"] == "pending"]
    assert all(d["attempts"] == 0 and d["next_attempt_at"] for d in deferred)
    assert len(deferred) + len(busy) == 3
    assert jobs(runtime, tenant, Job.kind == deliveries.JOB_KIND) == 4  # a deferral runs its own job again later


def test_a_worker_keeps_nothing_of_destinations_it_is_done_with(runtime, tenant, receiver):
    for number in range(3):  # a campaign callback URL of its own each
        transaction_id = create_transaction(runtime, tenant.tenant_id, callback_url=f"{receiver.url}?campaign={number}")
        change_status(runtime, transaction_id, "PROCESSING", SUMMARY)

    async def main():
        try:
            await new_worker(runtime).run_until_idle()
            return sender.sender_for(runtime.settings).destinations
        finally:
            await sender.aclose_senders()
            await runtime.aclose()

    assert asyncio.run(main()) == {}
    assert len(receiver.received) == 3


def test_deliveries_are_many_at_once_whatever_the_worker_concurrency(runtime, client, tenant, receiver):
    runtime.settings.worker_concurrency = 1  # the slots of the other jobs: webhook deliveries have their own
    receiver.delay = 0.5
    new_endpoint(client, receiver.url)
    for number in range(4):
        send_message_event(runtime, tenant, recipient=f"r{number}@example.com")
    run_deliveries(runtime)

    assert len(receiver.received) == 4
    assert receiver.most_at_once == 4
