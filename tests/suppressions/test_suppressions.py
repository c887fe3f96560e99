"""The suppression list by hand: add, list (filter, search, pages), look up, remove; per tenant."""

import pytest
from fastapi.testclient import TestClient

from tests.conftest import new_tenant
from tests.helpers import all_pages


def add(client: TestClient, email: str, **extra):
    return client.post("/api/v1/suppressions", json={"email": email} | extra)


def test_an_address_added_by_hand_is_listed_with_its_reason_and_time_then_removed(client):
    created = add(client, "Someone@Example.com", details="asked by phone")
    assert created.status_code == 201, created.text
    entry = created.json()
    assert (entry["email"], entry["reason"], entry["details"]) == ("someone@example.com", "manual", "asked by phone")
    assert entry["created_at"]

    again = add(client, "someone@example.com", reason="complaint")
    assert again.status_code == 200
    assert again.json() == entry  # idempotent: the first reason stays

    assert client.get("/api/v1/suppressions/SOMEONE@example.com").json() == entry
    assert client.delete("/api/v1/suppressions/someone@example.com").status_code == 204
    assert client.get("/api/v1/suppressions/someone@example.com").status_code == 404
    missing = client.delete("/api/v1/suppressions/someone@example.com")
    assert missing.status_code == 404
    assert missing.json()["error"]["field"] == "email"


def test_the_list_pages_filters_by_reason_and_searches_addresses(client):
    for i in range(5):
        assert add(client, f"user{i}@example.com").status_code == 201
    assert add(client, "angry@example.org", reason="complaint").status_code == 201
    assert add(client, "100%_sure@example.org", reason="unsubscribe").status_code == 201

    everything = all_pages(client, "/api/v1/suppressions", limit=2)
    assert len(everything) == 7
    assert everything[0]["email"] == "100%_sure@example.org"  # newest first
    assert [s["email"] for s in all_pages(client, "/api/v1/suppressions", reason="complaint")] == ["angry@example.org"]
    assert {s["email"] for s in all_pages(client, "/api/v1/suppressions", q="EXAMPLE.ORG")} == {
        "angry@example.org",
        "100%_sure@example.org",
    }
    assert [s["email"] for s in all_pages(client, "/api/v1/suppressions", q="%_")] == ["100%_sure@example.org"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-address"}, "email"),
        ({}, "email"),
        ({"email": "a@example.com", "reason": "because"}, "reason"),
    ],
)
def test_bad_input_is_refused_with_the_field(client, body, field):
    response = client.post("/api/v1/suppressions", json=body)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == field


def test_bad_list_parameters_are_refused(client):
    assert client.get("/api/v1/suppressions", params={"reason": "nope"}).status_code == 422
    assert client.get("/api/v1/suppressions", params={"cursor": "garbage"}).json()["error"]["field"] == "cursor"
    assert client.get("/api/v1/suppressions", params={"limit": 0}).status_code == 422


def test_another_tenants_list_is_out_of_sight(client, runtime):
    assert add(client, "mine@example.com").status_code == 201
    own_key = client.headers["X-API-Key"]
    client.headers["X-API-Key"] = new_tenant(runtime).api_key
    assert client.get("/api/v1/suppressions").json()["items"] == []
    assert client.get("/api/v1/suppressions/mine@example.com").status_code == 404
    assert client.delete("/api/v1/suppressions/mine@example.com").status_code == 404
    client.headers["X-API-Key"] = own_key
    assert client.get("/api/v1/suppressions/mine@example.com").status_code == 200


def test_the_api_needs_a_key(client):
    del client.headers["X-API-Key"]
    assert client.get("/api/v1/suppressions").status_code == 401
