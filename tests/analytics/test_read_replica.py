"""A read replica (`read_database_url`): a real streaming replica of a primary of the test's own. The analytics API
and the UI's analytics and campaign list pages answer from it, so with its replay paused they show the data as it
was; everything else (sign-in, creating a campaign, sending, reading what was just created) uses the primary."""

import time

import pytest
from fastapi.testclient import TestClient

from emailplatform.app import create_app
from emailplatform.assembly import build_runtime
from emailplatform.config import Settings
from emailplatform.migrations import upgrade
from tests.conftest import PUBLIC_URL, free_port, make_settings, new_tenant
from tests.helpers import campaign
from tests.postgres_cluster import PostgresCluster
from tests.ui.conftest import make_user, sign_in
from tests.ui.test_analytics import record, sent_campaign


@pytest.fixture
def primary_and_replica():
    primary = PostgresCluster(free_port())
    primary.start()
    replica = None
    try:
        url = primary.create_database("emailplatform")
        upgrade(Settings(database_url=url).resolved_database_url)
        replica = PostgresCluster(free_port(), replica_of=primary)
        replica.start()
        yield primary, replica, url, replica.url("emailplatform")
    finally:
        if replica is not None:
            replica.remove()
        primary.remove()


@pytest.fixture
def replicated(primary_and_replica, tmp_path):
    primary, replica, url, replica_url = primary_and_replica
    runtime = build_runtime(make_settings(url, tmp_path / "data", read_database_url=replica_url))
    yield primary, replica, runtime
    runtime.close()


def caught_up(replica: PostgresCluster, primary: PostgresCluster, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not replica.replay_lsn_reached(primary):
        assert time.monotonic() < deadline, "the replica did not catch up with the primary"
        time.sleep(0.05)


def overview(client: TestClient) -> dict:
    response = client.get("/api/v1/analytics/overview", params={"days": 7})
    assert response.status_code == 200, response.text
    return response.json()["totals"]


def test_analytics_and_lists_answer_from_the_replica_and_writes_go_to_the_primary(replicated):
    primary, replica, runtime = replicated
    tenant = new_tenant(runtime)
    user = make_user(runtime, tenant, "admin")
    with TestClient(create_app(runtime), base_url=PUBLIC_URL, raise_server_exceptions=False) as client:
        client.headers["X-API-Key"] = tenant.api_key
        first = sent_campaign(client, runtime, ["a@one.example", "b@one.example"], "Spring")
        caught_up(replica, primary)
        assert overview(client)["sent"] == 2 and overview(client)["bounced"] == 0

        replica.pause_replay()
        # writes while the replica stands still: a bounce, a sign-in, a new campaign, all on the primary
        record(runtime, first, "a@one.example", "bounced", reason="no_such_user", hard=True)
        sign_in(client, user)
        second = sent_campaign(client, runtime, ["c@two.example"], "Summer")
        assert campaign(client, second)["status"] in {"SENT", "COMPLETED"}  # the API reads its own writes

        assert overview(client)["bounced"] == 0
        assert overview(client)["sent"] == 2  # the replica has not seen the second campaign yet
        campaigns_page = client.get("/ui/campaigns")
        assert campaigns_page.status_code == 200 and "Spring" in campaigns_page.text
        assert "Summer" not in campaigns_page.text
        assert "Summer" in client.get(f"/ui/campaigns/{second}").text  # a page a redirect lands on: the primary

        replica.pause_replay(False)
        caught_up(replica, primary)
        assert overview(client)["bounced"] == 1 and overview(client)["sent"] == 3
        assert "Summer" in client.get("/ui/campaigns").text
        assert client.get("/ui/analytics").status_code == 200

        replica.stop()  # the replica away: its reads answer 503, the primary's go on
        assert client.get("/api/v1/analytics/overview").status_code == 503
        assert campaign(client, second)["status"] in {"SENT", "COMPLETED"}


def test_without_a_replica_url_every_read_uses_the_primary(postgres_url, tmp_path):
    runtime = build_runtime(make_settings(postgres_url, tmp_path / "data"))
    try:
        assert runtime.db.sessions(write=False, replica=True) is runtime.db.reader
    finally:
        runtime.close()


def test_a_replica_of_sqlite_is_refused(tmp_path):
    with pytest.raises(ValueError, match="read_database_url"):
        Settings(data_dir=tmp_path, read_database_url="postgresql://replica/db")
