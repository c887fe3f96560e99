"""Rescheduling a scheduled campaign from its page, in the user's time zone."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from emailplatform.models import utcnow
from tests.campaigns.test_reschedule import at, scheduled_campaign
from tests.helpers import campaign
from tests.ui.conftest import make_user, sign_in


def test_an_editor_moves_the_send_time_in_their_time_zone(ui_client, client, runtime, tenant):
    transaction_id = scheduled_campaign(client, runtime, utcnow() + timedelta(days=1))
    token = sign_in(ui_client, make_user(runtime, tenant, "editor"))
    assert "Move the send time" in ui_client.get(f"/ui/campaigns/{transaction_id}").text

    local = (datetime.now(ZoneInfo("Europe/Paris")) + timedelta(days=3)).replace(second=0, microsecond=0)
    moved = ui_client.post(
        f"/ui/campaigns/{transaction_id}/reschedule",
        data={"send_at_local": local.strftime("%Y-%m-%dT%H:%M"), "time_zone": "Europe/Paris", "csrf_token": token},
    )
    assert moved.status_code == 200
    assert at(campaign(client, transaction_id)["send_at"]) == local

    past = ui_client.post(
        f"/ui/campaigns/{transaction_id}/reschedule",
        data={"send_at_local": "2020-01-01T09:00", "time_zone": "UTC", "csrf_token": token},
    )
    assert past.status_code == 422 and "send_at is in the past" in past.text
    assert at(campaign(client, transaction_id)["send_at"]) == local


def test_no_reschedule_for_a_campaign_sent_at_once_nor_for_a_viewer(ui_client, client, runtime, tenant):
    sent = scheduled_campaign(client, runtime, None)
    waiting = scheduled_campaign(client, runtime, utcnow() + timedelta(days=1))
    token = sign_in(ui_client, make_user(runtime, tenant, "viewer"))
    assert "Move the send time" not in ui_client.get(f"/ui/campaigns/{waiting}").text
    refused = ui_client.post(
        f"/ui/campaigns/{waiting}/reschedule",
        data={"send_at_local": "2030-01-01T09:00", "time_zone": "UTC", "csrf_token": token},
    )
    assert refused.status_code == 403
    assert "Move the send time" not in ui_client.get(f"/ui/campaigns/{sent}").text
