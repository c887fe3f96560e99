"""The test-send buttons of the new-campaign page and of the template editor, through a real SMTP server."""

import pytest

from tests.helpers import create_template, csv_bytes, upload_file
from tests.ui.conftest import make_user, sign_in


@pytest.fixture
def smtp_runtime(runtime, smtp_sink):
    runtime.settings.transport = "smtp"
    runtime.settings.smtp_url = smtp_sink.url
    return runtime


def test_the_new_campaign_page_sends_a_test_of_what_is_on_it(ui_client, client, smtp_runtime, smtp_sink, tenant):
    token = sign_in(ui_client, make_user(smtp_runtime, tenant, "editor"))
    template_id = create_template(client, "Hi {{ first_name }}", "<p>Hi {{ first_name }}</p>")["template_id"]
    file_url = upload_file(client, csv_bytes(["email", "first_name"], [["ada@example.com", "Ada"]]))["file_url"]
    page = ui_client.get("/ui/campaigns/new")
    assert 'id="test-button"' in page.text

    response = ui_client.post(
        "/ui/campaigns/test",
        data={
            "csrf_token": token,
            "template_id": template_id,
            "file_url": file_url,
            "from_email": "news@sender.example.com",
            "test_to": "me@seed.example.com, boss@seed.example.com",
        },
    )
    assert response.status_code == 200, response.text
    assert "Sent to <strong>me@seed.example.com</strong>" in response.text
    subjects = {to: mails[0].message["Subject"] for to, mails in smtp_sink.by_recipient().items()}
    assert subjects == {"me@seed.example.com": "[TEST] Hi Ada", "boss@seed.example.com": "[TEST] Hi Ada"}
    assert client.get("/api/v1/email/campaigns").json()["items"] == []

    refused = ui_client.post(
        "/ui/campaigns/test",
        data={
            "csrf_token": token,
            "template_id": template_id,
            "file_url": file_url,
            "from_email": "news@sender.example.com",
            "test_to": "me@seed.example.com, not-an-address",
        },
    )
    assert refused.status_code == 200 and "not an email address" in refused.text


def test_the_template_editor_sends_the_version_shown_with_its_sample_data(
    ui_client, client, smtp_runtime, smtp_sink, tenant
):
    token = sign_in(ui_client, make_user(smtp_runtime, tenant, "editor"))
    template_id = create_template(client, "Hi {{ first_name }}", "<p>Hi {{ first_name }}</p>")["template_id"]
    assert 'id="test-button"' in ui_client.get(f"/ui/templates/{template_id}").text

    response = ui_client.post(
        f"/ui/templates/{template_id}/test",
        data={
            "csrf_token": token,
            "version": "1",
            "sample.first_name": "Grace",
            "test_to": "me@seed.example.com",
            "test_from": "news@sender.example.com",
        },
    )
    assert response.status_code == 200, response.text
    mail = smtp_sink.by_recipient()["me@seed.example.com"][0].message
    assert mail["Subject"] == "[TEST] Hi Grace" and mail["From"] == "news@sender.example.com"

    no_sender = ui_client.post(
        f"/ui/templates/{template_id}/test",
        data={
            "csrf_token": token,
            "version": "1",
            "test_to": "me@seed.example.com",
        },
    )
    assert "default sender" in no_sender.text
