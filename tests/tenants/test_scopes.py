"""Scopes: every /api/v1 route declares the one it needs, a key without it gets a 403 naming it, and keys are made
(API and CLI) with no more scopes than their maker holds."""

import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from emailplatform.app import create_app
from emailplatform.scopes import Public, declared
from emailplatform.tenants import service as tenant_service
from emailplatform.tenants.auth import current_principal
from tests.helpers import create_template, csv_bytes, upload_file
from tests.test_cli import cli_env, run_cli

TEMPLATE = {"name": "welcome", "subject": "Hi", "html": "<p>Hi</p>"}


def api_routes(app):
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute) and context.original_route.include_in_schema:
            yield context.path_format, context.original_route


def takes_a_credential(dependant) -> bool:
    return any(dep.call is current_principal or takes_a_credential(dep) for dep in dependant.dependencies)


def test_every_api_route_declares_a_scope_or_what_authorises_it_instead(runtime):
    app = create_app(runtime)
    undeclared = []
    for path, route in api_routes(app):
        has_scope = declared(route.dependencies) is not None
        is_public = any(isinstance(dep.dependency, Public) for dep in route.dependencies)
        if (path.startswith("/api/v1") and not (has_scope or is_public)) or (
            takes_a_credential(route.dependant) and not has_scope
        ):
            undeclared.append((sorted(route.methods), path))
    assert undeclared == []
    assert sum(1 for _ in api_routes(app)) > 50


def test_the_spec_names_each_operations_scope(client):
    spec = client.get("/openapi.json").json()
    operations = {(m, p): op for p, ops in spec["paths"].items() for m, op in ops.items() if p.startswith("/api/v1")}
    unscoped = [
        key
        for key, op in operations.items()
        if key != ("post", "/api/v1/events/ses")
        and not all(len(scopes) == 1 for req in op.get("security", [{}]) for scopes in req.values())
    ]
    assert unscoped == []
    assert operations[("get", "/api/v1/templates")]["security"] == [
        {"ApiKey": ["templates:read"]},
        {"Bearer": ["templates:read"]},
    ]
    assert operations[("post", "/api/v1/templates/{template_id}/preview")]["security"][0] == {
        "ApiKey": ["templates:read"]
    }
    assert operations[("post", "/api/v1/api-keys")]["security"][0] == {"ApiKey": ["tenant:write"]}
    assert "403" in operations[("delete", "/api/v1/webhooks/endpoints/{endpoint_id}")]["responses"]


def key_with(runtime, tenant, *scopes: str) -> dict:
    with runtime.db.session() as session:
        _, plain = tenant_service.create_api_key(session, tenant.tenant_id, "scoped", scopes=list(scopes))
    return {"X-API-Key": plain}


def assert_forbidden(response, scope: str) -> None:
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["code"] == "forbidden" and error["field"] == "scope"
    assert f"needs the scope '{scope}'" in error["message"] and error["details"][0]["scope"] == scope


def test_an_area_key_reads_and_writes_its_area_only(client, runtime, tenant):
    template_id = create_template(client, "Hi", "<p>Hi</p>")["template_id"]
    reader = key_with(runtime, tenant, "templates:read")
    assert client.get("/api/v1/templates", headers=reader).status_code == 200
    assert client.post(f"/api/v1/templates/{template_id}/preview", json={"data": {}}, headers=reader).status_code == 200
    assert_forbidden(client.post("/api/v1/templates", json=TEMPLATE, headers=reader), "templates:write")
    assert_forbidden(client.get("/api/v1/email/campaigns", headers=reader), "campaigns:read")

    writer = key_with(runtime, tenant, "templates:write")
    assert client.post("/api/v1/templates", json=TEMPLATE, headers=writer).status_code == 201
    assert client.get(f"/api/v1/templates/{template_id}", headers=writer).status_code == 200  # write includes read
    assert_forbidden(client.delete(f"/api/v1/api-keys/{tenant.tenant_id}", headers=writer), "tenant:write")


def test_a_read_key_gets_every_area_and_changes_nothing(client, runtime, tenant):
    reader = key_with(runtime, tenant, "read")
    for path in [
        "/api/v1/templates",
        "/api/v1/email/campaigns",
        "/api/v1/webhooks/endpoints",
        "/api/v1/domains",
        "/api/v1/suppressions",
        "/api/v1/analytics/overview",
        "/api/v1/api-keys",
        "/api/v1/users",
        "/api/v1/tenant",
    ]:
        assert client.get(path, headers=reader).status_code == 200, path
    assert_forbidden(client.post("/api/v1/templates", json=TEMPLATE, headers=reader), "templates:write")
    assert_forbidden(
        client.post("/api/v1/suppressions", json={"email": "a@example.com"}, headers=reader), "suppressions:write"
    )
    assert_forbidden(client.post("/api/v1/files/upload-url", json={"filename": "r.csv"}, headers=reader), "files:write")


def test_a_send_key_sends_a_campaign_and_does_nothing_else(client, runtime, tenant):
    template_id = create_template(client, "Hi {{ name }}", "<p>Hi {{ name }}</p>")["template_id"]
    sender = key_with(runtime, tenant, "send")
    client.headers["X-API-Key"] = sender["X-API-Key"]
    file = upload_file(client, csv_bytes(["email", "name"], [["ann@example.com", "Ann"]]))
    assert client.get(f"/api/v1/templates/{template_id}").status_code == 200
    body = {"template_id": template_id, "csv_file_url": file["file_url"], "from": {"email": "news@sender.example.com"}}
    created = client.post("/api/v1/email/campaigns", json=body)
    assert created.status_code == 202, created.text
    assert client.get(f"/api/v1/email/campaigns/{created.json()['transaction_id']}").status_code == 200
    assert_forbidden(client.post("/api/v1/templates", json=TEMPLATE), "templates:write")
    assert_forbidden(client.get("/api/v1/api-keys"), "tenant:read")
    assert_forbidden(client.get("/api/v1/webhooks/endpoints"), "webhooks:read")


def test_keys_are_made_with_scopes_never_more_than_their_makers(client, runtime, tenant):
    created = client.post("/api/v1/api-keys", json={"name": "reports", "scopes": ["analytics:read", "read"]})
    assert created.status_code == 201, created.text
    assert created.json()["scopes"] == ["analytics:read", "read"]
    listed = {key["name"]: key["scopes"] for key in client.get("/api/v1/api-keys").json()}
    assert listed == {"default": ["full"], "reports": ["analytics:read", "read"]}

    unknown = client.post("/api/v1/api-keys", json={"scopes": ["everything"]})
    assert unknown.status_code == 422 and unknown.json()["error"]["field"] == "scopes.0"

    keys_admin = key_with(runtime, tenant, "tenant:write")
    assert client.post("/api/v1/api-keys", json={"scopes": ["tenant:read"]}, headers=keys_admin).status_code == 201
    for wider in (["full"], ["read"], ["templates:write"], ["send"]):
        refused = client.post("/api/v1/api-keys", json={"scopes": wider}, headers=keys_admin)
        assert refused.status_code == 403 and refused.json()["error"]["field"] == "scopes", wider


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_cli_makes_a_key_with_scopes(client, runtime, tenant, tmp_path, database_url):
    result = run_cli(
        ["api-keys", "create", "--tenant", tenant.name, "--scope", "read", "--scope", "send"],
        cli_env(tmp_path, database_url),
    )
    assert result.returncode == 0, result.stderr
    key = {"X-API-Key": result.stdout.strip().splitlines()[-1]}
    assert client.get("/api/v1/webhooks/endpoints", headers=key).status_code == 200
    assert client.post("/api/v1/files/upload-url", json={"filename": "r.csv"}, headers=key).status_code == 201
    assert_forbidden(client.post("/api/v1/templates", json=TEMPLATE, headers=key), "templates:write")
    wrong = run_cli(["api-keys", "create", "--tenant", tenant.name, "--scope", "root"], cli_env(tmp_path, database_url))
    assert wrong.returncode != 0 and "no such scope: root" in wrong.stderr
