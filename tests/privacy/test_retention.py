"""Retention, applied by the periodic job's function at times after a campaign finished: each kind goes once its
days are past, not before; 0 keeps it; other data and unfinished campaigns stay."""

import uuid
from datetime import timedelta

from sqlalchemy import func, select

from emailplatform.campaigns import status as campaign_status
from emailplatform.job_kinds import PERIODIC_KINDS
from emailplatform.models import Batch, Event, File, Transaction, WebhookAttempt, WebhookDelivery, utcnow
from emailplatform.privacy import retention
from emailplatform.sending.transports import capture
from tests.privacy.helpers import record_event
from tests.privacy.test_erasure import PERSON, ROWS, send
from tests.webhooks.webhook_helpers import run_deliveries

DAY = timedelta(days=1)


def finished(runtime, transaction_id: str) -> None:
    """The campaign completes as the outcome window's end would make it."""
    with runtime.db.session() as session:
        campaign_status.complete_finished(session, sent_before=utcnow() + DAY)
        assert session.get(Transaction, uuid.UUID(transaction_id)).status == "COMPLETED"


def apply_all(runtime, now) -> None:
    """Retention runs until no campaign is due: the test database holds other tests' finished campaigns too, and
    a run takes a bounded number of them."""
    while any(retention.apply(runtime, now=now)[kind] for kind in ("files", "captured", "events")):
        pass


def kept(runtime, tenant_id, transaction_id: str) -> dict:
    storage, tid = runtime.storage, uuid.UUID(transaction_id)
    with runtime.db.session(write=False) as session:
        transaction = session.get(Transaction, tid)
        batches = session.scalars(select(Batch.storage_key).where(Batch.transaction_id == tid)).all()
        message_ids = [m for m in session.scalars(select(Event.message_id).where(Event.transaction_id == tid))]
        return {
            "source": storage.size(session.get(File, transaction.file_id).storage_key) is not None,
            "batches": sum(storage.size(key) is not None for key in batches),
            "captured": sum(storage.size(capture.outbox_key(tenant_id, m)) is not None for m in set(message_ids)),
            "events": len(message_ids),
            "deliveries": session.scalar(
                select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.transaction_id == tid)
            ),
            "attempts": session.scalar(
                select(func.count()).select_from(WebhookAttempt).where(WebhookAttempt.tenant_id == tenant_id)
            ),
        }


def test_each_kind_goes_once_its_days_have_passed_since_the_campaign_finished(client, runtime, tenant, receiver):
    assert "retention" in PERIODIC_KINDS
    endpoint = {"url": receiver.url, "event_types": ["message.sent"]}
    assert client.post("/api/v1/webhooks/endpoints", json=endpoint).status_code == 201
    done = send(client, runtime, ROWS, "capture")
    record_event(runtime, done, PERSON, "opened")
    unfinished = send(client, runtime, ROWS[:1], "capture")
    finished(runtime, done)
    with runtime.db.session() as session:  # the other campaign is still waiting for outcomes
        session.get(Transaction, uuid.UUID(unfinished)).status = "SENT"
    settings = runtime.settings
    settings.retention_files_days, settings.retention_captured_days = 10, 20
    settings.retention_events_days, settings.retention_webhook_logs_days = 30, 40
    everything = {"source": True, "batches": 1, "captured": 3, "events": 4, "deliveries": 3, "attempts": 4}
    assert kept(runtime, tenant.tenant_id, done) == everything

    apply_all(runtime, utcnow() + 9 * DAY)
    assert kept(runtime, tenant.tenant_id, done) == everything
    apply_all(runtime, utcnow() + 11 * DAY)
    assert kept(runtime, tenant.tenant_id, done) == everything | {"source": False, "batches": 0}
    apply_all(runtime, utcnow() + 21 * DAY)
    assert kept(runtime, tenant.tenant_id, done)["captured"] == 0
    apply_all(runtime, utcnow() + 31 * DAY)
    assert kept(runtime, tenant.tenant_id, done) | {"attempts": None} == {
        "source": False,
        "batches": 0,
        "captured": 0,
        "events": 0,
        "deliveries": 3,
        "attempts": None,
    }
    apply_all(runtime, utcnow() + 41 * DAY)
    assert kept(runtime, tenant.tenant_id, done)["deliveries"] == 0
    assert kept(runtime, tenant.tenant_id, unfinished) | {"attempts": None, "deliveries": None} == {
        "source": True,
        "batches": 1,
        "captured": 1,
        "events": 1,
        "attempts": None,
        "deliveries": None,
    }
    detail = client.get(f"/api/v1/email/campaigns/{done}").json()
    assert detail["status"] == "COMPLETED" and detail["total_messages"] == 3  # the campaign and its counts stay


def test_zero_keeps_for_ever_and_the_periodic_job_runs_it(client, runtime, tenant):
    settings = runtime.settings
    settings.retention_files_days = settings.retention_captured_days = settings.retention_events_days = 0
    done = send(client, runtime, ROWS, "capture")
    finished(runtime, done)
    with runtime.db.session() as session:  # it finished two days ago
        session.get(Transaction, uuid.UUID(done)).completed_at = utcnow() - 2 * DAY
    apply_all(runtime, utcnow() + 10_000 * DAY)
    assert kept(runtime, tenant.tenant_id, done)["batches"] == 1
    settings.retention_files_days = 1
    run_deliveries(runtime, due_now=True)  # the worker's periodic job, made due: only this campaign is a day old
    assert kept(runtime, tenant.tenant_id, done) | {"deliveries": 0, "attempts": 0} == {
        "source": False,
        "batches": 0,
        "captured": 3,
        "events": 3,
        "deliveries": 0,
        "attempts": 0,
    }
