"""The embedded worker (a thread of the API process) that fails for a reason other than the database going away
is started again, and its restarts show in /readyz and the metrics."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from emailplatform.app import create_app
from tests.jobs.test_worker_processes import metric, wait_until


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite says a missing table is "locked"
def test_a_failing_embedded_worker_is_restarted_and_says_so(runtime, database_url):
    with TestClient(create_app(runtime, with_worker=True)) as client:
        wait_until(lambda: client.get("/readyz").status_code == 200, 30, "the server and its worker are ready")
        assert "worker_restarts" not in client.get("/readyz").json()["checks"]
        with runtime.db.session() as session:  # the worker's next claim fails: not an outage, a fault
            session.execute(text("ALTER TABLE jobs RENAME TO jobs_away"))
        try:
            wait_until(lambda: client.get("/readyz").json()["checks"].get("worker_restarts"), 30, "a restart shows")
        finally:
            with runtime.db.session() as session:
                session.execute(text("ALTER TABLE jobs_away RENAME TO jobs"))
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["checks"]["worker"] == "ok"
        restarts = int(ready.json()["checks"]["worker_restarts"])
        scraped = client.get("/metrics").text
        assert metric(scraped, "emailplatform_worker_restarts_total") >= restarts >= 1
        assert metric(scraped, "emailplatform_worker_up") == 1
