"""The capture transport keeps each message a campaign sends; the outbox API lists, shows and hands back the
tenant's own, newest first."""

import uuid
from datetime import datetime

from emailplatform.sending.mime import make_message_id
from emailplatform.sending.transports.capture import outbox_key
from tests.conftest import new_tenant, run_jobs
from tests.helpers import all_pages, create_campaign, create_template, csv_bytes, upload_file

SENDER = "news@sender.example.com"  # the sender of tests.helpers.create_campaign


def send_campaign(client, runtime, rows: list[list[str]], html: str = "<p>Hello {{ email }}</p>") -> dict[str, str]:
    """Send a campaign of (email, title) rows through the capture transport; its message ids by recipient."""
    template = create_template(client, "{{ title }}", html)
    file = upload_file(client, csv_bytes(["email", "title"], rows))
    transaction_id = create_campaign(client, template["template_id"], file["file_url"])["transaction_id"]
    run_jobs(runtime)
    messages = all_pages(client, f"/api/v1/email/campaigns/{transaction_id}/messages")
    assert {m["status"] for m in messages} == {"DELIVERED"}
    return {m["email"]: m["message_id"] for m in messages}


def test_outbox_lists_newest_first_in_pages(client, runtime):
    ids = send_campaign(
        client,
        runtime,
        [
            ["oldest@example.org", "Oldest — été"],
            ["middle@example.org", "Middle"],
            ["newest@example.org", "Newest"],
        ],
    )

    first = client.get("/api/v1/outbox", params={"limit": 2})
    assert first.status_code == 200
    body = first.json()
    assert [item["subject"] for item in body["items"]] == ["Newest", "Middle"]
    newest = body["items"][0]
    assert newest["message_id"] == ids["newest@example.org"]
    assert newest["to"] == "newest@example.org"
    assert newest["from"] == f"Sender <{SENDER}>"
    assert newest["size"] == len(client.get(f"/api/v1/outbox/{newest['message_id']}.eml").content)
    assert datetime.fromisoformat(newest["date"]) >= datetime.fromisoformat(body["items"][1]["date"])

    second = client.get("/api/v1/outbox", params={"limit": 2, "cursor": body["next_cursor"]}).json()
    assert [item["subject"] for item in second["items"]] == ["Oldest — été"]
    assert second["next_cursor"] is None


def test_a_sent_message_without_a_captured_copy_is_left_out(client, runtime, tenant):
    ids = send_campaign(client, runtime, [["kept@example.org", "Kept"], ["gone@example.org", "Gone"]])
    runtime.storage.delete(outbox_key(tenant.tenant_id, uuid.UUID(ids["gone@example.org"])))

    assert [item["to"] for item in client.get("/api/v1/outbox").json()["items"]] == ["kept@example.org"]
    assert client.get(f"/api/v1/outbox/{ids['gone@example.org']}").status_code == 404


def test_outbox_message_shows_headers_and_bodies_and_downloads_as_eml(client, runtime, tenant):
    ids = send_campaign(client, runtime, [["ada@example.org", "Your order 🎉"]], html="<p>Hello Ada</p>")
    message_id = ids["ada@example.org"]

    detail = client.get(f"/api/v1/outbox/{message_id}")
    assert detail.status_code == 200
    body = detail.json()
    headers = {h["name"]: h["value"] for h in body["headers"]}
    assert headers["Subject"] == "Your order 🎉"
    assert headers["To"] == "ada@example.org"
    assert headers["Message-ID"] == make_message_id(uuid.UUID(message_id), SENDER)
    assert body["text"].startswith("Hello Ada") and "<p>Hello Ada</p>" in body["html"]

    eml = client.get(f"/api/v1/outbox/{message_id}.eml")
    assert eml.status_code == 200
    assert eml.headers["content-type"] == "message/rfc822"
    with runtime.storage.open(outbox_key(tenant.tenant_id, uuid.UUID(message_id))) as stored:
        assert eml.content == stored.read()


def test_outbox_is_the_tenants_own(client, runtime):
    mine = send_campaign(client, runtime, [["mine@example.org", "Mine"]])["mine@example.org"]
    other = new_tenant(runtime)
    client.headers["X-API-Key"] = other.api_key
    theirs = send_campaign(client, runtime, [["theirs@example.org", "Theirs"]])["theirs@example.org"]

    assert [item["subject"] for item in client.get("/api/v1/outbox").json()["items"]] == ["Theirs"]
    for path in (f"/api/v1/outbox/{mine}", f"/api/v1/outbox/{mine}.eml"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.json()["error"]["field"] == "message_id"
    assert client.get(f"/api/v1/outbox/{theirs}").status_code == 200


def test_outbox_refuses_bad_paging_and_ids(client):
    assert client.get("/api/v1/outbox").json() == {"items": [], "next_cursor": None}
    assert client.get("/api/v1/outbox", params={"limit": 0}).json()["error"]["field"] == "limit"
    assert client.get("/api/v1/outbox", params={"cursor": "nonsense"}).json()["error"]["field"] == "cursor"
    assert client.get("/api/v1/outbox/not-an-id").status_code == 422
    assert client.get(f"/api/v1/outbox/{uuid.uuid4()}.eml").status_code == 404
    assert client.get("/api/v1/outbox", headers={"X-API-Key": "wrong"}).status_code == 401
