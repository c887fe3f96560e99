"""Archiving hides a template from lists and new campaigns and keeps it; deleting removes only an unused one."""

import uuid

from tests.conftest import new_tenant, run_jobs
from tests.helpers import all_pages, campaign, create_campaign, create_template, csv_bytes, upload_file


def listed(client, **params) -> list[str]:
    return [t["id"] for t in all_pages(client, "/api/v1/templates", **params)]


def campaign_body(template_id: str, file_url: str) -> dict:
    return {"template_id": template_id, "csv_file_url": file_url, "from": {"email": "news@sender.example.com"}}


def test_an_archived_template_is_hidden_starts_no_campaign_and_comes_back_when_restored(client, runtime):
    kept = create_template(client, "Kept", "<p>Kept</p>")["template_id"]
    old = create_template(client, "Old", "<p>Old</p>")["template_id"]
    file = upload_file(client, csv_bytes(["email"], [["ann@example.com"]]))

    archived = client.post(f"/api/v1/templates/{old}/archive")
    assert archived.status_code == 200 and archived.json()["archived_at"] is not None
    assert listed(client) == [kept]
    assert listed(client, archived="true") == [old]
    assert client.get(f"/api/v1/templates/{old}").json()["versions"][0]["subject"] == "Old"

    refused = client.post("/api/v1/email/campaigns", json=campaign_body(old, file["file_url"]))
    assert refused.status_code == 409 and refused.json()["error"]["field"] == "template_id"
    assert "archived" in refused.json()["error"]["message"]
    assert client.get("/api/v1/email/campaigns").json()["items"] == []

    restored = client.post(f"/api/v1/templates/{old}/restore")
    assert restored.status_code == 200 and restored.json()["archived_at"] is None
    assert set(listed(client)) == {kept, old}
    assert client.post("/api/v1/email/campaigns", json=campaign_body(old, file["file_url"])).status_code == 202


def test_a_template_a_campaign_used_is_kept_on_delete_with_a_409_and_can_be_archived(client, runtime):
    version = create_template(client, "Hi", "<p>Hi</p>")
    file = upload_file(client, csv_bytes(["email"], [["ann@example.com"]]))
    sent = create_campaign(client, version["template_id"], file["file_url"])
    run_jobs(runtime)

    refused = client.delete(f"/api/v1/templates/{version['template_id']}")
    assert refused.status_code == 409
    assert (
        refused.json()["error"]["field"] == "template_id" and "archive it instead" in refused.json()["error"]["message"]
    )
    assert client.get(f"/api/v1/templates/{version['template_id']}").status_code == 200

    assert client.post(f"/api/v1/templates/{version['template_id']}/archive").status_code == 200
    assert campaign(client, sent["transaction_id"])["template_version"] == 1
    message = all_pages(client, f"/api/v1/email/campaigns/{sent['transaction_id']}/messages")[0]
    assert client.get(f"/api/v1/email/messages/{message['message_id']}").status_code == 200


def test_an_unused_template_is_deleted_with_its_versions(client):
    template_id = create_template(client, "Draft", "<p>Draft</p>")["template_id"]
    assert (
        client.put(f"/api/v1/templates/{template_id}", json={"subject": "Two", "html": "<p>2</p>"}).status_code == 200
    )
    assert client.delete(f"/api/v1/templates/{template_id}").status_code == 204
    assert client.get(f"/api/v1/templates/{template_id}").status_code == 404
    assert listed(client) == [] and listed(client, archived="true") == []
    assert client.delete(f"/api/v1/templates/{template_id}").status_code == 404


def test_another_tenants_template_cannot_be_archived_restored_or_deleted(client, runtime):
    template_id = create_template(client, "Mine", "<p>Mine</p>")["template_id"]
    other = {"X-API-Key": new_tenant(runtime).api_key}
    for method, path in [("POST", "archive"), ("POST", "restore")]:
        assert client.request(method, f"/api/v1/templates/{template_id}/{path}", headers=other).status_code == 404
    assert client.delete(f"/api/v1/templates/{template_id}", headers=other).status_code == 404
    assert client.post(f"/api/v1/templates/{uuid.uuid4()}/archive").status_code == 404
    assert client.get(f"/api/v1/templates/{template_id}").json()["archived_at"] is None
    assert client.delete("/api/v1/templates/not-an-id").status_code == 422
