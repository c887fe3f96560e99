"""A campaign that paused by itself says why on its page, and an editor resumes it there."""

from collections import Counter

from tests.campaigns.test_pausing import new_campaign, received
from tests.conftest import run_jobs
from tests.helpers import campaign
from tests.ui.conftest import make_user, sign_in


def test_the_page_of_a_paused_campaign_says_why_and_an_editor_resumes_it(ui_client, client, runtime, tenant, smtp_sink):
    runtime.settings.transport, runtime.settings.smtp_url = "smtp", smtp_sink.url
    runtime.settings.worker_concurrency, runtime.settings.pause_min_sent = 1, 2
    smtp_sink.replies = {"gone@example.com": "550 5.1.1 no such user"}
    good = [f"good{i}@example.com" for i in range(3)]
    transaction_id = new_campaign(client, ["gone@example.com", good[0], *good[1:]], batch_size=2)
    run_jobs(runtime)
    assert campaign(client, transaction_id)["status"] == "PAUSED"

    token = sign_in(ui_client, make_user(runtime, tenant, "editor"))
    page = ui_client.get(f"/ui/campaigns/{transaction_id}").text
    assert "paused by itself: 1 of 2 messages bounced (50.00%), past the bounce rate threshold of 5.00%" in page
    assert "Resume sending" in page

    resumed = ui_client.post(f"/ui/campaigns/{transaction_id}/resume", data={"csrf_token": token})
    assert resumed.status_code == 200 and "Pause sending" in resumed.text
    run_jobs(runtime)
    assert campaign(client, transaction_id)["status"] == "SENT"
    assert received(smtp_sink) == Counter(good)
