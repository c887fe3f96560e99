"""One recipient's data: exported as JSON, or erased (GDPR and CCPA requests)."""

from typing import Annotated

from fastapi import APIRouter, Path, Request

from emailplatform.deps import RuntimeDep, SessionDep
from emailplatform.openapi import error_responses
from emailplatform.privacy import service
from emailplatform.privacy.schemas import RecipientErased, RecipientExport
from emailplatform.tenants.auth import TenantDep, needs

router = APIRouter(
    prefix="/api/v1/recipients",
    tags=["recipients"],
    responses=error_responses(401, 403, 422),
    dependencies=[needs("suppressions")],
)
EmailPath = Annotated[str, Path(max_length=320, description="The recipient's address.", examples=["ann@example.com"])]


@router.get(
    "/{email}/export",
    summary="Export a recipient's data",
    response_model=RecipientExport,
    responses=error_responses(404, descriptions={404: "Nothing about the address is kept in this tenant."}),
)
def export_recipient(email: EmailPath, session: SessionDep, runtime: RuntimeDep, tenant_id: TenantDep):
    """Everything this tenant keeps about the address: each message with its placeholder data, events, webhook
    deliveries and captured copy; its suppression; skipped rows that named it. 404 when nothing is kept."""
    return service.export(runtime.storage, session, tenant_id, email)


@router.delete("/{email}", summary="Erase a recipient", response_model=RecipientErased)
def erase_recipient(email: EmailPath, request: Request, session: SessionDep, runtime: RuntimeDep, tenant_id: TenantDep):
    """Remove the address's events, webhook delivery logs, captured messages and skipped-row reports; empty its
    rows in the stored recipients and batch files; keep its messages (the campaigns' counts) and its suppression
    only under the address's hash, so it stays suppressed. Recorded in the audit log (under the hash). Erasing
    again is harmless."""
    erased = service.erase(runtime.storage, session, tenant_id, email)
    request.state.audit_details = {"erased": erased.as_dict()}
    return RecipientErased(**erased.as_dict())
