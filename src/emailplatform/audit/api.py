"""The audit log through the API: newest first, filtered by actor, action, object and time."""

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from emailplatform import audit_trail as service
from emailplatform.audit.schemas import AuditEntryOut
from emailplatform.deps import SessionDep
from emailplatform.models import AuditEntry
from emailplatform.openapi import error_responses
from emailplatform.pagination import Page, paginate
from emailplatform.tenants.auth import TenantDep, needs

router = APIRouter(
    prefix="/api/v1/audit", tags=["audit"], responses=error_responses(401, 403, 422), dependencies=[needs("tenant")]
)


@router.get("", summary="List the audit log", response_model=Page[AuditEntryOut])
def list_audit_entries(
    session: SessionDep,
    tenant_id: TenantDep,
    actor: Annotated[str | None, Query(max_length=320, description="An actor's id or label.")] = None,
    action: Annotated[str | None, Query(max_length=100, description="e.g. erase_recipient.")] = None,
    object_type: Annotated[str | None, Query(max_length=50, description="e.g. campaigns.")] = None,
    object_id: Annotated[str | None, Query(max_length=320, description="An id, or a recipient's address.")] = None,
    since: Annotated[AwareDatetime | None, Query(description="Entries at or after this time (with its zone).")] = None,
    until: Annotated[AwareDatetime | None, Query(description="Entries before this time (with its zone).")] = None,
    limit: int = 100,
    cursor: str | None = None,
):
    """Every change made to this tenant's objects through the API, the web UI and the CLI, newest first."""
    stmt = service.list_query(
        tenant_id,
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        since=since,
        until=until,
    )
    rows, next_cursor = paginate(session, stmt, (AuditEntry.id,), cursor=cursor, limit=limit, descending=True)
    return Page(items=[AuditEntryOut.model_validate(row) for row in rows], next_cursor=next_cursor)
