"""Users through the API: an API key manages the tenant's users as an admin does, and no owner."""

import uuid

import pytest
from fastapi.testclient import TestClient

from emailplatform.app import create_app
from tests.conftest import PUBLIC_URL, new_tenant
from tests.helpers import all_pages
from tests.ui.conftest import UiUser, csrf_of, make_user


def signs_in(runtime, tenant_name: str, email: str, password: str) -> bool:
    with TestClient(create_app(runtime), base_url=PUBLIC_URL) as browser:
        page = browser.get("/ui/sign-in")
        response = browser.post(
            "/ui/sign-in",
            follow_redirects=False,
            data={"csrf_token": csrf_of(page.text), "tenant": tenant_name, "email": email, "password": password},
        )
        return response.status_code == 303


def test_invite_list_change_role_and_remove_a_user(client, runtime, tenant):
    created = client.post("/api/v1/users", json={"email": "New.Editor@Example.com", "role": "editor"})
    assert created.status_code == 201, created.text
    user = created.json()
    assert user["email"] == "new.editor@example.com" and user["role"] == "editor"
    assert signs_in(runtime, tenant.name, "new.editor@example.com", user["password"])
    assert "password" not in client.get(f"/api/v1/users/{user['user_id']}").json()

    changed = client.patch(f"/api/v1/users/{user['user_id']}", json={"role": "viewer"})
    assert changed.status_code == 200 and changed.json()["role"] == "viewer"
    assert [(u["email"], u["role"]) for u in all_pages(client, "/api/v1/users", limit=1)] == [
        ("new.editor@example.com", "viewer")
    ]

    assert client.delete(f"/api/v1/users/{user['user_id']}").status_code == 204
    assert client.get(f"/api/v1/users/{user['user_id']}").status_code == 404
    assert all_pages(client, "/api/v1/users") == []
    assert not signs_in(runtime, tenant.name, "new.editor@example.com", user["password"])


def test_an_api_key_makes_unmakes_and_removes_no_owner(client, runtime, tenant):
    make_user(runtime, tenant, "owner")
    owner = next(u for u in all_pages(client, "/api/v1/users") if u["role"] == "owner")
    admin = client.post("/api/v1/users", json={"email": "admin@example.com", "role": "admin"}).json()

    for response in [
        client.post("/api/v1/users", json={"email": "boss@example.com", "role": "owner"}),
        client.patch(f"/api/v1/users/{admin['user_id']}", json={"role": "owner"}),
        client.patch(f"/api/v1/users/{owner['user_id']}", json={"role": "viewer"}),
        client.delete(f"/api/v1/users/{owner['user_id']}"),
    ]:
        assert response.status_code == 403, response.text
        assert (
            response.json()["error"]["field"] in ("role", "user_id") and "owner" in response.json()["error"]["message"]
        )
    users = {u["email"]: u["role"] for u in all_pages(client, "/api/v1/users")}
    assert users == {owner["email"]: "owner", "admin@example.com": "admin"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not an address", "role": "editor"}, "email"),
        ({"email": "a@example.com", "role": "superuser"}, "role"),
        ({"email": "a@example.com"}, "role"),
        ({"role": "editor"}, "email"),
    ],
)
def test_bad_input_names_the_field_and_creates_no_one(client, body, field):
    response = client.post("/api/v1/users", json=body)
    assert response.status_code == 422 and response.json()["error"]["field"] == field
    assert all_pages(client, "/api/v1/users") == []


def test_an_address_with_an_account_already_is_a_409_and_a_bad_role_change_changes_nothing(client):
    first = client.post("/api/v1/users", json={"email": "a@example.com", "role": "viewer"}).json()
    again = client.post("/api/v1/users", json={"email": "A@example.com", "role": "editor"})
    assert again.status_code == 409 and again.json()["error"]["field"] == "email"
    bad = client.patch(f"/api/v1/users/{first['user_id']}", json={"role": "god"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "role"
    assert client.get(f"/api/v1/users/{first['user_id']}").json()["role"] == "viewer"


def test_another_tenants_user_is_not_found(client, runtime):
    other = new_tenant(runtime)
    theirs: UiUser = make_user(runtime, other, "editor")
    with TestClient(create_app(runtime), base_url=PUBLIC_URL) as their_client:
        their_client.headers["X-API-Key"] = other.api_key
        user_id = all_pages(their_client, "/api/v1/users")[0]["user_id"]
    assert client.get(f"/api/v1/users/{user_id}").status_code == 404
    assert client.patch(f"/api/v1/users/{user_id}", json={"role": "viewer"}).status_code == 404
    assert client.delete(f"/api/v1/users/{user_id}").status_code == 404
    assert client.get(f"/api/v1/users/{uuid.uuid4()}").status_code == 404
    assert theirs.role == "editor"
