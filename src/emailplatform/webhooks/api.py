import uuid
from typing import Literal

from fastapi import APIRouter

from emailplatform.deps import RuntimeDep, SessionDep
from emailplatform.models import WebhookAttempt, WebhookDelivery
from emailplatform.openapi import error_responses
from emailplatform.pagination import Page
from emailplatform.tenants.auth import TenantDep, needs
from emailplatform.webhooks import deliveries as webhook_deliveries
from emailplatform.webhooks import endpoints as webhook_endpoints
from emailplatform.webhooks.schemas import (
    AttemptOut,
    CallbackSecretOut,
    DeliveryOut,
    DeliveryWithAttempts,
    EndpointCreate,
    EndpointOut,
    EndpointUpdate,
    EndpointWithSecret,
)

router = APIRouter(
    prefix="/api/v1/webhooks", tags=["webhooks"], responses=error_responses(401, 422), dependencies=[needs("webhooks")]
)


@router.post("/endpoints", summary="Create a webhook endpoint", response_model=EndpointWithSecret, status_code=201)
def create_endpoint(body: EndpointCreate, session: SessionDep, runtime: RuntimeDep, tenant_id: TenantDep):
    """Calls to this URL for the event types given, each signed (Standard Webhooks) with the `secret` of the answer,
    shown this once. The URL must resolve to public addresses."""
    endpoint, secret = webhook_endpoints.create_endpoint(
        session, runtime.settings, tenant_id, body.url, list(body.event_types), body.description
    )
    return EndpointWithSecret(**EndpointOut.model_validate(endpoint).model_dump(), secret=secret)


@router.get("/endpoints", summary="List webhook endpoints", response_model=list[EndpointOut])
def list_endpoints(session: SessionDep, tenant_id: TenantDep):
    """The tenant's webhook endpoints, with what they subscribe to and whether they are enabled."""
    return webhook_endpoints.list_endpoints(session, tenant_id)


@router.get(
    "/endpoints/{endpoint_id}",
    response_model=EndpointOut,
    responses=error_responses(404),
    summary="Get a webhook endpoint",
)
def get_endpoint(endpoint_id: uuid.UUID, session: SessionDep, tenant_id: TenantDep):
    """One endpoint; an endpoint disabled after failing says why in `disabled_reason`."""
    return webhook_endpoints.get_endpoint(session, tenant_id, endpoint_id)


@router.patch(
    "/endpoints/{endpoint_id}",
    response_model=EndpointOut,
    responses=error_responses(404),
    summary="Change a webhook endpoint",
)
def update_endpoint(
    endpoint_id: uuid.UUID, body: EndpointUpdate, session: SessionDep, runtime: RuntimeDep, tenant_id: TenantDep
):
    """Change the URL, the event types or the description; `enabled: true` enables a disabled endpoint again. Fields
    left out stay as they are."""
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    return webhook_endpoints.update_endpoint(session, runtime.settings, tenant_id, endpoint_id, changes)


@router.delete(
    "/endpoints/{endpoint_id}",
    status_code=204,
    responses=error_responses(404),
    summary="Delete a webhook endpoint",
)
def delete_endpoint(endpoint_id: uuid.UUID, session: SessionDep, tenant_id: TenantDep):
    """No more calls go to it; its deliveries stay in the log."""
    webhook_endpoints.delete_endpoint(session, tenant_id, endpoint_id)


@router.post(
    "/endpoints/{endpoint_id}/rotate-secret",
    response_model=EndpointWithSecret,
    responses=error_responses(404),
    summary="Rotate an endpoint's secret",
)
def rotate_endpoint_secret(endpoint_id: uuid.UUID, session: SessionDep, tenant_id: TenantDep):
    """A new signing secret, shown this once; the old one keeps signing beside it for a day, until
    `previous_secret_expires_at`, so receivers can switch without missing calls."""
    endpoint, secret = webhook_endpoints.rotate_endpoint_secret(session, tenant_id, endpoint_id)
    return EndpointWithSecret(**EndpointOut.model_validate(endpoint).model_dump(), secret=secret)


@router.post("/callback-secret/rotate", summary="Rotate the callback secret", response_model=CallbackSecretOut)
def rotate_callback_secret(session: SessionDep, tenant_id: TenantDep):
    """A new secret for the calls to campaigns' `callback_url`, shown this once; the old one signs beside it until
    `previous_secret_expires_at`."""
    holder, secret = webhook_endpoints.rotate_callback_secret(session, tenant_id)
    return CallbackSecretOut(secret=secret, previous_secret_expires_at=holder.previous_secret_expires_at)


@router.get("/deliveries", summary="List webhook deliveries", response_model=Page[DeliveryWithAttempts])
def list_deliveries(
    session: SessionDep,
    tenant_id: TenantDep,
    status: Literal["pending", "succeeded", "failed"] | None = None,
    endpoint_id: uuid.UUID | None = None,
    transaction_id: uuid.UUID | None = None,
    limit: int = 50,
    cursor: str | None = None,
):
    """Every call made or to be made, newest first, with each attempt's request and answer; filter by `status`,
    `endpoint_id` or `transaction_id`."""
    deliveries, attempts, next_cursor = webhook_deliveries.list_deliveries(
        session,
        tenant_id,
        status=status,
        endpoint_id=endpoint_id,
        transaction_id=transaction_id,
        cursor=cursor,
        limit=limit,
    )
    return Page(items=[_with_attempts(d, attempts[d.id]) for d in deliveries], next_cursor=next_cursor)


@router.get(
    "/deliveries/{delivery_id}",
    response_model=DeliveryWithAttempts,
    responses=error_responses(404),
    summary="Get a webhook delivery",
)
def get_delivery(delivery_id: uuid.UUID, session: SessionDep, tenant_id: TenantDep):
    """One delivery with the log of its attempts."""
    return _with_attempts(*webhook_deliveries.get_delivery(session, tenant_id, delivery_id))


@router.post(
    "/deliveries/{delivery_id}/retry",
    response_model=DeliveryOut,
    status_code=202,
    responses=error_responses(404, 409),
    summary="Retry a webhook delivery",
)
def retry_delivery(delivery_id: uuid.UUID, session: SessionDep, tenant_id: TenantDep):
    """Send a failed delivery again now (202: it is queued). A delivery still pending, or whose endpoint is deleted or
    disabled, answers 409."""
    return webhook_deliveries.retry_delivery(session, tenant_id, delivery_id)


def _with_attempts(delivery: WebhookDelivery, attempts: list[WebhookAttempt]) -> DeliveryWithAttempts:
    return DeliveryWithAttempts(
        **DeliveryOut.model_validate(delivery).model_dump(),
        attempt_log=[AttemptOut.model_validate(attempt) for attempt in attempts],
    )
