"""Webhook endpoints (create, edit, enable or disable, rotate the secret, delete) and their delivery log."""

import uuid
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from emailplatform.deps import RuntimeDep
from emailplatform.errors import Invalid
from emailplatform.models import WebhookDeliveryStatus
from emailplatform.ui.deps import DbDep, Editor, Viewer
from emailplatform.ui.views import UiRoute, render
from emailplatform.webhooks import deliveries as webhook_deliveries
from emailplatform.webhooks import endpoints as webhook_endpoints

router = APIRouter(route_class=UiRoute)
DELIVERIES_PAGE = 25
EVENT_TYPES = webhook_endpoints.EVENT_TYPES

Url = Annotated[str, Form(max_length=2000)]
EventTypes = Annotated[list[str] | None, Form()]
Description = Annotated[str, Form(max_length=500)]


@router.get("/ui/webhooks")
def endpoints_page(request: Request, session: DbDep, me: Viewer):
    return _list_page(request, session, me)


@router.post("/ui/webhooks")
def create_endpoint(
    request: Request,
    session: DbDep,
    runtime: RuntimeDep,
    me: Editor,
    url: Url,
    event_types: EventTypes = None,
    description: Description = "",
):
    try:
        endpoint, secret = webhook_endpoints.create_endpoint(
            session, runtime.settings, me.tenant_id, url.strip(), event_types or [], description.strip() or None
        )
    except Invalid as exc:
        session.rollback()
        typed = {"url": url, "event_types": event_types or [], "description": description}
        return _list_page(request, session, me, error=exc, typed=typed, status_code=exc.status_code)
    return _list_page(request, session, me, new_secret=(endpoint, secret))


@router.get("/ui/webhooks/deliveries")
def deliveries_page(
    request: Request, session: DbDep, me: Viewer, status: str = "", endpoint: str = "", cursor: str | None = None
):
    status = status if status in set(WebhookDeliveryStatus) else ""
    endpoint_id = _optional_uuid(endpoint)
    deliveries, attempts, next_cursor = webhook_deliveries.list_deliveries(
        session, me.tenant_id, status=status or None, endpoint_id=endpoint_id, cursor=cursor, limit=DELIVERIES_PAGE
    )
    endpoints = webhook_endpoints.list_endpoints(session, me.tenant_id)
    return render(
        request,
        "settings/webhook_deliveries.html",
        deliveries=deliveries,
        attempts=attempts,
        next_cursor=next_cursor,
        status=status,
        statuses=list(WebhookDeliveryStatus),
        endpoints=endpoints,
        endpoint_id=endpoint_id,
        filters=urlencode({"status": status, "endpoint": endpoint_id or ""}),
    )


@router.post("/ui/webhooks/deliveries/{delivery_id}/retry")
def retry_delivery(session: DbDep, me: Editor, delivery_id: uuid.UUID, back: Annotated[str, Form()] = ""):
    webhook_deliveries.retry_delivery(session, me.tenant_id, delivery_id)
    target = back if back.startswith("/ui/webhooks") else "/ui/webhooks/deliveries"
    return RedirectResponse(target, status_code=303)


@router.get("/ui/webhooks/{endpoint_id}")
def endpoint_page(request: Request, session: DbDep, me: Viewer, endpoint_id: uuid.UUID, saved: str = ""):
    endpoint = webhook_endpoints.get_endpoint(session, me.tenant_id, endpoint_id)
    return _endpoint_page(request, session, me, endpoint, done=SAVED.get(saved))


@router.post("/ui/webhooks/{endpoint_id}")
def update_endpoint(
    request: Request,
    session: DbDep,
    runtime: RuntimeDep,
    me: Editor,
    endpoint_id: uuid.UUID,
    url: Url,
    event_types: EventTypes = None,
    description: Description = "",
):
    changes = {"url": url.strip(), "event_types": event_types or [], "description": description.strip() or None}
    try:
        webhook_endpoints.update_endpoint(session, runtime.settings, me.tenant_id, endpoint_id, changes)
    except Invalid as exc:
        session.rollback()
        endpoint = webhook_endpoints.get_endpoint(session, me.tenant_id, endpoint_id)
        return _endpoint_page(request, session, me, endpoint, error=exc, typed=changes, status_code=exc.status_code)
    return RedirectResponse(f"/ui/webhooks/{endpoint_id}?saved=changes", status_code=303)


@router.post("/ui/webhooks/{endpoint_id}/enabled")
def set_enabled(
    session: DbDep, runtime: RuntimeDep, me: Editor, endpoint_id: uuid.UUID, enabled: Annotated[bool, Form()]
):
    webhook_endpoints.update_endpoint(session, runtime.settings, me.tenant_id, endpoint_id, {"enabled": enabled})
    return RedirectResponse(f"/ui/webhooks/{endpoint_id}?saved={'enabled' if enabled else 'disabled'}", 303)


@router.post("/ui/webhooks/{endpoint_id}/rotate-secret")
def rotate_secret(request: Request, session: DbDep, me: Editor, endpoint_id: uuid.UUID):
    endpoint, secret = webhook_endpoints.rotate_endpoint_secret(session, me.tenant_id, endpoint_id)
    return _endpoint_page(request, session, me, endpoint, new_secret=secret)


@router.post("/ui/webhooks/{endpoint_id}/delete")
def delete_endpoint(session: DbDep, me: Editor, endpoint_id: uuid.UUID):
    webhook_endpoints.delete_endpoint(session, me.tenant_id, endpoint_id)
    return RedirectResponse("/ui/webhooks", status_code=303)


SAVED = {
    "changes": "Saved.",
    "enabled": "Enabled: new events are delivered to it again.",
    "disabled": "Disabled: no event is delivered to it until you enable it.",
}


def _list_page(
    request: Request,
    session,
    me,
    *,
    new_secret=None,
    error: Invalid | None = None,
    typed: dict | None = None,
    status_code: int = 200,
):
    return render(
        request,
        "settings/webhooks.html",
        status_code=status_code,
        endpoints=webhook_endpoints.list_endpoints(session, me.tenant_id),
        event_types=EVENT_TYPES,
        new_secret=new_secret,
        error=error,
        typed=typed or {"url": "", "event_types": [], "description": ""},
    )


def _endpoint_page(
    request: Request,
    session,
    me,
    endpoint,
    *,
    new_secret: str | None = None,
    done: str | None = None,
    error: Invalid | None = None,
    typed: dict | None = None,
    status_code: int = 200,
):
    deliveries, attempts, _ = webhook_deliveries.list_deliveries(
        session, me.tenant_id, endpoint_id=endpoint.id, cursor=None, limit=10
    )
    typed = typed or {"url": endpoint.url, "event_types": endpoint.event_types, "description": endpoint.description}
    return render(
        request,
        "settings/webhook.html",
        status_code=status_code,
        endpoint=endpoint,
        event_types=EVENT_TYPES,
        typed=typed,
        new_secret=new_secret,
        done=done,
        error=error,
        deliveries=deliveries,
        attempts=attempts,
    )


def _optional_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        raise Invalid("choose an endpoint from the list", field="endpoint") from None
