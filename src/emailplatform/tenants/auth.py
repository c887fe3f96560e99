"""The API's authentication: every route under /api/v1 needs a valid X-API-Key and acts for its tenant."""

import uuid
from typing import Annotated

from fastapi import Depends, Header, Request, Response

from emailplatform.deps import RuntimeDep
from emailplatform.models import ApiKey
from emailplatform.ratelimits import deps as ratelimits
from emailplatform.tenants import service


def verified_api_key(request: Request, runtime: RuntimeDep, x_api_key: Annotated[str | None, Header()] = None) -> ApiKey:
    """The key, read in a session of its own: on SQLite a request takes the write lock only when its route
    starts to work, and a refused key never takes it. Refused keys are counted by client address."""
    with ratelimits.refused_keys_counted(runtime, request), runtime.db.session(write=False) as session:
        return service.authenticate(session, x_api_key)


def current_tenant_id(key: Annotated[ApiKey, Depends(verified_api_key)], runtime: RuntimeDep, response: Response) -> uuid.UUID:
    """The key's tenant, once the request is within the key's and the tenant's rate limits."""
    ratelimits.limit_api_key(runtime, response, key)
    return key.tenant_id


TenantDep = Annotated[uuid.UUID, Depends(current_tenant_id)]
