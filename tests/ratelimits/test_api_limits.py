"""Rate limits on the API as a client meets them: per key, per tenant, per address without a valid key; in memory
and in the real Redis, on both databases."""

import subprocess
import time

import pytest
import redis
from fastapi.testclient import TestClient
from structlog.testing import capture_logs

from emailplatform.app import create_app
from emailplatform.tenants import service as tenant_service
from tests.conftest import PUBLIC_URL, free_port, new_tenant

CAMPAIGNS = "/api/v1/email/campaigns"


def api_client(runtime, api_key: str | None = None, address: str = "203.0.113.7") -> TestClient:
    client = TestClient(
        create_app(runtime), base_url=PUBLIC_URL, raise_server_exceptions=False, client=(address, 50000)
    )
    if api_key:
        client.headers["X-API-Key"] = api_key
    return client


def add_key(runtime, tenant_id, rate_limit_per_minute=None) -> str:
    with runtime.db.session() as session:
        return tenant_service.create_api_key(session, tenant_id, "limited", rate_limit_per_minute)[1]


def assert_rate_limited(response, scope: str, limit: int, field: str = "X-API-Key") -> None:
    assert response.status_code == 429, response.text
    error = response.json()["error"]
    assert error["code"] == "rate_limited" and error["field"] == field
    assert f"{limit} a minute at most" in error["message"] and "try again in" in error["message"]
    [detail] = error["details"]
    assert detail["scope"] == scope and detail["limit"] == limit and detail["window_seconds"] == 60
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 60 and detail["retry_after_seconds"] == retry_after
    assert response.headers["RateLimit-Limit"] == str(limit)
    assert response.headers["RateLimit-Remaining"] == "0"
    assert response.headers["RateLimit-Reset"] == str(retry_after)
    assert response.headers["RateLimit-Policy"] == f"{limit};w=60"


def test_a_key_with_a_limit_of_its_own_is_refused_past_it_with_the_headers(limited_runtime, counted_in):
    runtime = limited_runtime()
    tenant = new_tenant(runtime)
    with api_client(runtime, tenant.api_key) as admin:
        created = admin.post("/api/v1/api-keys", json={"name": "nightly export", "rate_limit_per_minute": 3})
        assert created.status_code == 201, created.text
        assert created.json()["rate_limit_per_minute"] == 3
        listed = {k["name"]: k["rate_limit_per_minute"] for k in admin.get("/api/v1/api-keys").json()}
        assert listed == {"default": None, "nightly export": 3}
        refused = admin.post("/api/v1/api-keys", json={"name": "x", "rate_limit_per_minute": 0})
        assert refused.status_code == 422 and refused.json()["error"]["field"] == "rate_limit_per_minute"
        assert admin.get(CAMPAIGNS).headers["RateLimit-Limit"] == "1000"  # the default key: the default limit

    with api_client(runtime, created.json()["key"]) as client:
        answers = [client.get(CAMPAIGNS) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 200]
        assert [a.headers["RateLimit-Remaining"] for a in answers] == ["2", "1", "0"]
        assert all(a.headers["RateLimit-Limit"] == "3" and a.headers["RateLimit-Policy"] == "3;w=60" for a in answers)
        assert all(1 <= int(a.headers["RateLimit-Reset"]) <= 60 for a in answers)
        assert_rate_limited(client.get(CAMPAIGNS), "api-key", 3)
        assert_rate_limited(
            client.post("/api/v1/templates", json={"name": "t", "subject": "s", "html": "<p>x</p>"}), "api-key", 3
        )
        assert client.get("/healthz").status_code == 200  # outside the API
    if counted_in:  # the counts are Redis's, under this test's prefix
        assert list(redis.Redis.from_url(counted_in["redis_url"]).scan_iter(f"{counted_in['redis_key_prefix']}:*"))


def test_another_key_of_the_tenant_counts_apart_but_the_tenant_limit_holds_them_together(limited_runtime):
    runtime = limited_runtime(rate_limit_tenant="5/minute")
    tenant = new_tenant(runtime)  # its key makes no request here
    small, other = add_key(runtime, tenant.tenant_id, 3), add_key(runtime, tenant.tenant_id)
    neighbour = new_tenant(runtime)

    with api_client(runtime, small) as client:
        assert [client.get(CAMPAIGNS).status_code for _ in range(3)] == [200, 200, 200]
        assert_rate_limited(client.get(CAMPAIGNS), "api-key", 3)
    with api_client(runtime, other) as client:
        first = client.get(CAMPAIGNS)
        assert first.status_code == 200
        assert (first.headers["RateLimit-Limit"], first.headers["RateLimit-Remaining"]) == ("5", "1")  # the tenant's
        assert client.get(CAMPAIGNS).status_code == 200
        refused = client.get(CAMPAIGNS)
        assert_rate_limited(refused, "tenant", 5)
        assert "this tenant's API keys together" in refused.json()["error"]["message"]
    with api_client(runtime, neighbour.api_key) as client:
        answer = client.get(CAMPAIGNS)
        assert answer.status_code == 200 and answer.headers["RateLimit-Remaining"] == "4"


def test_requests_without_a_valid_key_are_limited_by_address(limited_runtime):
    runtime = limited_runtime(rate_limit_refused_key="3/minute")
    tenant = new_tenant(runtime)
    with api_client(runtime, "ep_not-a-key") as flood, api_client(runtime, address="198.51.100.9") as elsewhere:
        assert [flood.get(CAMPAIGNS).status_code for _ in range(2)] == [401, 401]
        assert flood.get(CAMPAIGNS, headers={"X-API-Key": ""}).status_code == 401
        assert_rate_limited(flood.get(CAMPAIGNS), "refused-key", 3)
        assert "without a valid API key" in flood.get(CAMPAIGNS).json()["error"]["message"]
        assert flood.get(CAMPAIGNS, headers={"X-API-Key": tenant.api_key}).status_code == 200  # a valid key passes
        assert elsewhere.get(CAMPAIGNS).status_code == 401  # another address has its own count


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_an_unreachable_redis_lets_requests_through_and_says_so(database_url, tmp_path):
    from emailplatform.assembly import build_runtime
    from tests.conftest import make_settings

    runtime = build_runtime(
        make_settings(database_url, tmp_path / "data", redis_url=f"redis://127.0.0.1:{free_port()}/0")
    )
    try:
        tenant = new_tenant(runtime)
        key = add_key(runtime, tenant.tenant_id, 1)
        with capture_logs() as logs, api_client(runtime, key) as client:
            answers = [client.get(CAMPAIGNS) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 200]
        assert not any("RateLimit-Limit" in a.headers for a in answers)  # no counts to tell
        warnings = [entry for entry in logs if entry["log_level"] == "warning"]
        assert warnings and "Redis cannot be reached" in warnings[0]["event"]
        assert "Connection refused" in warnings[0]["error"] or "connecting" in warnings[0]["error"]
    finally:
        runtime.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_limits_apply_again_once_redis_answers(database_url, tmp_path):
    from emailplatform.assembly import build_runtime
    from tests.conftest import make_settings

    port = free_port()
    runtime = build_runtime(make_settings(database_url, tmp_path / "data", redis_url=f"redis://127.0.0.1:{port}/0"))
    server = None
    try:
        tenant = new_tenant(runtime)
        with capture_logs() as logs, api_client(runtime, add_key(runtime, tenant.tenant_id, 2)) as client:
            assert client.get(CAMPAIGNS).status_code == 200  # no Redis yet: let through
            server = subprocess.Popen(
                ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            deadline = time.monotonic() + 30
            while (
                "RateLimit-Limit" not in (answer := client.get(CAMPAIGNS)).headers
            ):  # Redis is tried again a while later
                assert answer.status_code == 200 and time.monotonic() < deadline, "the limits never applied again"
                time.sleep(0.2)
            assert answer.headers["RateLimit-Remaining"] == "1"
            assert client.get(CAMPAIGNS).headers["RateLimit-Remaining"] == "0"
            assert_rate_limited(client.get(CAMPAIGNS), "api-key", 2)
        assert any("apply again" in entry["event"] for entry in logs)
    finally:
        if server:
            server.terminate()
            server.wait(10)
        runtime.close()
