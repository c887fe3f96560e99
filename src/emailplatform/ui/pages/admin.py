"""API keys, the capture transport's outbox, and the work queue's jobs."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from emailplatform import scopes as scope_names
from emailplatform.deps import RuntimeDep
from emailplatform.errors import NotFound
from emailplatform.jobs import queue
from emailplatform.jobs.schemas import JobId
from emailplatform.models import JobState
from emailplatform.sending import outbox
from emailplatform.tenants import service as tenant_service
from emailplatform.ui.deps import Admin, DbDep, Editor, Viewer
from emailplatform.ui.views import UiRoute, render

router = APIRouter(route_class=UiRoute)
PAGE_SIZE = 50
WHOLE_SCOPES = (
    (scope_names.FULL, "everything"),
    (scope_names.SEND, "what sending takes: campaigns, emails, reading templates, uploading files"),
    (scope_names.READ, "every read, no change"),
)


@router.get("/ui/api-keys")
def api_keys_page(request: Request, session: DbDep, me: Admin):
    return _api_keys(request, session, me.tenant_id, new_key=None)


@router.post("/ui/api-keys")
def create_api_key(
    request: Request,
    session: DbDep,
    me: Admin,
    name: Annotated[str, Form(min_length=1, max_length=100)],
    scopes: Annotated[list[str], Form()] = [],
    client_certificate: Annotated[str, Form(max_length=500)] = "",
):
    """A new key with the scopes ticked (none ticked: full), bound to a client certificate if one is named."""
    key, plain = tenant_service.create_api_key(
        session, me.tenant_id, name, scopes=scopes, client_certificate=client_certificate.strip() or None
    )
    return _api_keys(request, session, me.tenant_id, new_key=(key, plain))


def _api_keys(request: Request, session, tenant_id: uuid.UUID, new_key):
    keys = tenant_service.list_api_keys(session, tenant_id)
    return render(
        request, "admin/api_keys.html", keys=keys, new_key=new_key, whole_scopes=WHOLE_SCOPES, areas=scope_names.AREAS
    )


@router.post("/ui/api-keys/{key_id}/revoke")
def revoke_api_key(session: DbDep, runtime: RuntimeDep, me: Admin, key_id: uuid.UUID):
    key = tenant_service.revoke_api_key(session, me.tenant_id, key_id)
    runtime.api_keys.forget_after_commit(session, key)
    return RedirectResponse("/ui/api-keys", status_code=303)


@router.get("/ui/outbox")
def outbox_page(request: Request, session: DbDep, runtime: RuntimeDep, me: Viewer, cursor: str | None = None):
    items, next_cursor = outbox.list_captured(session, runtime.storage, me.tenant_id, limit=PAGE_SIZE, cursor=cursor)
    return render(
        request, "admin/outbox.html", items=items, next_cursor=next_cursor, transport=runtime.settings.transport
    )


@router.get("/ui/outbox/{message_id}")
def outbox_message_page(request: Request, runtime: RuntimeDep, me: Viewer, message_id: uuid.UUID):
    message = outbox.captured_message(runtime.storage, me.tenant_id, message_id)
    if message is None:
        raise NotFound("this message is not in your outbox", field="message_id")
    return render(
        request,
        "admin/outbox_message.html",
        message_id=message_id,
        headers=[(name, str(value)) for name, value in message.items()],
        html=outbox.body(message, "html"),
        text=outbox.body(message, "plain"),
    )


@router.get("/ui/jobs")
def jobs_page(request: Request, session: DbDep, me: Viewer, state: str = "dead", cursor: str | None = None):
    if state not in {s.value for s in JobState}:
        state = JobState.DEAD
    rows, next_cursor = queue.page_of_jobs(session, me.tenant_id, state=state, cursor=cursor, limit=PAGE_SIZE)
    return render(request, "admin/jobs.html", jobs=rows, next_cursor=next_cursor, state=state, states=list(JobState))


@router.post("/ui/jobs/{job_id}/retry")
def retry_job(session: DbDep, me: Editor, job_id: JobId):
    queue.retry_dead(session, job_id, me.tenant_id)
    return RedirectResponse("/ui/jobs?state=dead", status_code=303)
