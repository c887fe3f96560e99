"""The API's authentication: every route under /api/v1 needs a valid X-API-Key and acts for its tenant."""

import uuid
from typing import Annotated

from fastapi import Depends, Header

from emailplatform.deps import SessionDep
from emailplatform.tenants import service


def current_tenant_id(session: SessionDep, x_api_key: Annotated[str | None, Header()] = None) -> uuid.UUID:
    return service.authenticate(session, x_api_key).tenant_id


TenantDep = Annotated[uuid.UUID, Depends(current_tenant_id)]
