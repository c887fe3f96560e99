"""The webhook endpoints page and the delivery log: what is done here is what the API shows, and a failed
delivery is sent again with Retry."""

import re

from tests.ui.conftest import make_user, sign_in
from tests.webhooks.conftest import receiver, runtime  # noqa: F401 (the webhook tests' receiver and deployment)
from tests.webhooks.webhook_helpers import change_status, create_transaction, run_deliveries


def create(ui_client, token: str, url: str, *event_types: str, description: str = "") -> str:
    data = {"url": url, "event_types": list(event_types), "description": description, "csrf_token": token}
    response = ui_client.post("/ui/webhooks", data=data)
    assert response.status_code == 200, response.text
    return response.text


def test_the_empty_page_says_what_webhooks_are_for(ui_client, runtime, tenant):
    sign_in(ui_client, make_user(runtime, tenant, "editor"))
    page = ui_client.get("/ui/webhooks")
    assert page.status_code == 200 and "No webhook endpoints yet" in page.text
    assert "Nothing has been delivered yet" in ui_client.get("/ui/webhooks/deliveries").text


def test_an_endpoint_is_created_with_its_secret_shown_once_then_edited_disabled_rotated_and_deleted(
    ui_client, client, runtime, tenant, receiver
):
    token = sign_in(ui_client, make_user(runtime, tenant, "editor"))
    page = create(ui_client, token, receiver.url, "message.bounced", "message.clicked", description="CRM")
    secret = re.search(r'id="new-secret" value="(whsec_[^"]+)"', page)[1]
    [endpoint] = client.get("/api/v1/webhooks/endpoints").json()
    assert endpoint["event_types"] == ["message.bounced", "message.clicked"] and endpoint["description"] == "CRM"
    assert secret not in ui_client.get("/ui/webhooks").text
    assert secret not in ui_client.get(f"/ui/webhooks/{endpoint['id']}").text

    edit = {"url": receiver.url + "?v=2", "event_types": ["message.delivered"], "description": "", "csrf_token": token}
    assert "Saved." in ui_client.post(f"/ui/webhooks/{endpoint['id']}", data=edit).text
    changed = client.get(f"/api/v1/webhooks/endpoints/{endpoint['id']}").json()
    assert changed["url"].endswith("?v=2") and changed["event_types"] == ["message.delivered"]
    assert changed["description"] is None

    ui_client.post(f"/ui/webhooks/{endpoint['id']}/enabled", data={"enabled": "false", "csrf_token": token})
    assert client.get(f"/api/v1/webhooks/endpoints/{endpoint['id']}").json()["enabled"] is False
    ui_client.post(f"/ui/webhooks/{endpoint['id']}/enabled", data={"enabled": "true", "csrf_token": token})
    assert client.get(f"/api/v1/webhooks/endpoints/{endpoint['id']}").json()["enabled"] is True

    rotated = ui_client.post(f"/ui/webhooks/{endpoint['id']}/rotate-secret", data={"csrf_token": token})
    new_secret = re.search(r'id="new-secret" value="(whsec_[^"]+)"', rotated.text)[1]
    assert new_secret != secret and "keeps signing beside the new one" in rotated.text
    assert client.get(f"/api/v1/webhooks/endpoints/{endpoint['id']}").json()["previous_secret_expires_at"]

    ui_client.post(f"/ui/webhooks/{endpoint['id']}/delete", data={"csrf_token": token})
    assert client.get("/api/v1/webhooks/endpoints").json() == []


def test_a_bad_endpoint_is_refused_in_the_form(ui_client, client, runtime, tenant, receiver):
    token = sign_in(ui_client, make_user(runtime, tenant, "editor"))
    no_events = ui_client.post("/ui/webhooks", data={"url": receiver.url, "csrf_token": token})
    assert no_events.status_code == 422 and "at least one event type" in no_events.text
    assert f'value="{receiver.url}"' in no_events.text
    private = ui_client.post(
        "/ui/webhooks", data={"url": "http://10.0.0.1/x", "event_types": ["message.sent"], "csrf_token": token}
    )
    assert private.status_code == 422 and "url is refused" in private.text
    assert client.get("/api/v1/webhooks/endpoints").json() == []


def test_the_delivery_log_shows_each_attempt_and_retry_sends_a_failed_one_again(
    ui_client, client, runtime, tenant, receiver
):
    token = sign_in(ui_client, make_user(runtime, tenant, "editor"))
    create(ui_client, token, receiver.url, "transaction.status_changed")
    receiver.status = 410
    change_status(runtime, create_transaction(runtime, tenant.tenant_id, None), "COMPLETED", {"total": 1})
    run_deliveries(runtime)
    [delivery] = client.get("/api/v1/webhooks/deliveries").json()["items"]
    assert delivery["status"] == "failed"

    log = ui_client.get("/ui/webhooks/deliveries", params={"status": "failed"})
    assert "transaction.status_changed" in log.text and "1 attempt" in log.text and "<td>410</td>" in log.text
    assert "Retry" in log.text
    endpoint_id = delivery["endpoint_id"]
    refused = ui_client.post(f"/ui/webhooks/deliveries/{delivery['id']}/retry", data={"csrf_token": token})
    assert refused.status_code == 409 and "enable it first" in refused.text  # 410 Gone disabled the endpoint

    ui_client.post(f"/ui/webhooks/{endpoint_id}/enabled", data={"enabled": "true", "csrf_token": token})
    receiver.status = 200
    retried = ui_client.post(
        f"/ui/webhooks/deliveries/{delivery['id']}/retry",
        data={"csrf_token": token, "back": f"/ui/webhooks/{endpoint_id}"},
    )
    assert retried.status_code == 200 and str(retried.url).endswith(f"/ui/webhooks/{endpoint_id}")
    run_deliveries(runtime)
    again = client.get(f"/api/v1/webhooks/deliveries/{delivery['id']}").json()
    assert again["status"] == "succeeded" and again["attempts"] == 2
    assert "2 attempts" in ui_client.get("/ui/webhooks/deliveries", params={"endpoint": endpoint_id}).text


def test_a_viewer_reads_but_cannot_change_webhooks_and_every_post_needs_the_token(
    ui_client, client, runtime, tenant, receiver
):
    created = client.post("/api/v1/webhooks/endpoints", json={"url": receiver.url, "event_types": ["message.sent"]})
    endpoint_id = created.json()["id"]
    posts = [
        ("/ui/webhooks", {"url": receiver.url, "event_types": ["message.sent"]}),
        (f"/ui/webhooks/{endpoint_id}", {"url": receiver.url, "event_types": ["message.bounced"]}),
        (f"/ui/webhooks/{endpoint_id}/enabled", {"enabled": "false"}),
        (f"/ui/webhooks/{endpoint_id}/rotate-secret", {}),
        (f"/ui/webhooks/{endpoint_id}/delete", {}),
        ("/ui/webhooks/deliveries/00000000-0000-0000-0000-000000000000/retry", {}),
    ]
    token = sign_in(ui_client, make_user(runtime, tenant, "viewer"))
    page = ui_client.get(f"/ui/webhooks/{endpoint_id}")
    assert page.status_code == 200 and "Rotate the secret" not in page.text
    for path, data in posts:
        response = ui_client.post(path, data=data | {"csrf_token": token})
        assert response.status_code == 403, path
    ui_client.cookies.clear()
    sign_in(ui_client, make_user(runtime, tenant, "editor"))
    for path, data in posts:
        assert ui_client.post(path, data=data).status_code == 403, path
        assert ui_client.post(path, data=data | {"csrf_token": "forged"}).status_code == 403, path
    unchanged = client.get(f"/api/v1/webhooks/endpoints/{endpoint_id}").json()
    assert unchanged["enabled"] is True and unchanged["event_types"] == ["message.sent"]
    assert len(client.get("/api/v1/webhooks/endpoints").json()) == 1
