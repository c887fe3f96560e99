"""The tenant an API key acts for, and its settings: the default sender of campaigns that name none, checked
against the tenant's sending domains (so it lives here, not in tenants/, which every API imports for its auth)."""

from fastapi import APIRouter

from emailplatform.deps import RuntimeDep, SessionDep
from emailplatform.domains import service
from emailplatform.models import Tenant
from emailplatform.openapi import error_responses
from emailplatform.tenants import service as tenant_service
from emailplatform.tenants.auth import TenantDep, needs
from emailplatform.tenants.schemas import DefaultSender, TenantOut, TenantUpdate

router = APIRouter(
    prefix="/api/v1/tenant", tags=["tenant"], responses=error_responses(401, 422), dependencies=[needs("tenant")]
)


@router.get("", response_model=TenantOut, summary="The key's tenant and its settings")
def get_tenant(session: SessionDep, tenant_id: TenantDep):
    """The tenant this API key acts for, with its default sender."""
    return _tenant(tenant_service.get_tenant(session, tenant_id))


@router.put("", response_model=TenantOut, summary="Change the tenant's settings")
def update_tenant(body: TenantUpdate, session: SessionDep, runtime: RuntimeDep, tenant_id: TenantDep):
    """Set the default sender, used by every campaign created without `from` (or `null` to remove it). Its
    domain is checked as a campaign's sender is: refused (422, field `default_sender.email`) when the deployment
    sends only from verified domains and it is not one; else a warning says it is not verified."""
    sender = body.default_sender
    tenant, warning = service.set_default_sender(
        session, runtime.settings, tenant_id, str(sender.email) if sender else None, sender.name if sender else None
    )
    return _tenant(tenant, [warning] if warning else [])


def _tenant(tenant: Tenant, warnings: list[str] | None = None) -> TenantOut:
    sender = None
    if tenant.default_from_email:
        sender = DefaultSender(email=tenant.default_from_email, name=tenant.default_from_name)
    return TenantOut(
        tenant_id=tenant.id,
        name=tenant.name,
        default_sender=sender,
        created_at=tenant.created_at,
        warnings=warnings or [],
    )
