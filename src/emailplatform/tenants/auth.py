"""The API's authentication: every route under /api/v1 needs a valid API key and acts for its tenant.

The key comes in the X-API-Key header or as `Authorization: Bearer <key>` (what generated clients send); both are
declared as security schemes, so /docs has an Authorize button and the OpenAPI spec tells clients how to send it.
"""

import uuid
from typing import Annotated

from fastapi import Depends, Request, Response, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from emailplatform.audit import service as audit
from emailplatform.deps import RuntimeDep
from emailplatform.models import ApiKey
from emailplatform.ratelimits import deps as ratelimits
from emailplatform.runtime import Runtime
from emailplatform.tenants import service

API_KEY_HEADER = APIKeyHeader(
    name="X-API-Key", scheme_name="ApiKey", auto_error=False, description="An API key of your tenant."
)
BEARER = HTTPBearer(
    scheme_name="Bearer", auto_error=False, description="The same API key, as `Authorization: Bearer <key>`."
)

async def verified_api_key(
    request: Request,
    runtime: RuntimeDep,
    x_api_key: Annotated[str | None, Security(API_KEY_HEADER)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)],
) -> ApiKey:
    """The key, from the process's cache of keys verified in the last few seconds (without leaving the event
    loop), or else read in a session of its own: on SQLite a request takes the write lock only when its route
    starts to work, and a refused key never takes it. X-API-Key wins when both are sent. Refused keys are counted
    by client address."""
    plain = x_api_key or (bearer.credentials if bearer else None)
    cached = runtime.api_keys.get(service.hash_key(plain)) if plain else None
    return cached or await run_in_threadpool(_read_key, runtime, request, plain)


def _read_key(runtime: Runtime, request: Request, plain: str | None) -> ApiKey:
    with ratelimits.refused_keys_counted(runtime, request), runtime.db.session(write=False) as session:
        key = service.authenticate(session, plain)
    runtime.api_keys.put(key)
    return key


async def current_tenant_id(
    key: Annotated[ApiKey, Depends(verified_api_key)], runtime: RuntimeDep, request: Request, response: Response,
) -> uuid.UUID:
    """The key's tenant, once the request is within the key's and the tenant's rate limits (counted in memory
    on the event loop, or in Redis from the thread pool). The key is the request's actor in the audit log."""
    request.state.actor = audit.api_key_actor(key, request)
    if runtime.limiter.remote:
        await run_in_threadpool(ratelimits.limit_api_key, runtime, response, key)
    else:
        ratelimits.limit_api_key(runtime, response, key)
    return key.tenant_id


TenantDep = Annotated[uuid.UUID, Depends(current_tenant_id)]
