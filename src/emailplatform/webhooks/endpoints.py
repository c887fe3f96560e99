"""Webhook endpoints: the URLs a tenant registers, the event types each hears and the secrets that sign what is
sent to them; and the tenant's secret for campaign callbacks. What is sent is fanout.py's; how, deliveries.py's."""

import uuid
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from emailplatform.config import Settings
from emailplatform.db import get_for_tenant
from emailplatform.errors import Invalid
from emailplatform.models import CallbackSecret, WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint, utcnow
from emailplatform.webhooks import signing, ssrf

TRANSACTION_STATUS_CHANGED = "transaction.status_changed"
MESSAGE_EVENTS = ("sent", "delivered", "bounced", "complained", "opened", "clicked", "unsubscribed", "failed")
EVENT_TYPES = (TRANSACTION_STATUS_CHANGED, *(f"message.{name}" for name in MESSAGE_EVENTS))
SECRET_OVERLAP = timedelta(hours=24)


def check_url(url: str, settings: Settings, field: str = "callback_url") -> None:
    """Raise Invalid naming `field` unless webhooks may go to `url` (http(s), every address globally routable,
    or a host the deployment allows). It resolves the URL's name, which can take seconds: call it before the
    request's session runs its first statement, so no transaction (on SQLite, the write lock) is held meanwhile."""
    if len(url) > 2000:
        raise Invalid(f"{field} is longer than 2000 characters", field=field)
    try:
        ssrf.check_url(url, settings)
    except ssrf.RefusedDestination as exc:
        raise Invalid(f"{field} is refused: {exc}", field=field) from None


def create_endpoint(
    session: Session,
    settings: Settings,
    tenant_id: uuid.UUID,
    url: str,
    event_types: list[str],
    description: str | None,
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its secret, returned here and never again."""
    check_url(url, settings, field="url")
    endpoint = WebhookEndpoint(
        tenant_id=tenant_id,
        url=url,
        event_types=_checked_event_types(event_types),
        description=description,
        secret=signing.new_secret(),
    )
    session.add(endpoint)
    session.flush()
    return endpoint, endpoint.secret


def list_endpoints(session: Session, tenant_id: uuid.UUID) -> list[WebhookEndpoint]:
    stmt = select(WebhookEndpoint).where(WebhookEndpoint.tenant_id == tenant_id).order_by(WebhookEndpoint.created_at)
    return list(session.scalars(stmt))


def get_endpoint(session: Session, tenant_id: uuid.UUID, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    return get_for_tenant(
        session, WebhookEndpoint, endpoint_id, tenant_id, field="endpoint_id", what="webhook endpoint"
    )


def update_endpoint(
    session: Session, settings: Settings, tenant_id: uuid.UUID, endpoint_id: uuid.UUID, changes: dict
) -> WebhookEndpoint:
    """Change the url, event_types, description or enabled of an endpoint; enabling it forgets why it was disabled."""
    if "url" in changes:
        check_url(changes["url"], settings, field="url")
    endpoint = get_endpoint(session, tenant_id, endpoint_id)
    if "url" in changes:
        endpoint.url = changes["url"]
    if "event_types" in changes:
        endpoint.event_types = _checked_event_types(changes["event_types"])
    if "description" in changes:
        endpoint.description = changes["description"]
    if changes.get("enabled") is True and not endpoint.enabled:
        endpoint.enabled, endpoint.disabled_reason, endpoint.disabled_at, endpoint.failing_since = (
            True,
            None,
            None,
            None,
        )
    elif changes.get("enabled") is False and endpoint.enabled:
        disable(endpoint, "disabled by the tenant")
    session.flush()
    return endpoint


def delete_endpoint(session: Session, tenant_id: uuid.UUID, endpoint_id: uuid.UUID) -> None:
    """Delete an endpoint; its deliveries stay listed (with its URL), and pending ones end failed."""
    endpoint = get_endpoint(session, tenant_id, endpoint_id)
    now = utcnow()
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.status == WebhookDeliveryStatus.PENDING)
        .values(status=WebhookDeliveryStatus.FAILED, last_error="the endpoint was deleted", finished_at=now)
    )
    session.execute(update(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id).values(endpoint_id=None))
    session.delete(endpoint)
    session.flush()


def rotate_endpoint_secret(
    session: Session, tenant_id: uuid.UUID, endpoint_id: uuid.UUID
) -> tuple[WebhookEndpoint, str]:
    """A new secret, returned here and never again; the old one keeps signing beside it for 24 hours."""
    endpoint = get_endpoint(session, tenant_id, endpoint_id)
    return endpoint, _rotate(endpoint)


def rotate_callback_secret(session: Session, tenant_id: uuid.UUID) -> tuple[CallbackSecret, str]:
    """A new secret for campaign callbacks, returned here and never again (the old one signs for 24 hours more)."""
    holder = callback_secret(session, tenant_id)
    return holder, _rotate(holder)


def _rotate(holder: WebhookEndpoint | CallbackSecret) -> str:
    holder.previous_secret, holder.previous_secret_expires_at = holder.secret, utcnow() + SECRET_OVERLAP
    holder.secret = signing.new_secret()
    return holder.secret


def callback_secret(session: Session, tenant_id: uuid.UUID) -> CallbackSecret:
    holder = session.get(CallbackSecret, tenant_id)
    if holder is not None:
        return holder
    try:
        with session.begin_nested():
            holder = CallbackSecret(tenant_id=tenant_id, secret=signing.new_secret())
            session.add(holder)
    except IntegrityError:  # another session created it at the same moment
        holder = session.get_one(CallbackSecret, tenant_id, populate_existing=True)
    return holder


def _checked_event_types(event_types: list[str]) -> list[str]:
    unknown = sorted(set(event_types) - set(EVENT_TYPES))
    if unknown:
        raise Invalid(f"unknown event types {unknown}; known: {list(EVENT_TYPES)}", field="event_types")
    if not event_types:
        raise Invalid("an endpoint subscribes to at least one event type", field="event_types")
    return list(dict.fromkeys(event_types))


def disable(endpoint: WebhookEndpoint, reason: str) -> None:
    endpoint.enabled, endpoint.disabled_reason, endpoint.disabled_at = False, reason, utcnow()


def subscribed_endpoints(session: Session, tenant_id: uuid.UUID, event_type: str) -> list[WebhookEndpoint]:
    enabled = select(WebhookEndpoint).where(WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.enabled.is_(True))
    return [endpoint for endpoint in session.scalars(enabled) if event_type in endpoint.event_types]
