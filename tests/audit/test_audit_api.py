"""The audit log through the API: each successful change is one entry with who, from where, what and which
object; reads and refused requests leave none; filtered and paged; per tenant; pruned only by retention."""

from datetime import timedelta

from emailplatform.address_hashing import address_hash
from emailplatform.models import utcnow
from emailplatform.privacy import retention
from tests.conftest import new_tenant
from tests.helpers import all_pages, create_template


def entries(client, **params) -> list[dict]:
    return all_pages(client, "/api/v1/audit", **params)


def test_changes_are_recorded_with_actor_address_object_and_outcome_and_reads_and_refusals_are_not(client, tenant):
    template = create_template(client, "Hi", "<p>Hi</p>")
    key = client.post("/api/v1/api-keys", json={"name": "ci"}).json()
    assert client.delete(f"/api/v1/api-keys/{key['id']}").status_code == 200
    assert client.post("/api/v1/suppressions", json={"email": "Zed@Example.com"}).status_code == 201
    assert client.delete("/api/v1/suppressions/zed@example.com").status_code == 204
    client.get("/api/v1/templates")
    assert client.delete("/api/v1/suppressions/zed@example.com").status_code == 404  # refused: changes nothing
    assert client.post("/api/v1/api-keys", json={"name": ""}).status_code == 422

    log = entries(client)
    assert [e["action"] for e in log] == [
        "remove_suppression",
        "add_suppression",
        "revoke_api_key",
        "create_api_key",
        "create_template",
    ]
    removed, added, revoked, created_key, created_template = log
    assert created_template["object_type"] == "templates" and created_template["object_id"] == template["template_id"]
    assert created_key["object_id"] == revoked["object_id"] == key["id"]
    assert revoked["route"] == "DELETE /api/v1/api-keys/{key_id}"
    assert revoked["details"]["path_params"] == {"key_id": key["id"]}
    assert removed["object_id"] == address_hash(tenant.tenant_id, "zed@example.com")
    assert added["object_type"] == "suppressions"
    (my_key,) = [k for k in client.get("/api/v1/api-keys").json() if tenant.api_key.startswith(k["prefix"])]
    assert all(e["actor_type"] == "api_key" and e["outcome"] == "succeeded" for e in log)
    assert {e["actor_id"] for e in log} == {my_key["id"]} and my_key["prefix"] in log[0]["actor_label"]
    assert {e["client_address"] for e in log} == {"testclient"}
    assert log[0]["occurred_at"] >= log[-1]["occurred_at"]


def test_the_log_is_filtered_by_actor_action_object_and_time_and_paged(client, runtime, tenant):
    for name in ("one", "two", "three"):
        client.post("/api/v1/api-keys", json={"name": name})
    create_template(client, "Hi", "<p>Hi</p>")
    other = new_tenant(runtime)
    created = client.post("/api/v1/api-keys", json={"name": "by another key"}, headers={"X-API-Key": other.api_key})
    assert created.status_code == 201

    assert len(entries(client, action="create_api_key", limit=1)) == 3
    assert [e["action"] for e in entries(client, object_type="templates")] == ["create_template"]
    first = entries(client)[-1]
    assert entries(client, object_id=first["object_id"]) == [first]
    assert len(entries(client, actor=first["actor_id"])) == 4 and entries(client, actor="nobody") == []
    now = utcnow()
    assert len(entries(client, since=(now - timedelta(minutes=5)).isoformat(), until=now.isoformat())) == 4
    assert entries(client, since=now.isoformat()) == []
    page = client.get("/api/v1/audit", params={"limit": 2}).json()
    assert len(page["items"]) == 2 and page["next_cursor"]

    naive = client.get("/api/v1/audit", params={"since": "2026-12-01T09:00:00"})
    assert naive.status_code == 422 and naive.json()["error"]["field"] == "since"
    assert client.get("/api/v1/audit", params={"cursor": "nope"}).json()["error"]["field"] == "cursor"
    assert [e["action"] for e in entries(client, action="create_api_key") if e["actor_id"] != first["actor_id"]] == []
    theirs = client.get("/api/v1/audit", headers={"X-API-Key": other.api_key}).json()["items"]
    assert [e["details"]["path_params"] for e in theirs] == [{}] and theirs[0]["object_id"] == created.json()["id"]


def test_retention_removes_entries_older_than_the_setting_and_nothing_else_does(client, runtime):
    create_template(client, "Hi", "<p>Hi</p>")
    runtime.settings.retention_audit_days = 0
    retention.apply(runtime, now=utcnow() + timedelta(days=10_000))
    assert len(entries(client)) == 1
    runtime.settings.retention_audit_days = 30
    retention.apply(runtime, now=utcnow() + timedelta(days=29))
    assert len(entries(client)) == 1
    retention.apply(runtime, now=utcnow() + timedelta(days=31))
    assert entries(client) == []
    paths = {p for p, _ in client.get("/openapi.json").json()["paths"].items() if p.startswith("/api/v1/audit")}
    assert paths == {"/api/v1/audit"} and set(client.get("/openapi.json").json()["paths"]["/api/v1/audit"]) == {"get"}
