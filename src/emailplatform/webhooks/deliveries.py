"""Webhook deliveries: one event for one destination; its id is the `webhook-id` of every attempt. Each attempt
is a `deliver_webhook` job; the delivery keeps its own schedule (RETRY_SCHEDULE_SECONDS) and re-enqueues itself.
A job names the attempts made before it, so a job that comes twice (a worker killed after the attempt was
recorded) does nothing the second time."""

import json
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, and_, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from emailplatform.db import get_for_tenant, rowcount
from emailplatform.errors import Conflict
from emailplatform.jobs import queue
from emailplatform.models import (
    CallbackSecret,
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    utcnow,
)
from emailplatform.pagination import paginate
from emailplatform.webhooks import signing
from emailplatform.webhooks.endpoints import disable
from emailplatform.webhooks.sender import Outcome

JOB_KIND = "deliver_webhook"
# Delays before attempts 2..10 (the Standard Webhooks example schedule): about three days in all.
RETRY_SCHEDULE_SECONDS = (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
RETRY_JITTER = 0.1
RETRY_AFTER_CAP_SECONDS = 86400.0
DISABLE_AFTER_FAILING = timedelta(days=5)
Deliveries = cast(Table, WebhookDelivery.__table__)


def list_deliveries(
    session: Session,
    tenant_id: uuid.UUID,
    *,
    status: str | None = None,
    endpoint_id: uuid.UUID | None = None,
    transaction_id: uuid.UUID | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[WebhookDelivery], dict[uuid.UUID, list[WebhookAttempt]], str | None]:
    """Deliveries, newest first, with every attempt of each; and the next page's cursor."""
    stmt = select(WebhookDelivery).where(WebhookDelivery.tenant_id == tenant_id)
    if status:
        stmt = stmt.where(WebhookDelivery.status == status)
    if endpoint_id:
        stmt = stmt.where(WebhookDelivery.endpoint_id == endpoint_id)
    if transaction_id:
        stmt = stmt.where(WebhookDelivery.transaction_id == transaction_id)
    keys = (WebhookDelivery.created_at, WebhookDelivery.id)
    deliveries, next_cursor = paginate(session, stmt, keys, cursor=cursor, limit=limit, descending=True)
    return deliveries, _attempts_of(session, [d.id for d in deliveries]), next_cursor


def get_delivery(
    session: Session, tenant_id: uuid.UUID, delivery_id: uuid.UUID
) -> tuple[WebhookDelivery, list[WebhookAttempt]]:
    delivery = _tenant_delivery(session, tenant_id, delivery_id)
    return delivery, _attempts_of(session, [delivery.id]).get(delivery.id, [])


def retry_delivery(session: Session, tenant_id: uuid.UUID, delivery_id: uuid.UUID) -> WebhookDelivery:
    """Send a finished delivery once more, with the same webhook-id."""
    delivery = _tenant_delivery(session, tenant_id, delivery_id)
    if delivery.status == WebhookDeliveryStatus.PENDING:
        raise Conflict("this delivery is still pending; it will be attempted on its schedule", field="delivery_id")
    if not delivery.callback:
        endpoint = session.get(WebhookEndpoint, delivery.endpoint_id) if delivery.endpoint_id else None
        if endpoint is None:
            raise Conflict("the endpoint of this delivery was deleted", field="delivery_id")
        if not endpoint.enabled:
            raise Conflict(
                f"the endpoint is disabled ({endpoint.disabled_reason}); enable it first", field="delivery_id"
            )
    now = utcnow()
    reopened = session.execute(  # conditional: of two retries at once, one reopens it and the other is refused
        update(Deliveries)
        .where(Deliveries.c.id == delivery.id, Deliveries.c.status != WebhookDeliveryStatus.PENDING)
        .values(status=WebhookDeliveryStatus.PENDING, next_attempt_at=now, finished_at=None)
    )
    if rowcount(reopened) != 1:
        raise Conflict("this delivery is already being sent again", field="delivery_id")
    enqueue_attempt(session, delivery.id, delivery.tenant_id, now, attempts_made=delivery.attempts, manual=True)
    session.refresh(delivery)
    return delivery


def _tenant_delivery(session: Session, tenant_id: uuid.UUID, delivery_id: uuid.UUID) -> WebhookDelivery:
    return get_for_tenant(
        session, WebhookDelivery, delivery_id, tenant_id, field="delivery_id", what="webhook delivery"
    )


def _attempts_of(session: Session, delivery_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[WebhookAttempt]]:
    result: dict[uuid.UUID, list[WebhookAttempt]] = {delivery_id: [] for delivery_id in delivery_ids}
    if delivery_ids:
        stmt = select(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(delivery_ids)).order_by(WebhookAttempt.id)
        for attempt in session.scalars(stmt):
            result[attempt.delivery_id].append(attempt)
    return result


def enqueue_attempt(
    session: Session,
    delivery_id: uuid.UUID,
    tenant_id: uuid.UUID,
    run_at: datetime,
    *,
    attempts_made: int,
    manual: bool = False,
) -> None:
    job_payload = {"delivery_id": str(delivery_id), "attempts_made": attempts_made}
    if manual:
        job_payload["manual"] = True
    queue.enqueue(session, JOB_KIND, job_payload, tenant_id=tenant_id, run_at=run_at, max_attempts=5)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


# --- attempts: what the deliver_webhook job does around the HTTP request ---------------------------------
# Each function takes the items of many concurrent jobs at once (see jobs.batching) and reads and writes them
# with a few statements in all, not a few a delivery.


@dataclass(frozen=True)
class PlannedAttempt:
    delivery_id: uuid.UUID
    tenant_id: uuid.UUID
    endpoint_id: uuid.UUID | None  # None: a campaign callback
    attempts: int  # made before this one
    url: str
    body: bytes
    signing_secrets: list[str]  # newest first

    @property
    def destination(self) -> str:
        """What the per-destination concurrency bound counts."""
        return f"endpoint:{self.endpoint_id}" if self.endpoint_id else f"callback:{self.url}"

    def headers(self, sent_at: datetime) -> dict[str, str]:
        return signing.signature_headers(str(self.delivery_id), sent_at, self.body, self.signing_secrets)


@dataclass(frozen=True)
class Attempt:
    """A request made for a planned attempt, and what came back."""

    plan: PlannedAttempt
    started_at: datetime
    headers: dict[str, str]
    outcome: Outcome
    manual: bool = False


def plan_attempts(session: Session, jobs: list[tuple[uuid.UUID, int | None]]) -> list[PlannedAttempt | str | None]:
    """Read-only, for each (delivery id, attempts made before the job): what to send when it is pending and has
    had that many attempts; None when it has ended or the job is stale; or, when it cannot be sent (its endpoint
    disabled or deleted), the reason to end it with (see end_deliveries)."""
    delivery_ids = [delivery_id for delivery_id, _ in jobs]
    endpoint, callback = WebhookEndpoint, CallbackSecret
    stmt = (
        select(
            WebhookDelivery.id,
            WebhookDelivery.tenant_id,
            WebhookDelivery.status,
            WebhookDelivery.attempts,
            WebhookDelivery.url,
            WebhookDelivery.payload,
            WebhookDelivery.endpoint_id,
            WebhookDelivery.callback,
            endpoint.enabled,
            endpoint.disabled_reason,
            func.coalesce(endpoint.secret, callback.secret).label("secret"),
            func.coalesce(endpoint.previous_secret, callback.previous_secret).label("previous_secret"),
            func.coalesce(endpoint.previous_secret_expires_at, callback.previous_secret_expires_at).label("expires"),
        )
        .outerjoin(endpoint, endpoint.id == WebhookDelivery.endpoint_id)
        .outerjoin(callback, and_(WebhookDelivery.callback.is_(True), callback.tenant_id == WebhookDelivery.tenant_id))
        .where(WebhookDelivery.id.in_(delivery_ids))
    )
    rows = {row.id: row for row in session.execute(stmt)}
    return [_plan(rows.get(delivery_id), attempts_made) for delivery_id, attempts_made in jobs]


def _plan(row, attempts_made: int | None) -> PlannedAttempt | str | None:
    if row is None or row.status != WebhookDeliveryStatus.PENDING:
        return None
    if attempts_made is not None and row.attempts != attempts_made:
        return None
    if not row.callback and row.endpoint_id is None:
        return "the endpoint was deleted"
    if not row.callback and not row.enabled:
        return f"the endpoint is disabled: {row.disabled_reason}"
    secrets = _valid_secrets(row.secret, row.previous_secret, row.expires)
    return PlannedAttempt(row.id, row.tenant_id, row.endpoint_id, row.attempts, row.url, _body(row.payload), secrets)


def end_deliveries(session: Session, ends: list[tuple[uuid.UUID, str]]) -> None:
    """End each (delivery id, reason) that is still pending: failed, for that reason."""
    now = utcnow()
    pending = and_(Deliveries.c.id == bindparam("b_id"), Deliveries.c.status == WebhookDeliveryStatus.PENDING)
    rows = [{"b_id": delivery_id} | _ended(WebhookDeliveryStatus.FAILED, reason, now) for delivery_id, reason in ends]
    session.execute(update(Deliveries).where(pending), rows)


def record_attempts(session: Session, attempts: list[Attempt]) -> None:
    """Log each attempt; then its delivery succeeds, is scheduled again, or fails; and its endpoint's health.
    The attempts apply in their order, as if recorded one by one."""
    now = utcnow()
    counts = {attempt.plan.delivery_id: attempt.plan.attempts for attempt in attempts}
    failing = _failing_endpoints(session, attempts)
    logged, ended, rescheduled = [], [], []
    for attempt in attempts:
        counts[attempt.plan.delivery_id] += 1
        number = counts[attempt.plan.delivery_id]
        logged.append(_attempt_row(attempt, number))
        changes = _delivery_changes(attempt, number, failing.get(attempt.plan.endpoint_id), now)
        if changes["next_attempt_at"] is None:
            ended.append(changes)
        else:
            rescheduled.append(changes)
            next_at = changes["next_attempt_at"]
            enqueue_attempt(session, attempt.plan.delivery_id, attempt.plan.tenant_id, next_at, attempts_made=number)
    session.execute(insert(cast(Table, WebhookAttempt.__table__)), logged)
    for rows in (ended, rescheduled):
        if rows:
            session.execute(update(Deliveries).where(Deliveries.c.id == bindparam("b_id")), rows)


def _delivery_changes(attempt: Attempt, number: int, endpoint: WebhookEndpoint | None, now: datetime) -> dict:
    """What attempt `number` changes in its delivery; and in its endpoint's health, when the endpoint is given."""
    outcome = attempt.outcome
    changes = {"b_id": attempt.plan.delivery_id, "attempts": number, "last_status_code": outcome.status_code}
    if outcome.succeeded:
        if endpoint is not None:
            endpoint.failing_since = None
        return changes | _ended(WebhookDeliveryStatus.SUCCEEDED, None, now)
    error = outcome.error or f"answered HTTP {outcome.status_code}"
    if endpoint is not None:
        _note_failure(endpoint, outcome)
    stopped = attempt.manual or outcome.status_code == 410 or (endpoint is not None and not endpoint.enabled)
    delay = None if stopped else _next_delay(number, outcome)
    if delay is None:
        return changes | _ended(WebhookDeliveryStatus.FAILED, error, now)
    return changes | {"last_error": error, "next_attempt_at": now + timedelta(seconds=delay)}


def _failing_endpoints(session: Session, attempts: list[Attempt]) -> dict[uuid.UUID | None, WebhookEndpoint]:
    """The endpoints with a failed attempt among these, loaded to note their health in order; those with only
    successes are healthy again at once, in one statement."""
    failing_ids = {attempt.plan.endpoint_id for attempt in attempts if not attempt.outcome.succeeded} - {None}
    healthy_ids = {attempt.plan.endpoint_id for attempt in attempts} - failing_ids - {None}
    if healthy_ids:
        session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id.in_(healthy_ids), WebhookEndpoint.failing_since.is_not(None))
            .values(failing_since=None)
            .execution_options(synchronize_session=False)
        )
    if not failing_ids:
        return {}
    return {e.id: e for e in session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.id.in_(failing_ids)))}


def _attempt_row(attempt: Attempt, number: int) -> dict:
    outcome = attempt.outcome
    return {
        "delivery_id": attempt.plan.delivery_id,
        "tenant_id": attempt.plan.tenant_id,
        "number": number,
        "request_url": attempt.plan.url,
        "request_headers": attempt.headers,
        "status_code": outcome.status_code,
        "response_excerpt": outcome.response_excerpt,
        "latency_ms": outcome.latency_ms,
        "error": outcome.error,
        "started_at": attempt.started_at,
    }


def _note_failure(endpoint: WebhookEndpoint, outcome: Outcome) -> None:
    now = utcnow()
    endpoint.failing_since = endpoint.failing_since or now
    if outcome.status_code == 410:
        disable(endpoint, "the endpoint answered 410 Gone")
    elif endpoint.enabled and now - endpoint.failing_since >= DISABLE_AFTER_FAILING:
        disable(endpoint, f"every delivery has failed since {iso(endpoint.failing_since)} (5 days)")


def _next_delay(attempts_made: int, outcome: Outcome) -> float | None:
    """Seconds until the next attempt, None when the schedule is over."""
    if attempts_made > len(RETRY_SCHEDULE_SECONDS):
        return None
    if outcome.retry_after_seconds is not None:
        return min(max(outcome.retry_after_seconds, 1.0), RETRY_AFTER_CAP_SECONDS)
    delay = RETRY_SCHEDULE_SECONDS[attempts_made - 1]
    return delay * random.uniform(1 - RETRY_JITTER, 1 + RETRY_JITTER)


def _ended(status: WebhookDeliveryStatus, error: str | None, now: datetime) -> dict:
    """The changes that end a delivery."""
    return {"status": status, "last_error": error, "next_attempt_at": None, "finished_at": now}


def _valid_secrets(secret: str, previous_secret: str | None, previous_expires_at: datetime | None) -> list[str]:
    if previous_secret and previous_expires_at and previous_expires_at > utcnow():
        return [secret, previous_secret]
    return [secret]


def _body(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
