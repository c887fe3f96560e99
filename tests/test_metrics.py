"""/metrics, as Prometheus scrapes it: requests by route and status, the queue and the campaigns."""

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import run_jobs
from tests.helpers import create_campaign, create_template, csv_bytes, upload_file


def scrape(client, **headers) -> dict[tuple[str, frozenset], float]:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def requests(method: str, route: str, status: int) -> tuple[str, frozenset]:
    labels = {"method": method, "route": route, "status": str(status)}
    return "emailplatform_http_requests_total", frozenset(labels.items())


def labelled(name: str, **labels) -> tuple[str, frozenset]:
    return name, frozenset(labels.items())


def test_requests_are_counted_by_route_and_the_queue_and_campaigns_are_shown(client, runtime):
    accepted = labelled("emailplatform_campaigns", status="ACCEPT")
    completed = labelled("emailplatform_campaigns", status="COMPLETED")  # captured: delivered at once
    campaigns_of_earlier_tests = scrape(client)  # the database is the run's: campaigns of other tests are in it
    template = create_template(client, "Hi", "<p>Hi {{ name }}</p>")
    assert client.get("/api/v1/templates/not-a-uuid").status_code == 422
    file = upload_file(client, csv_bytes(["email", "name"], [["a@example.com", "A"], ["b@example.com", "B"]]))
    create_campaign(client, template["template_id"], file["file_url"])

    before = scrape(client)
    assert before[requests("POST", "/api/v1/templates", 201)] == 1
    assert before[requests("GET", "/api/v1/templates/{template_id}", 422)] == 1  # the template, not each id
    assert before[requests("POST", "/api/v1/email/campaigns", 202)] == 1
    assert before[labelled("emailplatform_jobs", kind="split_file", state="queued")] == 1
    assert before[accepted] == campaigns_of_earlier_tests.get(accepted, 0) + 1
    assert 0 <= before[("emailplatform_jobs_queue_lag_seconds", frozenset())] < 60

    run_jobs(runtime)
    after = scrape(client)
    assert labelled("emailplatform_jobs", kind="split_file", state="queued") not in after
    assert after[("emailplatform_jobs_queue_lag_seconds", frozenset())] == 0
    assert after.get(accepted, 0) == campaigns_of_earlier_tests.get(accepted, 0)
    assert after[completed] == campaigns_of_earlier_tests.get(completed, 0) + 1
    assert after[requests("GET", "/metrics", 200)] == 2  # the two scrapes before
    assert (
        after[labelled("emailplatform_http_request_duration_seconds_count", method="POST", route="/api/v1/templates")]
        == 1
    )


def test_a_metrics_token_is_asked_for_when_set(client, runtime):
    runtime.settings.metrics_token = "scrape-me"
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "scrape-me"}):
        refused = client.get("/metrics", headers=headers)
        assert refused.status_code == 401 and refused.json()["error"]["field"] == "Authorization"
    assert "emailplatform_jobs" in client.get("/metrics", headers={"Authorization": "Bearer scrape-me"}).text
