"""One object of each kind a tenant owns, made through the API as a customer makes them: a template, a sent campaign
with its messages, a transactional email, a webhook endpoint and a failed delivery to it, a sending domain, a
suppression, a user, an API key, and the jobs that did the work. Returned by the name of the path parameter that
names each, so a test can fill in any route's path."""

from fastapi.testclient import TestClient

from emailplatform.runtime import Runtime
from tests.conftest import free_port, run_jobs
from tests.helpers import all_pages, create_campaign, create_template, csv_bytes, upload_file

RECIPIENT = "ada@example.org"
SUPPRESSED = "gone@example.org"


def created(response, status: int = 201) -> dict:
    assert response.status_code == status, response.text
    return response.json()


def make_tenant_objects(client: TestClient, runtime: Runtime) -> dict[str, str]:
    """`client` acts for the tenant; its objects' ids by path parameter name."""
    runtime.settings.webhook_allowed_hosts = ["127.0.0.1"]
    nobody_listens = f"http://127.0.0.1:{free_port()}/hook"  # each delivery fails, and is logged
    endpoint = created(
        client.post("/api/v1/webhooks/endpoints", json={"url": nobody_listens, "event_types": ["message.sent"]})
    )
    template = create_template(client, "Hi {{ name }}", "<p>Hi {{ name }}, <a href='https://example.com'>x</a></p>")
    file = upload_file(client, csv_bytes(["email", "name"], [[RECIPIENT, "Ada"], ["bob@example.org", "Bob"]]))
    transaction_id = create_campaign(client, template["template_id"], file["file_url"])["transaction_id"]
    email = created(
        client.post(
            "/api/v1/emails",
            json={"from": "news@sender.example.com", "to": RECIPIENT, "subject": "S", "text": "T"},
        ),
        202,
    )
    run_jobs(runtime)
    messages = all_pages(client, f"/api/v1/email/campaigns/{transaction_id}/messages")
    deliveries = all_pages(client, "/api/v1/webhooks/deliveries")
    jobs = all_pages(client, "/api/v1/jobs")
    assert messages and deliveries and jobs
    ids = {
        "template_id": template["template_id"],
        "transaction_id": transaction_id,
        "message_id": messages[0]["message_id"],
        "email_id": email["emails"][0]["id"],
        "endpoint_id": endpoint["id"],
        "delivery_id": deliveries[0]["id"],
        "job_id": jobs[0]["id"],
        "domain_id": created(client.post("/api/v1/domains", json={"name": "sender.example.com"}))["id"],
        "email": created(client.post("/api/v1/suppressions", json={"email": SUPPRESSED}), 201)["email"],
        "user_id": created(client.post("/api/v1/users", json={"email": "eve@example.org", "role": "viewer"}))[
            "user_id"
        ],
        "key_id": created(client.post("/api/v1/api-keys", json={"name": "spare"}))["id"],
    }
    return {name: str(value) for name, value in ids.items()}
