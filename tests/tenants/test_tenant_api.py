"""The tenant's default sender: set through the API, used by every campaign that gives no `from`, so the design
documents' example campaign request is accepted as written."""

import json
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from emailplatform.app import create_app
from emailplatform.assembly import build_runtime
from emailplatform.models import utcnow
from tests.conftest import PUBLIC_URL, make_settings, new_tenant, run_jobs
from tests.helpers import campaign, create_campaign, create_template, csv_bytes, upload_file

# The request of the design documents ("Integration Patterns", API Integration), as printed there; only the
# placeholders ("uuid", the bucket's file, a send time of 2024 that has passed) are filled in below.
DESIGN_DOCUMENT_REQUEST = """{
  "template_id": "uuid",
  "csv_file_url": "s3://bucket/recipients.csv",
  "callback_url": "https://customer.com/webhook",
  "schedule": {
    "send_at": "2024-01-01T10:00:00Z"
  }
}"""
SENDER = {"email": "news@sender.example.com", "name": "Sender News"}


@pytest.fixture
def customer_client(database_url, tmp_path):
    """A client of a deployment that lets webhooks go to customer.com (the example's callback), with no DNS."""
    runtime = build_runtime(make_settings(database_url, tmp_path / "data", webhook_allowed_hosts=["customer.com"]))
    tenant = new_tenant(runtime)
    with TestClient(create_app(runtime), base_url=PUBLIC_URL, raise_server_exceptions=False) as client:
        client.headers["X-API-Key"] = tenant.api_key
        yield client, runtime, tenant
    runtime.close()


def example_request(client) -> tuple[str, str]:
    """The design documents' request with its placeholders filled in, and the send time it names."""
    version = create_template(client, "Hello {{ first_name }}", "<p>Hello {{ first_name }}</p>")
    file = upload_file(client, csv_bytes(["email", "first_name"], [["ann@example.com", "Ann"]]))
    send_at = (utcnow() + timedelta(days=1)).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = (
        DESIGN_DOCUMENT_REQUEST.replace('"uuid"', json.dumps(version["template_id"]))
        .replace("s3://bucket/recipients.csv", file["file_url"])
        .replace("2024-01-01T10:00:00Z", send_at)
    )
    return body, send_at


def post_campaign(client, body: str):
    return client.post("/api/v1/email/campaigns", content=body, headers={"Content-Type": "application/json"})


def test_the_design_documents_example_request_works_as_written_with_a_default_sender(customer_client):
    client, runtime, tenant = customer_client
    body, send_at = example_request(client)

    refused = post_campaign(client, body)
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "from" and "default sender" in refused.json()["error"]["message"]
    assert client.get("/api/v1/email/campaigns").json()["items"] == []

    assert client.get("/api/v1/tenant").json()["default_sender"] is None
    put = client.put("/api/v1/tenant", json={"default_sender": SENDER})
    assert put.status_code == 200, put.text
    assert put.json()["default_sender"] == SENDER and put.json()["name"] == tenant.name

    accepted = post_campaign(client, body)
    assert accepted.status_code == 202, accepted.text
    run_jobs(runtime)
    created = campaign(client, accepted.json()["transaction_id"])
    assert created["from"] == SENDER
    assert created["callback_url"] == "https://customer.com/webhook"
    assert created["status"] == "SCHEDULED" and created["send_at"].replace("+00:00", "Z") == send_at


def test_a_campaign_with_its_own_from_keeps_it_and_removing_the_default_brings_back_the_422(client, runtime):
    assert client.put("/api/v1/tenant", json={"default_sender": SENDER}).status_code == 200
    version = create_template(client, "Hi", "<p>Hi</p>")
    file = upload_file(client, csv_bytes(["email"], [["ann@example.com"]]))
    own = create_campaign(
        client, version["template_id"], file["file_url"], **{"from": {"email": "boss@other.example.com"}}
    )
    assert campaign(client, own["transaction_id"])["from"] == {"email": "boss@other.example.com", "name": None}

    removed = client.put("/api/v1/tenant", json={"default_sender": None})
    assert removed.status_code == 200 and removed.json()["default_sender"] is None
    body = {"template_id": version["template_id"], "csv_file_url": file["file_url"]}
    assert client.post("/api/v1/email/campaigns", json=body).json()["error"]["field"] == "from"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"default_sender": {"email": "not an address"}}, "default_sender.email"),
        ({"default_sender": {"email": "a@example.com", "name": "x" * 201}}, "default_sender.name"),
        ({}, "default_sender"),
        ({"default_sender": SENDER, "colour": "red"}, "colour"),
    ],
)
def test_a_bad_default_sender_is_refused_naming_the_field_and_changes_nothing(client, body, field):
    assert client.put("/api/v1/tenant", json={"default_sender": SENDER}).status_code == 200
    response = client.put("/api/v1/tenant", json=body)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == field
    assert client.get("/api/v1/tenant").json()["default_sender"] == SENDER


def test_an_unverified_sender_domain_is_refused_where_the_deployment_requires_verified_ones(database_url, tmp_path):
    runtime = build_runtime(make_settings(database_url, tmp_path / "data", allow_unverified_domains=False))
    tenant = new_tenant(runtime)
    with TestClient(create_app(runtime), base_url=PUBLIC_URL, raise_server_exceptions=False) as client:
        client.headers["X-API-Key"] = tenant.api_key
        response = client.put("/api/v1/tenant", json={"default_sender": SENDER})
        assert response.status_code == 422
        assert response.json()["error"]["field"] == "default_sender.email"
        assert "sender.example.com" in response.json()["error"]["message"]
        assert client.get("/api/v1/tenant").json()["default_sender"] is None
    runtime.close()


def test_where_unverified_domains_are_allowed_the_answer_warns(client):
    response = client.put("/api/v1/tenant", json={"default_sender": SENDER})
    assert response.status_code == 200
    assert any("not a registered sending domain" in w for w in response.json()["warnings"])


def test_each_key_sees_and_changes_only_its_own_tenant(client, runtime, tenant):
    other = new_tenant(runtime)
    client.put("/api/v1/tenant", json={"default_sender": SENDER})
    theirs = client.get("/api/v1/tenant", headers={"X-API-Key": other.api_key}).json()
    assert theirs["tenant_id"] == str(other.tenant_id) and theirs["default_sender"] is None
    assert client.get("/api/v1/tenant").json()["tenant_id"] == str(tenant.tenant_id)
