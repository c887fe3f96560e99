"""What keeps the API answering when it is busy: a full connection pool answers 503 with Retry-After after a short
wait, not 500; API keys are checked from a short-lived cache of the process, and revoking one through this process
drops it at once; a campaign's summary is read from its counts."""

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from emailplatform.app import create_app
from emailplatform.assembly import build_runtime
from emailplatform.models import utcnow
from emailplatform.tenants import service as tenant_service
from tests.conftest import PUBLIC_URL, free_port, make_settings, new_tenant, run_jobs
from tests.helpers import campaign, create_campaign, create_template, csv_bytes, serving, upload_file


@pytest.fixture
def deployment(database_url, tmp_path):
    """`deployment(**settings)`: a runtime and an API client of its own, for a tenant of its own."""
    opened = []

    def open_deployment(**overrides):
        runtime = build_runtime(make_settings(database_url, tmp_path / "data", **overrides))
        tenant = new_tenant(runtime) if not opened else opened[0][2]
        client = TestClient(create_app(runtime), base_url=PUBLIC_URL, raise_server_exceptions=False).__enter__()
        client.headers["X-API-Key"] = tenant.api_key
        opened.append((runtime, client, tenant))
        return runtime, client, tenant

    yield open_deployment
    for runtime, client, _ in opened:
        client.__exit__(None, None, None)
        runtime.close()


def test_a_busy_pool_answers_503_with_retry_after_in_the_error_shape(deployment):
    runtime, client, _ = deployment(db_pool_size=1, db_max_overflow=0, db_pool_timeout_seconds=0.5)
    assert client.get("/api/v1/email/campaigns").status_code == 200  # the key is checked, and kept a moment

    with runtime.db.session(write=False) as held:  # the pool's one connection, busy until the block ends
        held.execute(text("SELECT 1"))
        busy = client.get("/api/v1/email/campaigns")
        created = client.post("/api/v1/templates", json={"name": "t", "subject": "s", "html": "<p>x</p>"})

    assert busy.status_code == 503, busy.text
    assert busy.headers["Retry-After"].isdigit()
    assert busy.json()["error"]["code"] == "unavailable" and set(busy.json()["error"]) == {
        "code",
        "message",
        "field",
        "details",
    }
    if runtime.db.is_sqlite:  # a write takes the writer's pool, which no one holds
        assert created.status_code == 201, created.text
    else:
        assert created.status_code == 503, created.text
    assert client.get("/api/v1/email/campaigns").status_code == 200  # the connection is back: so is the API


def test_more_requests_than_threads_on_a_small_pool_all_answer(database_url, tmp_path):
    """More requests at once than the thread pool has threads (40), on a pool of one connection: each waits its
    turn; none times out waiting for the connection (which a thread waiting for it while the request holding it
    waits for a thread to serialize its answer would do). The key stays cached all the run: a key read outside the
    requests' places needs a connection of the overflow, which this pool has none of."""
    settings = make_settings(
        database_url,
        tmp_path / "data",
        db_pool_size=1,
        db_max_overflow=0,
        db_pool_timeout_seconds=2,
        api_key_cache_seconds=300,
    )
    runtime = build_runtime(settings)
    tenant = new_tenant(runtime)
    port = free_port()
    try:
        with serving(create_app(runtime), port):
            url = f"http://127.0.0.1:{port}/api/v1/email/campaigns"
            headers = {"X-API-Key": tenant.api_key}
            assert httpx.get(url, headers=headers).status_code == 200
            with ThreadPoolExecutor(120) as pool:
                answers = list(pool.map(lambda _: httpx.get(url, headers=headers, timeout=120).status_code, range(240)))
            assert answers == [200] * 240
    finally:
        runtime.close()


def test_a_key_revoked_through_this_process_stops_at_once_elsewhere_within_the_cache_time(deployment):
    here_runtime, here, _ = deployment(api_key_cache_seconds=300)
    elsewhere_runtime, elsewhere, _ = deployment(api_key_cache_seconds=300)  # another API process, same database
    other = here.post("/api/v1/api-keys", json={"name": "to revoke"}).json()
    headers = {"X-API-Key": other["key"]}
    assert here.get("/api/v1/api-keys", headers=headers).status_code == 200
    assert elsewhere.get("/api/v1/api-keys", headers=headers).status_code == 200

    assert here.delete(f"/api/v1/api-keys/{other['id']}").status_code == 200

    refused = here.get("/api/v1/api-keys", headers=headers)
    assert refused.status_code == 401 and refused.json()["error"]["field"] == "X-API-Key"
    # The other process verified the key a moment ago and trusts it until its cache entry expires.
    assert elsewhere.get("/api/v1/api-keys", headers=headers).status_code == 200


def test_a_key_revoked_elsewhere_stops_once_the_cache_time_has_passed(deployment):
    runtime, client, tenant = deployment(api_key_cache_seconds=0.5)
    other = client.post("/api/v1/api-keys", json={"name": "to revoke"}).json()
    headers = {"X-API-Key": other["key"]}
    assert client.get("/api/v1/api-keys", headers=headers).status_code == 200
    with runtime.db.session() as session:  # as another process's API or the UI would
        tenant_service.revoke_api_key(session, tenant.tenant_id, uuid.UUID(other["id"]))

    deadline = time.monotonic() + 30
    while (
        answer := client.get("/api/v1/api-keys", headers=headers)
    ).status_code == 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert answer.status_code == 401


def test_without_a_cache_time_every_request_reads_its_key(deployment):
    runtime, client, tenant = deployment(api_key_cache_seconds=0)
    other = client.post("/api/v1/api-keys", json={"name": "to revoke"}).json()
    headers = {"X-API-Key": other["key"]}
    assert client.get("/api/v1/api-keys", headers=headers).status_code == 200
    with runtime.db.session() as session:
        tenant_service.revoke_api_key(session, tenant.tenant_id, uuid.UUID(other["id"]))
    assert client.get("/api/v1/api-keys", headers=headers).status_code == 401


def test_the_summary_counts_the_unsent_messages_together_from_the_campaign_counts(client, runtime):
    version = create_template(client, "Hi", "<p>Hi</p>")
    rows = [[f"r{i}@example.com"] for i in range(3)]
    file = upload_file(client, csv_bytes(["email"], rows))
    send_at = (utcnow() + timedelta(days=1)).isoformat()
    transaction_id = create_campaign(client, version["template_id"], file["file_url"], schedule={"send_at": send_at})[
        "transaction_id"
    ]
    run_jobs(runtime)

    summary = campaign(client, transaction_id)["summary"]
    assert summary["by_status"] == {"PENDING": 3} and summary["pending"] == 3 and summary["sent"] == 0
