"""The deliverability report on the new-campaign page and in the template editor, before the send button."""

import pytest

from tests.helpers import create_template, csv_bytes, upload_file
from tests.ui.conftest import make_user, sign_in, ui_client  # noqa: F401 (a fixture)

WORDS = " ".join(["Our autumn letter tells you what changed in the product this month."] * 8)

pytestmark = pytest.mark.xdist_group("spamd")  # with test_check.py: one spamd for both


def test_the_new_campaign_page_shows_the_report_before_sending(
    ui_client,
    client,
    runtime,
    tenant,
    dns_server,  # noqa: F811
):
    token = sign_in(ui_client, make_user(runtime, tenant, "editor"))
    template = create_template(client, "Hi {{ first_name }}", f"<p>Hi {{{{ first_name }}}}, {WORDS}</p>")
    template_id = template["template_id"]
    file_url = upload_file(client, csv_bytes(["email", "first_name"], [["ada@example.org", "Ada"]]))["file_url"]
    page = ui_client.get("/ui/campaigns/new").text
    assert page.index('id="check-button"') < page.index('id="send-button"')

    response = ui_client.post(
        "/ui/campaigns/deliverability",
        data={
            "csrf_token": token,
            "template_id": template_id,
            "file_url": file_url,
            "from_email": "news@example.com",
        },
    )
    assert response.status_code == 200, response.text
    assert "Deliverability: fix these before sending" in response.text  # example.com is not a verified domain
    assert "the message is not DKIM-signed" in response.text and "Fix: register example.com" in response.text
    assert "SpamAssassin: " in response.text
    assert "“Hi Ada” from news@example.com to ada@example.org (row 2)" in response.text


def test_the_template_editor_checks_the_version_shown(ui_client, client, runtime, tenant, dns_server):  # noqa: F811
    token = sign_in(ui_client, make_user(runtime, tenant, "editor"))
    template_id = create_template(client, "Hi {{ first_name }}", "<p>Hi {{ first_name }}</p>")["template_id"]
    assert 'id="check-button"' in ui_client.get(f"/ui/templates/{template_id}").text
    response = ui_client.post(
        f"/ui/templates/{template_id}/deliverability",
        data={
            "csrf_token": token,
            "version": "1",
            "sample.first_name": "Grace",
            "test_from": "news@example.com",
        },
    )
    assert response.status_code == 200, response.text
    assert "“Hi Grace” from news@example.com" in response.text
    assert 'class="finding error"' in response.text
