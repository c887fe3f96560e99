import uuid
from typing import Literal

from fastapi import APIRouter

from emailplatform.deps import RuntimeDep, SessionDep
from emailplatform.models import WebhookAttempt, WebhookDelivery
from emailplatform.openapi import error_responses
from emailplatform.pagination import Page
from emailplatform.tenants.auth import TenantDep
from emailplatform.webhooks import service
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

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"], responses=error_responses(401, 422))


@router.post("/endpoints", response_model=EndpointWithSecret, status_code=201)
def create_endpoint(body: EndpointCreate, session: SessionDep, runtime: RuntimeDep, tenant_id: TenantDep):
    endpoint, secret = service.create_endpoint(
        session, runtime.settings, tenant_id, body.url, list(body.event_types), body.description
    )
    return EndpointWithSecret(**EndpointOut.model_validate(endpoint).model_dump(), secret=secret)


@router.get("/endpoints", response_model=list[EndpointOut])
def list_endpoints(session: SessionDep, tenant_id: TenantDep):
    return service.list_endpoints(session, tenant_id)


@router.get("/endpoints/{endpoint_id}", response_model=EndpointOut, responses=error_responses(404))
def get_endpoint(endpoint_id: uuid.UUID, session: SessionDep, tenant_id: TenantDep):
    return service.get_endpoint(session, tenant_id, endpoint_id)


@router.patch("/endpoints/{endpoint_id}", response_model=EndpointOut, responses=error_responses(404))
def update_endpoint(
    endpoint_id: uuid.UUID, body: EndpointUpdate, session: SessionDep, runtime: RuntimeDep, tenant_id: TenantDep
):
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    return service.update_endpoint(session, runtime.settings, tenant_id, endpoint_id, changes)


@router.delete("/endpoints/{endpoint_id}", status_code=204, responses=error_responses(404))
def delete_endpoint(endpoint_id: uuid.UUID, session: SessionDep, tenant_id: TenantDep):
    service.delete_endpoint(session, tenant_id, endpoint_id)


@router.post(
    "/endpoints/{endpoint_id}/rotate-secret", response_model=EndpointWithSecret, responses=error_responses(404)
)
def rotate_endpoint_secret(endpoint_id: uuid.UUID, session: SessionDep, tenant_id: TenantDep):
    endpoint, secret = service.rotate_endpoint_secret(session, tenant_id, endpoint_id)
    return EndpointWithSecret(**EndpointOut.model_validate(endpoint).model_dump(), secret=secret)


@router.post("/callback-secret/rotate", response_model=CallbackSecretOut)
def rotate_callback_secret(session: SessionDep, tenant_id: TenantDep):
    holder, secret = service.rotate_callback_secret(session, tenant_id)
    return CallbackSecretOut(secret=secret, previous_secret_expires_at=holder.previous_secret_expires_at)


@router.get("/deliveries", response_model=Page[DeliveryWithAttempts])
def list_deliveries(
    session: SessionDep,
    tenant_id: TenantDep,
    status: Literal["pending", "succeeded", "failed"] | None = None,
    endpoint_id: uuid.UUID | None = None,
    transaction_id: uuid.UUID | None = None,
    limit: int = 50,
    cursor: str | None = None,
):
    deliveries, attempts, next_cursor = service.list_deliveries(
        session, tenant_id, status=status, endpoint_id=endpoint_id, transaction_id=transaction_id,
        cursor=cursor, limit=limit,
    )
    return Page(items=[_with_attempts(d, attempts[d.id]) for d in deliveries], next_cursor=next_cursor)


@router.get("/deliveries/{delivery_id}", response_model=DeliveryWithAttempts, responses=error_responses(404))
def get_delivery(delivery_id: uuid.UUID, session: SessionDep, tenant_id: TenantDep):
    return _with_attempts(*service.get_delivery(session, tenant_id, delivery_id))


@router.post(
    "/deliveries/{delivery_id}/retry", response_model=DeliveryOut, status_code=202,
    responses=error_responses(404, 409),
)
def retry_delivery(delivery_id: uuid.UUID, session: SessionDep, tenant_id: TenantDep):
    return service.retry_delivery(session, tenant_id, delivery_id)


def _with_attempts(delivery: WebhookDelivery, attempts: list[WebhookAttempt]) -> DeliveryWithAttempts:
    return DeliveryWithAttempts(
        **DeliveryOut.model_validate(delivery).model_dump(),
        attempt_log=[AttemptOut.model_validate(attempt) for attempt in attempts],
    )
