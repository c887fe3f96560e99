"""Rescheduling a scheduled campaign moves its send time and its release job; once sending started it is refused;
a cancelled scheduled campaign never goes."""

import time
import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import update

from emailplatform.models import Job, utcnow
from tests.conftest import new_tenant, run_jobs
from tests.helpers import all_pages, campaign, create_campaign, create_template, csv_bytes, upload_file


def scheduled_campaign(client, runtime, send_at: datetime | None) -> str:
    version = create_template(client, "Hi {{ name }}", "<p>Hi {{ name }}</p>")
    file = upload_file(client, csv_bytes(["email", "name"], [["ann@example.com", "Ann"], ["bob@example.com", "Bob"]]))
    extra = {"schedule": {"send_at": send_at.isoformat()}} if send_at else {}
    transaction_id = create_campaign(client, version["template_id"], file["file_url"], **extra)["transaction_id"]
    run_jobs(runtime)
    return transaction_id


def release_jobs(client, transaction_id: str) -> list[dict]:
    jobs = all_pages(client, "/api/v1/jobs", state="queued")
    return [j for j in jobs if j["kind"] == "release_campaign" and j["payload"]["transaction_id"] == transaction_id]


def at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_rescheduling_moves_the_send_time_the_release_job_and_the_messages_scheduled_at(client, runtime):
    transaction_id = scheduled_campaign(client, runtime, utcnow() + timedelta(days=1))
    assert campaign(client, transaction_id)["status"] == "SCHEDULED"
    new_time = (utcnow() + timedelta(hours=2)).replace(microsecond=0)

    response = client.post(
        f"/api/v1/email/campaigns/{transaction_id}/reschedule", json={"send_at": new_time.isoformat()}
    )

    assert response.status_code == 200, response.text
    assert at(response.json()["send_at"]) == new_time and response.json()["status"] == "SCHEDULED"
    assert [at(j["run_at"]) for j in release_jobs(client, transaction_id)] == [new_time]
    messages = all_pages(client, f"/api/v1/email/campaigns/{transaction_id}/messages")
    assert {at(m["scheduled_at"]) for m in messages} == {new_time}
    assert {m["status"] for m in messages} == {"SCHEDULED"}


def test_a_campaign_rescheduled_to_a_moment_away_goes_then(client, runtime):
    transaction_id = scheduled_campaign(client, runtime, utcnow() + timedelta(days=1))
    soon = utcnow() + timedelta(seconds=1)
    assert (
        client.post(
            f"/api/v1/email/campaigns/{transaction_id}/reschedule", json={"send_at": soon.isoformat()}
        ).status_code
        == 200
    )
    while utcnow() <= soon:
        time.sleep(0.2)
    run_jobs(runtime)
    sent = campaign(client, transaction_id)
    assert sent["status"] == "COMPLETED" and sent["summary"]["sent"] == 2  # capture delivers at once


def test_a_release_job_claimed_before_a_reschedule_waits_for_the_new_time(client, runtime):
    transaction_id = scheduled_campaign(client, runtime, utcnow() + timedelta(days=1))
    later = (utcnow() + timedelta(days=2)).replace(microsecond=0)
    client.post(f"/api/v1/email/campaigns/{transaction_id}/reschedule", json={"send_at": later.isoformat()})
    with runtime.db.session() as session:  # as if a worker had taken the job at the old time, before the move
        session.execute(update(Job).where(Job.kind == "release_campaign").values(run_at=utcnow()))
    run_jobs(runtime)
    assert campaign(client, transaction_id)["status"] == "SCHEDULED"
    assert [at(j["run_at"]) for j in release_jobs(client, transaction_id)] == [later]


def test_once_sending_started_or_for_a_campaign_sent_at_once_a_reschedule_is_a_409(client, runtime):
    sent_now = scheduled_campaign(client, runtime, None)
    assert campaign(client, sent_now)["status"] == "COMPLETED"  # capture delivers at once
    future = (utcnow() + timedelta(hours=1)).isoformat()
    refused = client.post(f"/api/v1/email/campaigns/{sent_now}/reschedule", json={"send_at": future})
    assert refused.status_code == 409
    assert refused.json()["error"]["field"] == "transaction_id" and "COMPLETED" in refused.json()["error"]["message"]
    assert campaign(client, sent_now)["send_at"] is None


def test_a_cancelled_scheduled_campaign_cannot_be_rescheduled_and_never_goes(client, runtime):
    transaction_id = scheduled_campaign(client, runtime, utcnow() + timedelta(days=1))
    soon = utcnow() + timedelta(seconds=1)  # brought forward: the jobs run only when the test says
    client.post(f"/api/v1/email/campaigns/{transaction_id}/reschedule", json={"send_at": soon.isoformat()})
    assert client.post(f"/api/v1/email/campaigns/{transaction_id}/cancel").json()["status"] == "CANCELLED"
    future = (utcnow() + timedelta(hours=1)).isoformat()
    assert (
        client.post(f"/api/v1/email/campaigns/{transaction_id}/reschedule", json={"send_at": future}).status_code == 409
    )
    while utcnow() <= soon:
        time.sleep(0.2)
    run_jobs(runtime)
    done = campaign(client, transaction_id)
    assert done["status"] == "CANCELLED" and done["summary"]["sent"] == 0 and done["summary"]["cancelled"] == 2


@pytest.mark.parametrize(
    "body",
    [
        {"send_at": "2020-01-01T09:00:00Z"},
        {"send_at": "2030-01-01T09:00:00"},
        {"send_at": "tomorrow"},
        {},
    ],
)
def test_a_bad_send_time_is_a_422_naming_send_at_and_changes_nothing(client, runtime, body):
    first = utcnow() + timedelta(days=1)
    transaction_id = scheduled_campaign(client, runtime, first)
    response = client.post(f"/api/v1/email/campaigns/{transaction_id}/reschedule", json=body)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "send_at"
    assert at(campaign(client, transaction_id)["send_at"]) == first


def test_another_tenants_campaign_is_not_found(client, runtime):
    transaction_id = scheduled_campaign(client, runtime, utcnow() + timedelta(days=1))
    other = new_tenant(runtime)
    future = (utcnow() + timedelta(hours=1)).isoformat()
    path = f"/api/v1/email/campaigns/{transaction_id}/reschedule"
    assert client.post(path, json={"send_at": future}, headers={"X-API-Key": other.api_key}).status_code == 404
    assert (
        client.post(f"/api/v1/email/campaigns/{uuid.uuid4()}/reschedule", json={"send_at": future}).status_code == 404
    )
