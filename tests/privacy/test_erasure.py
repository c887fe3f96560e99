"""Erasure of one person, end to end: campaigns sent for real (over SMTP to a sink, and through the capture
transport), with events, webhook deliveries to a real receiver and captured messages; then every row and every
stored file of the tenant is searched for the person; the address stays suppressed; other people and other
tenants keep everything."""

import uuid

from sqlalchemy import select

from emailplatform.address_hashing import address_hash
from emailplatform.models import Message, Suppression
from tests.conftest import new_tenant
from tests.helpers import all_pages, campaign, create_campaign, create_template, csv_bytes, upload_file
from tests.privacy.helpers import files_mentioning, record_event, rows_mentioning
from tests.webhooks.webhook_helpers import run_deliveries

PERSON, NAME = "ann@example.com", "Annabel"
ROWS = [[PERSON, NAME], ["bob@example.com", "Bobby"], ["cy@example.org", "Cyrille"]]


def send(client, runtime, rows, transport: str) -> str:
    runtime.settings.transport = transport
    version = create_template(client, "Hello {{ first_name }}", "<p>Dear {{ first_name }}, news for {{ email }}</p>")
    file = upload_file(client, csv_bytes(["email", "first_name"], rows))
    transaction_id = create_campaign(client, version["template_id"], file["file_url"])["transaction_id"]
    run_deliveries(runtime)
    return transaction_id


def footprint(client, runtime, smtp_sink, receiver) -> tuple[str, str]:
    """A campaign over SMTP with a delivery, an open and a bounce diagnostic quoting the address; one through the
    capture transport, whose file also has the person twice (a skipped duplicate row); webhooks of each event."""
    events = ["message.sent", "message.delivered", "message.opened"]
    endpoint = client.post("/api/v1/webhooks/endpoints", json={"url": receiver.url, "event_types": events})
    assert endpoint.status_code == 201
    runtime.settings.smtp_url = smtp_sink.url
    by_smtp = send(client, runtime, ROWS, "smtp")
    record_event(runtime, by_smtp, PERSON, "delivered", diagnostic=f"250 2.0.0 ok: {PERSON}")
    record_event(runtime, by_smtp, PERSON, "opened", user_agent="Mozilla/5.0", ip="198.51.100.4")
    captured = send(client, runtime, [*ROWS, [PERSON.upper(), "again"]], "capture")
    run_deliveries(runtime)
    assert PERSON in smtp_sink.by_recipient() and any(PERSON in r.body.decode() for r in receiver.received)
    return by_smtp, captured


def test_erasure_removes_a_person_from_every_row_and_file_and_keeps_them_suppressed(
    client, runtime, tenant, smtp_sink, receiver
):
    by_smtp, captured = footprint(client, runtime, smtp_sink, receiver)
    storage_root = runtime.settings.data_dir
    assert rows_mentioning(runtime, tenant.tenant_id, [PERSON]) and files_mentioning(storage_root, [PERSON, NAME])

    before = client.get(f"/api/v1/recipients/{PERSON}/export")
    assert before.status_code == 200
    exported = before.json()
    assert len(exported["messages"]) == 2 and exported["skipped_rows"][0]["reason"]
    first, second = exported["messages"]
    assert first["data"]["first_name"] == NAME and {e["type"] for e in first["events"]} == {"delivered", "opened"}
    assert first["webhook_deliveries"] and first["captured_message"] is None
    assert NAME in second["captured_message"] and second["data"]["first_name"] == NAME

    erased = client.delete(f"/api/v1/recipients/{PERSON.upper()}")
    assert erased.status_code == 200, erased.text
    counts = erased.json()
    assert counts["messages"] == 2 and counts["events"] == 3 and counts["webhook_deliveries"] == 5
    assert counts | {"events": 0, "webhook_deliveries": 0} == {
        "messages": 2,
        "events": 0,
        "webhook_deliveries": 0,
        "captured_messages": 1,
        "batch_rows": 2,
        "source_file_rows": 3,
        "row_errors": 1,
        "suppression_kept_as_hash": True,
    }

    assert rows_mentioning(runtime, tenant.tenant_id, [PERSON, NAME, "198.51.100.4"]) == []
    assert files_mentioning(storage_root, [PERSON, NAME, PERSON.upper()]) == []
    assert files_mentioning(storage_root, ["bob@example.com"]) and files_mentioning(storage_root, ["Bobby"])
    hashed = address_hash(tenant.tenant_id, PERSON)
    with runtime.db.session(write=False) as session:
        assert session.scalar(select(Suppression.email).where(Suppression.tenant_id == tenant.tenant_id)) == hashed
        kept = session.scalars(select(Message.email).where(Message.transaction_id == uuid.UUID(by_smtp))).all()
    assert sorted(kept) == sorted([hashed, "bob@example.com", "cy@example.org"])

    others = all_pages(client, f"/api/v1/email/campaigns/{captured}/messages")
    assert sorted(m["email"] for m in others if "@" in m["email"]) == ["bob@example.com", "cy@example.org"]
    assert campaign(client, by_smtp)["total_messages"] == 3  # the counts stay
    after = client.get(f"/api/v1/recipients/{PERSON}/export").json()
    assert [m["email"] for m in after["messages"]] == [hashed, hashed]
    for message in after["messages"]:
        assert message["events"] == message["webhook_deliveries"] == [] and message["captured_message"] is None
    assert all(set(m["data"].values()) == {""} for m in after["messages"]) and after["skipped_rows"] == []
    assert after["suppression"]["reason"] == "manual"


def test_an_erased_address_stays_suppressed_when_it_comes_again(client, runtime, tenant, smtp_sink, receiver):
    runtime.settings.smtp_url = smtp_sink.url
    first = send(client, runtime, ROWS[:2], "smtp")
    assert client.delete(f"/api/v1/recipients/{PERSON}").status_code == 200
    assert client.get("/api/v1/suppressions", params={"q": "ann"}).json()["items"] == []  # not kept in the clear

    received_before = len(smtp_sink.by_recipient()[PERSON])
    again = send(client, runtime, [["Ann@Example.com", "Ann"], ["dee@example.com", "Dee"]], "smtp")
    assert len(smtp_sink.by_recipient()[PERSON]) == received_before and "dee@example.com" in smtp_sink.by_recipient()
    statuses = {m["email"].lower(): m["status"] for m in all_pages(client, f"/api/v1/email/campaigns/{again}/messages")}
    assert statuses == {PERSON: "SUPPRESSED", "dee@example.com": "SENT"}
    assert campaign(client, first)["status"] in ("SENT", "COMPLETED")


def test_erasure_is_per_tenant_and_recorded_in_the_audit_log_without_the_address(
    client, runtime, tenant, smtp_sink, receiver
):
    runtime.settings.smtp_url = smtp_sink.url
    other = new_tenant(runtime)
    client.headers["X-API-Key"] = other.api_key
    theirs = send(client, runtime, ROWS, "capture")
    client.headers["X-API-Key"] = tenant.api_key
    send(client, runtime, ROWS, "capture")

    counts = client.delete(f"/api/v1/recipients/{PERSON}").json()
    assert counts["messages"] == 1
    assert rows_mentioning(runtime, tenant.tenant_id, [PERSON]) == []
    client.headers["X-API-Key"] = other.api_key
    assert client.get(f"/api/v1/recipients/{PERSON}/export").json()["messages"][0]["data"]["first_name"] == NAME
    assert len(all_pages(client, f"/api/v1/email/campaigns/{theirs}/messages", q="ann")) == 1
    assert client.get("/api/v1/audit", params={"action": "erase_recipient"}).json()["items"] == []
    client.headers["X-API-Key"] = tenant.api_key

    entries = client.get("/api/v1/audit", params={"object_id": PERSON}).json()["items"]
    assert [e["action"] for e in entries] == ["erase_recipient"]
    entry = entries[0]
    assert entry["object_type"] == "recipients" and entry["object_id"] == address_hash(tenant.tenant_id, PERSON)
    assert entry["actor_type"] == "api_key" and entry["details"]["erased"]["messages"] == 1
    assert entry["route"] == "DELETE /api/v1/recipients/{email}" and PERSON not in str(entry)


def test_bad_addresses_are_refused_and_an_address_never_seen_has_nothing_to_export(client):
    for bad in ("no-at-sign", "@example.com", "ann@", "sha256:" + "0" * 64):
        response = client.delete(f"/api/v1/recipients/{bad}")
        assert response.status_code == 422 and response.json()["error"]["field"] == "email", bad
    missing = client.get("/api/v1/recipients/nobody@example.com/export")
    assert missing.status_code == 404 and missing.json()["error"]["field"] == "email"
    assert client.delete("/api/v1/recipients/nobody@example.com").json()["messages"] == 0
    assert client.get("/api/v1/recipients/nobody@example.com/export").json()["suppression"]["reason"] == "manual"
