"""The analytics breakdowns (bounce reasons, clicked links, recipient domains), per campaign and per period, and
their CSV exports, safe to open in a spreadsheet."""

import csv
import io
import uuid

from sqlalchemy import select

from emailplatform.events import service as event_service
from emailplatform.models import Message
from tests.conftest import new_tenant, run_jobs
from tests.helpers import create_campaign, create_template, csv_bytes, upload_file
from tests.ui.conftest import make_user, sign_in

EVIL = '=HYPERLINK("http://evil.example")'


def sent_campaign(client, runtime, addresses: list[str], name: str) -> str:
    version = create_template(client, "Hi", "<p>Hi {{ name }}</p>")
    file = upload_file(client, csv_bytes(["email", "name"], [[a, "N"] for a in addresses]))
    transaction_id = create_campaign(client, version["template_id"], file["file_url"], name=name)["transaction_id"]
    run_jobs(runtime)
    return transaction_id


def record(runtime, transaction_id: str, email: str, kind: str, **details) -> None:
    with runtime.db.session() as session:
        message_id = session.scalar(
            select(Message.id).where(Message.transaction_id == uuid.UUID(transaction_id), Message.email == email)
        )
        event_service.record(session, event_service.NewEvent(message_id, kind, details=details))


def rows(response) -> list[dict]:
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


def test_breakdowns_of_a_campaign_and_of_a_period_and_their_exports(ui_client, client, runtime, tenant):
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
    record(runtime, second, "f@other.example", "bounced", reason="policy")

    sign_in(ui_client, make_user(runtime, tenant, "viewer"))
    period = ui_client.get("/ui/analytics", params={"days": 7})
    assert period.status_code == 200 and "Breakdowns of the last 7 days" in period.text
    assert "no such user" in period.text and "policy" in period.text and "https://shop.example/spring" in period.text

    one = ui_client.get("/ui/analytics", params={"days": 30, "campaign": first})
    assert "Breakdowns of the campaign Spring" in one.text and "policy" not in one.text

    reasons = rows(ui_client.get("/ui/analytics/bounce-reasons.csv", params={"campaign": first}))
    assert reasons == [{"reason": "no_such_user", "bounces": "2"}, {"reason": "mailbox_full", "bounces": "1"}]
    links = rows(ui_client.get("/ui/analytics/links.csv", params={"campaign": first}))
    assert links[0] == {"url": "https://shop.example/spring", "clicks": "2", "messages_clicked": "1"}
    assert links[1]["url"] == "'" + EVIL  # a spreadsheet shows it as text, never runs it
    domains = {r["domain"]: r for r in rows(ui_client.get("/ui/analytics/domains.csv", params={"campaign": first}))}
    assert domains["gmail.example"] == {
        "domain": "gmail.example",
        "messages": "3",
        "sent": "3",
        "delivered": "2",
        "bounced": "1",
        "opened": "2",
        "clicked": "2",
    }
    assert domains["corp.example"]["bounced"] == "2" and domains["corp.example"]["delivered"] == "0"

    overall = {r["domain"] for r in rows(ui_client.get("/ui/analytics/domains.csv", params={"days": 90}))}
    assert overall == {"gmail.example", "corp.example", "other.example"}
    assert {r["reason"] for r in rows(ui_client.get("/ui/analytics/bounce-reasons.csv"))} == {
        "no_such_user",
        "mailbox_full",
        "policy",
    }


def test_breakdowns_before_anything_was_sent_say_so(ui_client, runtime, tenant):
    sign_in(ui_client, make_user(runtime, tenant, "viewer"))
    page = ui_client.get("/ui/analytics")
    assert "No bounces" in page.text and "No clicks yet" in page.text and "No messages in the last 30 days" in page.text
    assert rows(ui_client.get("/ui/analytics/links.csv")) == []


def test_another_tenants_campaign_and_unknown_exports_are_not_found(ui_client, client, runtime, tenant):
    theirs = sent_campaign(client, runtime, ["a@example.com"], "Theirs")
    sign_in(ui_client, make_user(runtime, new_tenant(runtime), "owner"))
    assert ui_client.get("/ui/analytics", params={"campaign": theirs}).status_code == 404
    assert ui_client.get("/ui/analytics/domains.csv", params={"campaign": theirs}).status_code == 404
    assert ui_client.get("/ui/analytics/secrets.csv").status_code == 404
    assert ui_client.get("/ui/analytics", params={"campaign": "not-an-id"}).status_code == 422


def test_the_dashboard_and_analytics_say_which_rates_are_measured_for_the_transport(
    ui_client, client, runtime, tenant, smtp_sink
):
    sign_in(ui_client, make_user(runtime, tenant, "viewer"))
    sent_campaign(client, runtime, ["a@example.com", "b@example.com"], "Captured")
    dashboard = ui_client.get("/ui/").text
    assert "100.0%</span> delivered, 7 days" in dashboard  # captured: delivered to the outbox at once
    assert "opened, 7 days (an estimate)" in dashboard and "complaints, 7 days: not measured" in dashboard

    other = new_tenant(runtime)  # a tenant whose campaigns go out over SMTP to a relay without DSN
    client.headers["X-API-Key"] = other.api_key
    runtime.settings.transport, runtime.settings.smtp_url = "smtp", smtp_sink.url
    sign_in(ui_client, make_user(runtime, other, "viewer"))
    relayed = sent_campaign(client, runtime, ["c@example.com"], "Relayed")
    dashboard = ui_client.get("/ui/").text
    assert "delivered, 7 days: not measured" in dashboard and "0.0%</span> delivered" not in dashboard
    page = ui_client.get("/ui/analytics", params={"days": 7}).text
    assert "the SMTP relay sends no delivery notices" in page and "not measured" in page

    record(runtime, relayed, "c@example.com", "delivered", source="dsn")  # a delivery notice, as the listener reads it
    dashboard = ui_client.get("/ui/").text
    assert "100.0%</span> delivered, 7 days" in dashboard and "delivered, 7 days: not measured" not in dashboard
