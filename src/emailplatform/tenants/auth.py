"""The API's authentication: every route under /api/v1 needs a valid X-API-Key and acts for its tenant."""

import uuid
from typing import Annotated

from fastapi import Depends, Header

from emailplatform.deps import RuntimeDep
from emailplatform.tenants import service


def current_tenant_id(runtime: RuntimeDep, x_api_key: Annotated[str | None, Header()] = None) -> uuid.UUID:
    """The key's tenant, read in a session of its own: on SQLite a request takes the write lock only when its
    route starts to work, and a refused key never takes it."""
    with runtime.db.session(write=False) as session:
        return service.authenticate(session, x_api_key).tenant_id


TenantDep = Annotated[uuid.UUID, Depends(current_tenant_id)]
