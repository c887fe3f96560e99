"""The capture transport keeps each message; the outbox API lists, shows and hands back the tenant's own."""

import asyncio
import re
import uuid
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

from emailplatform.sending.mime import MessageSkeleton, make_message_id
from emailplatform.sending.transports import OutgoingMessage, SendStatus
from emailplatform.sending.transports.capture import CaptureTransport
from tests.conftest import new_tenant

SENDER = "news@example.com"


def capture(runtime, tenant_id, subjects: list[str]) -> list[OutgoingMessage]:
    """One captured message per subject, each a minute older than the one before."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    messages = []
    for age, subject in enumerate(subjects):
        message_id = uuid.uuid4()
        raw = MessageSkeleton(SENDER, "Zoë's Shop", None).build(
            to=f"customer{age}@example.org", subject=subject, text=f"Hello {age}\n", html=f"<p>Hello {age}</p>",
            message_id=make_message_id(message_id, SENDER),
        )
        date = format_datetime(now - timedelta(minutes=age)).encode()
        raw = re.sub(rb"(?m)^Date: [^\r]*", b"Date: " + date, raw, count=1)
        messages.append(OutgoingMessage(tenant_id, message_id, SENDER, f"customer{age}@example.org", raw))

    async def send_all():
        transport = CaptureTransport(runtime.storage)
        return [await transport.send(m) for m in messages]

    results = asyncio.run(send_all())
    assert {r.status for r in results} == {SendStatus.SENT}
    return messages


def test_outbox_lists_newest_first_in_pages(client, runtime, tenant):
    messages = capture(runtime, tenant.tenant_id, ["Newest", "Middle", "Oldest — été"])

    first = client.get("/api/v1/outbox", params={"limit": 2})
    assert first.status_code == 200
    body = first.json()
    assert [item["subject"] for item in body["items"]] == ["Newest", "Middle"]
    newest = body["items"][0]
    assert newest["message_id"] == str(messages[0].message_id)
    assert newest["to"] == "customer0@example.org"
    assert newest["from"] == "Zoë's Shop <news@example.com>"
    assert newest["size"] == len(messages[0].raw)
    assert datetime.fromisoformat(newest["date"]) > datetime.fromisoformat(body["items"][1]["date"])

    second = client.get("/api/v1/outbox", params={"limit": 2, "cursor": body["next_cursor"]}).json()
    assert [item["subject"] for item in second["items"]] == ["Oldest — été"]
    assert second["next_cursor"] is None


def test_outbox_message_shows_headers_and_bodies_and_downloads_as_eml(client, runtime, tenant):
    [message] = capture(runtime, tenant.tenant_id, ["Your order 🎉"])

    detail = client.get(f"/api/v1/outbox/{message.message_id}")
    assert detail.status_code == 200
    body = detail.json()
    headers = {h["name"]: h["value"] for h in body["headers"]}
    assert headers["Subject"] == "Your order 🎉"
    assert headers["To"] == "customer0@example.org"
    assert headers["Message-ID"] == make_message_id(message.message_id, SENDER)
    assert (body["text"], body["html"]) == ("Hello 0\n", "<p>Hello 0</p>")

    eml = client.get(f"/api/v1/outbox/{message.message_id}.eml")
    assert eml.status_code == 200
    assert eml.headers["content-type"] == "message/rfc822"
    assert eml.content == message.raw


def test_outbox_is_the_tenants_own(client, runtime, tenant):
    [mine] = capture(runtime, tenant.tenant_id, ["Mine"])
    other = new_tenant(runtime)
    [theirs] = capture(runtime, other.tenant_id, ["Theirs"])

    assert [item["subject"] for item in client.get("/api/v1/outbox").json()["items"]] == ["Mine"]
    for path in (f"/api/v1/outbox/{theirs.message_id}", f"/api/v1/outbox/{theirs.message_id}.eml"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.json()["error"]["field"] == "message_id"
    as_other = client.get(f"/api/v1/outbox/{mine.message_id}", headers={"X-API-Key": other.api_key})
    assert as_other.status_code == 404


def test_outbox_refuses_bad_paging_and_ids(client):
    assert client.get("/api/v1/outbox").json() == {"items": [], "next_cursor": None}
    assert client.get("/api/v1/outbox", params={"limit": 0}).json()["error"]["field"] == "limit"
    assert client.get("/api/v1/outbox", params={"cursor": "nonsense"}).json()["error"]["field"] == "cursor"
    assert client.get("/api/v1/outbox/not-an-id").status_code == 422
    assert client.get(f"/api/v1/outbox/{uuid.uuid4()}.eml").status_code == 404
    assert client.get("/api/v1/outbox", headers={"X-API-Key": "wrong"}).status_code == 401
