import uuid

from fastapi import APIRouter

from emailplatform import scopes
from emailplatform.deps import RuntimeDep, SessionDep
from emailplatform.errors import Forbidden
from emailplatform.openapi import error_responses
from emailplatform.tenants import service
from emailplatform.tenants.auth import PrincipalDep, TenantDep, needs
from emailplatform.tenants.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut

router = APIRouter(
    prefix="/api/v1/api-keys", tags=["api keys"], responses=error_responses(401), dependencies=[needs("tenant")]
)


@router.get("", summary="List API keys", response_model=list[ApiKeyOut])
def list_api_keys(session: SessionDep, tenant_id: TenantDep):
    """The tenant's API keys, revoked ones too; a key itself is never shown again, only its prefix."""
    return service.list_api_keys(session, tenant_id)


@router.post(
    "",
    response_model=ApiKeyCreated,
    status_code=201,
    responses=error_responses(403, 409, 422),
    summary="Create an API key",
)
def create_api_key(body: ApiKeyCreate, session: SessionDep, tenant_id: TenantDep, principal: PrincipalDep):
    """A new key for this tenant, with the scopes asked for (default `full`): never more than the credential that
    creates it holds (403, field `scopes`, otherwise). The answer holds the key itself, this once: keep it."""
    if not scopes.covers(principal.scopes, frozenset(body.scopes)):
        raise Forbidden("a key cannot be given scopes its creator does not have", field="scopes")
    key, plain = service.create_api_key(
        session, tenant_id, body.name, body.rate_limit_per_minute, list(body.scopes), body.client_certificate
    )
    return ApiKeyCreated(**ApiKeyOut.model_validate(key).model_dump(), key=plain)


@router.delete("/{key_id}", summary="Revoke an API key", response_model=ApiKeyOut, responses=error_responses(404, 422))
def revoke_api_key(key_id: uuid.UUID, session: SessionDep, runtime: RuntimeDep, tenant_id: TenantDep):
    """The key stops working at once on this server; API processes elsewhere trust a key they verified for a few
    seconds more (`api_key_cache_seconds`). Revoking a revoked key changes nothing."""
    key = service.revoke_api_key(session, tenant_id, key_id)
    runtime.api_keys.forget_after_commit(session, key)
    return key
