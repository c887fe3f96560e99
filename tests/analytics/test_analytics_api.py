"""Analytics through the API: the period's rates and their series, per campaign and per recipient domain,
bounce reasons and clicked links, as JSON pages or CSV (format= or Accept), for the key's tenant only."""

import csv
import io
import uuid

import pytest

from emailplatform.models import utcnow
from tests.conftest import new_tenant
from tests.helpers import all_pages
from tests.ui.test_analytics import EVIL, record, sent_campaign


@pytest.fixture
def two_campaigns(client, runtime):
    first = sent_campaign(
        client,
        runtime,
        ["a@gmail.example", "b@gmail.example", "c@corp.example", "d@corp.example", "e@gmail.example"],
        "Spring",
    )
    second = sent_campaign(client, runtime, ["f@other.example"], "Summer")
    record(runtime, first, "a@gmail.example", "bounced", reason="mailbox_full")
    record(runtime, first, "c@corp.example", "bounced", reason="no_such_user", hard=True)
    record(runtime, first, "d@corp.example", "bounced", reason="no_such_user", hard=True)
    record(runtime, first, "b@gmail.example", "delivered")
    record(runtime, first, "b@gmail.example", "clicked", url="https://shop.example/spring")
    record(runtime, first, "b@gmail.example", "clicked", url="https://shop.example/spring")
    record(runtime, first, "e@gmail.example", "clicked", url=EVIL)
    record(runtime, second, "f@other.example", "delivered")
    return first, second


def csv_rows(response) -> list[dict]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


def test_the_overview_has_the_periods_rates_and_a_day_by_day_series(client, two_campaigns):
    response = client.get("/api/v1/analytics/overview", params={"days": 7})
    assert response.status_code == 200, response.text
    ov = response.json()
    assert ov["days"] == 7 and ov["campaigns"] == 2
    assert ov["totals"] == {
        "total": 6,
        "pending": 0,
        "sent": 6,
        "delivered": 3,
        "bounced": 3,
        "complained": 0,
        "opened": 2,
        "clicked": 2,
        "failed": 0,
    }
    assert ov["rates"]["delivered"] == pytest.approx(0.5) and ov["rates"]["clicked"] == pytest.approx(2 / 3)
    assert len(ov["per_day"]) == 7 and ov["per_day"][-1]["date"] == utcnow().date().isoformat()
    assert ov["per_day"][-1]["counts"]["sent"] == 6 and ov["per_day"][0]["rates"]["delivered"] is None

    by_day = csv_rows(client.get("/api/v1/analytics/overview", params={"days": 7, "format": "csv"}))
    assert len(by_day) == 7 and by_day[-1]["sent"] == "6" and by_day[-1]["delivered_rate"] == "0.5000"
    assert csv_rows(client.get("/api/v1/analytics/overview", headers={"Accept": "text/csv"}))[-1]["bounced"] == "3"


def test_counts_and_rates_per_campaign_a_page_at_a_time_and_as_csv(client, two_campaigns):
    first, second = two_campaigns
    page = client.get("/api/v1/analytics/campaigns", params={"limit": 1}).json()
    assert [c["transaction_id"] for c in page["items"]] == [second] and page["next_cursor"]
    every = all_pages(client, "/api/v1/analytics/campaigns", limit=1)
    assert [c["name"] for c in every] == ["Summer", "Spring"]
    spring = every[1]
    assert spring["counts"]["bounced"] == 3 and spring["rates"]["bounced"] == pytest.approx(0.6)

    exported = csv_rows(client.get("/api/v1/analytics/campaigns", params={"format": "csv"}))
    assert [(r["campaign_id"], r["bounced"]) for r in exported] == [(second, "0"), (first, "3")]


def test_breakdowns_of_a_campaign_and_of_the_period_as_pages_and_as_csv(client, two_campaigns):
    first, _ = two_campaigns
    reasons = all_pages(client, "/api/v1/analytics/bounce-reasons", transaction_id=first)
    assert reasons == [{"reason": "no_such_user", "bounces": 2}, {"reason": "mailbox_full", "bounces": 1}]
    links = all_pages(client, "/api/v1/analytics/links", transaction_id=first)
    assert links[0] == {"url": "https://shop.example/spring", "clicks": 2, "messages_clicked": 1}
    assert links[1]["url"] == EVIL  # JSON keeps it as it was; only the CSV guards spreadsheets
    assert (
        csv_rows(client.get("/api/v1/analytics/links", params={"transaction_id": first, "format": "csv"}))[1]["url"]
        == "'" + EVIL
    )

    first_page = client.get("/api/v1/analytics/domains", params={"limit": 1}).json()
    assert [d["domain"] for d in first_page["items"]] == ["gmail.example"] and first_page["next_cursor"]
    domains = all_pages(client, "/api/v1/analytics/domains", limit=1)
    assert [d["domain"] for d in domains] == ["gmail.example", "corp.example", "other.example"]
    assert domains[0]["counts"]["delivered"] == 2 and domains[1]["rates"]["bounced"] == pytest.approx(1.0)
    of_first = all_pages(client, "/api/v1/analytics/domains", transaction_id=first)
    assert {d["domain"] for d in of_first} == {"gmail.example", "corp.example"}

    exported = csv_rows(client.get("/api/v1/analytics/domains", headers={"Accept": "text/csv"}))
    assert [r["domain"] for r in exported] == ["gmail.example", "corp.example", "other.example"]
    response = client.get("/api/v1/analytics/domains", params={"format": "csv", "transaction_id": first})
    assert f"domains-campaign-{first}.csv" in response.headers["content-disposition"]


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/v1/analytics/overview", {"days": "0"}, "days"),
        ("/api/v1/analytics/overview", {"days": "367"}, "days"),
        ("/api/v1/analytics/campaigns", {"format": "xml"}, "format"),
        ("/api/v1/analytics/campaigns", {"cursor": "nope"}, "cursor"),
        ("/api/v1/analytics/domains", {"transaction_id": "not-an-id"}, "transaction_id"),
        ("/api/v1/analytics/links", {"cursor": "WzEwXQ"}, "cursor"),
        ("/api/v1/analytics/bounce-reasons", {"limit": "0"}, "limit"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(client, path, params, field):
    response = client.get(path, params=params)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == field


def test_another_tenant_sees_none_of_it_and_cannot_name_its_campaigns(client, runtime, two_campaigns):
    first, _ = two_campaigns
    other = {"X-API-Key": new_tenant(runtime).api_key}
    assert client.get("/api/v1/analytics/overview", headers=other).json()["totals"]["total"] == 0
    assert client.get("/api/v1/analytics/campaigns", headers=other).json()["items"] == []
    assert client.get("/api/v1/analytics/domains", headers=other).json()["items"] == []
    for kind in ("bounce-reasons", "links", "domains"):
        response = client.get(f"/api/v1/analytics/{kind}", params={"transaction_id": first}, headers=other)
        assert response.status_code == 404 and response.json()["error"]["field"] == "transaction_id"
    assert client.get("/api/v1/analytics/links", params={"transaction_id": str(uuid.uuid4())}).status_code == 404
