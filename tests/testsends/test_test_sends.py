"""Test sends reach the seed addresses through a real SMTP server, marked as tests, and leave the campaign as it was."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from emailplatform.models import Event, Message
from tests.conftest import run_jobs
from tests.helpers import campaign, create_campaign, create_template, csv_bytes, upload_file

HTML = '<p>Hello {{ first_name }},</p><p>see <a href="https://example.com/offer">the offer</a>.</p>'
ROWS = [
    ["ada@example.com", "Ada"],
    ["not-an-address", "Bob"],
    ["grace@example.org", "Grace"],
    ["linus@example.net", "Linus"],
]


@pytest.fixture
def smtp_runtime(runtime, smtp_sink):
    runtime.settings.transport = "smtp"
    runtime.settings.smtp_url = smtp_sink.url
    return runtime


def recipients_file(client) -> dict:
    return upload_file(client, csv_bytes(["email", "first_name"], ROWS))


def scheduled_campaign(client, runtime) -> str:
    template = create_template(client, "News for {{ first_name }}", HTML)
    send_at = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    accepted = create_campaign(
        client, template["template_id"], recipients_file(client)["file_url"], schedule={"send_at": send_at}
    )
    run_jobs(runtime)
    assert campaign(client, accepted["transaction_id"])["status"] == "SCHEDULED"
    return accepted["transaction_id"]


def messages_and_events(runtime, tenant_id) -> tuple[int, int]:
    with runtime.db.session() as session:
        messages = session.scalar(select(func.count()).select_from(Message).where(Message.tenant_id == tenant_id))
        events = session.scalar(select(func.count()).select_from(Event).where(Event.tenant_id == tenant_id))
    return messages, events


def test_a_template_test_reaches_each_seed_marked_as_a_test_and_is_recorded_nowhere(
    client, smtp_runtime, smtp_sink, tenant
):
    template = create_template(client, "News for {{ first_name }}", HTML)
    response = client.post(
        f"/api/v1/templates/{template['template_id']}/test",
        json={
            "to": ["me@sender.example.com", "boss@sender.example.com"],
            "data": {"first_name": "Ada"},
            "from": {"email": "news@sender.example.com", "name": "Acme News"},
        },
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["sent"] == 2
    assert [r["to"] for r in answer["results"]] == ["me@sender.example.com", "boss@sender.example.com"]
    assert all(r["status"] == "sent" and r["row_number"] is None for r in answer["results"])
    received = smtp_sink.by_recipient()
    assert sorted(received) == ["boss@sender.example.com", "me@sender.example.com"]
    mail = received["me@sender.example.com"][0].message
    assert mail["Subject"] == "[TEST] News for Ada"
    assert mail["X-Emailplatform-Test"] == "true"
    assert mail["From"] == "Acme News <news@sender.example.com>"
    assert mail["List-Unsubscribe"].startswith("<http://testserver/u/")
    html = mail.get_body(("html",)).get_content()
    assert "Hello Ada," in html and 'href="https://example.com/offer"' in html  # not through the click redirect
    assert "Hello Ada," in mail.get_body(("plain",)).get_content()
    assert received["me@sender.example.com"][0].mail_from.startswith("bounces+")
    assert messages_and_events(smtp_runtime, tenant.tenant_id) == (0, 0)


def test_a_scheduled_campaign_is_tested_with_its_first_rows_and_its_counts_stay_as_they_were(
    client, smtp_runtime, smtp_sink
):
    transaction_id = scheduled_campaign(client, smtp_runtime)
    before = campaign(client, transaction_id)

    response = client.post(
        f"/api/v1/email/campaigns/{transaction_id}/test",
        json={
            "to": ["one@seed.example.com", "two@seed.example.com", "three@seed.example.com", "four@seed.example.com"],
        },
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    # three good rows (row 3 is invalid): the fourth seed gets the first row again
    assert [(r["to"], r["row_number"]) for r in results] == [
        ("one@seed.example.com", 2),
        ("two@seed.example.com", 4),
        ("three@seed.example.com", 5),
        ("four@seed.example.com", 2),
    ]
    subjects = {to: mails[0].message["Subject"] for to, mails in smtp_sink.by_recipient().items()}
    assert subjects == {
        "one@seed.example.com": "[TEST] News for Ada",
        "two@seed.example.com": "[TEST] News for Grace",
        "three@seed.example.com": "[TEST] News for Linus",
        "four@seed.example.com": "[TEST] News for Ada",
    }
    after = campaign(client, transaction_id)
    assert after["status"] == "SCHEDULED"
    assert after["summary"] == before["summary"]
    assert after["summary"]["sent"] == 0 and after["summary"]["pending"] == 3


def test_chosen_rows_are_sent_in_the_order_given(client, smtp_runtime, smtp_sink):
    transaction_id = scheduled_campaign(client, smtp_runtime)
    response = client.post(
        f"/api/v1/email/campaigns/{transaction_id}/test",
        json={
            "to": ["one@seed.example.com", "two@seed.example.com"],
            "rows": [5, 2],
        },
    )
    assert response.status_code == 200, response.text
    assert [r["row_number"] for r in response.json()["results"]] == [5, 2]
    assert smtp_sink.by_recipient()["one@seed.example.com"][0].message["Subject"] == "[TEST] News for Linus"


def test_a_campaign_not_yet_created_is_tested_from_its_template_file_and_sender(client, smtp_runtime, smtp_sink):
    template = create_template(client, "News for {{ first_name }}", HTML)
    response = client.post(
        "/api/v1/email/campaigns/test",
        json={
            "template_id": template["template_id"],
            "csv_file_url": recipients_file(client)["file_url"],
            "from": {"email": "news@sender.example.com"},
            "to": ["me@seed.example.com"],
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["results"][0]["row_number"] == 2
    assert smtp_sink.by_recipient()["me@seed.example.com"][0].message["Subject"] == "[TEST] News for Ada"


def test_a_released_campaign_cannot_be_tested(client, smtp_runtime):
    template = create_template(client, "News for {{ first_name }}", HTML)
    file_url = recipients_file(client)["file_url"]
    transaction_id = create_campaign(client, template["template_id"], file_url)["transaction_id"]
    run_jobs(smtp_runtime)
    response = client.post(f"/api/v1/email/campaigns/{transaction_id}/test", json={"to": ["me@seed.example.com"]})
    assert response.status_code == 409
    assert response.json()["error"]["field"] == "transaction_id"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"to": []}, "to"),
        ({"to": [f"seed{i}@seed.example.com" for i in range(11)]}, "to"),
        ({"to": ["not an address"]}, "to.0"),
        ({"to": ["me@seed.example.com"], "rows": [3]}, "rows"),  # an invalid row: never sent to
        ({"to": ["me@seed.example.com"], "rows": [99]}, "rows"),
        ({"to": ["me@seed.example.com"], "rows": [1]}, "rows.0"),  # the header
    ],
)
def test_bad_test_requests_name_the_field(client, smtp_runtime, smtp_sink, body, field):
    transaction_id = scheduled_campaign(client, smtp_runtime)
    response = client.post(f"/api/v1/email/campaigns/{transaction_id}/test", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field
    assert smtp_sink.received == []


def test_a_template_test_with_a_failing_render_names_the_data(client, smtp_runtime, smtp_sink):
    template = create_template(client, "Hi", "<p>{{ 1 / (count | int) }}</p>")
    response = client.post(
        f"/api/v1/templates/{template['template_id']}/test",
        json={
            "to": ["me@seed.example.com"],
            "data": {"count": "0"},
            "from": {"email": "news@sender.example.com"},
        },
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"].startswith("data")
    assert smtp_sink.received == []


def test_over_the_capture_transport_a_test_is_in_the_outbox_by_its_id(client, runtime):
    template = create_template(client, "News for {{ first_name }}", HTML)
    response = client.post(
        f"/api/v1/templates/{template['template_id']}/test",
        json={
            "to": ["me@seed.example.com"],
            "data": {"first_name": "Ada"},
            "from": {"email": "news@sender.example.com"},
        },
    )
    assert response.status_code == 200, response.text
    result = response.json()["results"][0]
    assert result["status"] == "sent" and result["response"] == "250 captured in the outbox"
    captured = client.get(f"/api/v1/outbox/{result['message_id']}")
    assert captured.status_code == 200, captured.text
    headers = {h["name"]: h["value"] for h in captured.json()["headers"]}
    assert headers["Subject"] == "[TEST] News for Ada" and headers["X-Emailplatform-Test"] == "true"


def test_a_suppressed_seed_gets_no_test(client, smtp_runtime, smtp_sink):
    assert client.post("/api/v1/suppressions", json={"email": "gone@seed.example.com"}).status_code in (200, 201)
    template = create_template(client, "News for {{ first_name }}", HTML)
    response = client.post(
        f"/api/v1/templates/{template['template_id']}/test",
        json={
            "to": ["gone@seed.example.com", "me@seed.example.com"],
            "data": {"first_name": "Ada"},
            "from": {"email": "news@sender.example.com"},
        },
    )
    assert response.status_code == 200, response.text
    assert [(r["to"], r["status"]) for r in response.json()["results"]] == [
        ("gone@seed.example.com", "suppressed"),
        ("me@seed.example.com", "sent"),
    ]
    assert response.json()["sent"] == 1
    assert sorted(smtp_sink.by_recipient()) == ["me@seed.example.com"]
