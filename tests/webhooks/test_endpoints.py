"""Endpoints through the API: a secret shown once, refused URLs named, another tenant's objects invisible."""

import pytest

from emailplatform.errors import Invalid
from emailplatform.webhooks import endpoints
from tests.conftest import new_tenant

FORBIDDEN_URLS = [
    "ftp://example.com/hook",
    "http://10.0.0.8/hook",
    "http://127.0.0.1:9/hook",
    "http://localhost/hook",
    "http://169.254.169.254/latest/meta-data",
    "http://100.64.0.1/hook",
    "http://0.0.0.0/hook",
    "http://[::1]/hook",
    "http://[::ffff:10.0.0.1]/hook",
    "http://[fd00:ec2::254]/hook",
    "http://[fec0::1]/hook",
    "http://192.168.1.1/hook",
    "https:///no-host",
]


@pytest.mark.parametrize("url", FORBIDDEN_URLS)
def test_check_url_refuses_what_is_not_public(runtime, url):
    runtime.settings.webhook_allowed_hosts = []
    with pytest.raises(Invalid) as refused:
        endpoints.check_url(url, runtime.settings)
    assert refused.value.field == "callback_url"


def test_check_url_accepts_a_public_address_and_an_allowed_host(runtime):
    endpoints.check_url("https://93.184.215.14/hook", runtime.settings)
    endpoints.check_url("http://127.0.0.1:8080/hook", runtime.settings)  # allowed by this deployment


def test_an_endpoint_is_created_with_its_secret_shown_once(client, receiver):
    body = {"url": receiver.url, "event_types": ["message.sent", "transaction.status_changed"]}
    created = client.post("/api/v1/webhooks/endpoints", json=body)
    assert created.status_code == 201
    assert created.json()["secret"].startswith("whsec_")
    listed = client.get("/api/v1/webhooks/endpoints").json()
    assert [e["id"] for e in listed] == [created.json()["id"]] and "secret" not in listed[0]

    changed = client.patch(f"/api/v1/webhooks/endpoints/{listed[0]['id']}", json={"event_types": ["message.bounced"]})
    assert changed.json()["event_types"] == ["message.bounced"]
    assert client.delete(f"/api/v1/webhooks/endpoints/{listed[0]['id']}").status_code == 204
    assert client.get("/api/v1/webhooks/endpoints").json() == []


def test_a_refused_url_is_a_422_naming_the_field(client):
    response = client.post(
        "/api/v1/webhooks/endpoints", json={"url": "http://localhost/x", "event_types": ["message.sent"]}
    )
    assert response.status_code == 422
    message = response.json()["error"]["message"]
    assert response.json()["error"]["field"] == "url" and "loopback" in message
    assert "127.0.0.1" not in message and "::1" not in message  # what an internal name resolves to stays unsaid
    unknown = client.post("/api/v1/webhooks/endpoints", json={"url": "http://127.0.0.1/x", "event_types": ["nope"]})
    assert unknown.status_code == 422 and unknown.json()["error"]["field"].startswith("event_types")


def test_another_tenants_endpoint_is_not_found(runtime, client, receiver):
    created = client.post("/api/v1/webhooks/endpoints", json={"url": receiver.url, "event_types": ["message.sent"]})
    other = new_tenant(runtime)
    headers = {"X-API-Key": other.api_key}
    assert client.get(f"/api/v1/webhooks/endpoints/{created.json()['id']}", headers=headers).status_code == 404
    assert client.get("/api/v1/webhooks/endpoints", headers=headers).json() == []
