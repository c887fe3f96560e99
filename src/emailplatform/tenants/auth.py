"""The API's authentication: every route under /api/v1 needs an API key, or a bearer token of the configured
OAuth 2.0 / OpenID Connect issuer, and acts for its tenant within its scopes.

The key comes in the X-API-Key header or as `Authorization: Bearer <key>` (what generated clients send); a token
(a JWT) as `Authorization: Bearer <token>`. Both are declared as security schemes, so /docs has an Authorize button
and the OpenAPI spec tells clients how to send them. What each route needs, its router declares: `needs(area)`.
"""

import uuid
from typing import Annotated

from cryptography import x509
from fastapi import Depends, Request, Response, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from emailplatform import audit_trail as audit
from emailplatform import scopes
from emailplatform.deps import RuntimeDep
from emailplatform.errors import Forbidden, Unauthorized
from emailplatform.models import ApiKey
from emailplatform.ratelimits import deps as ratelimits
from emailplatform.runtime import Runtime
from emailplatform.scopes import Principal
from emailplatform.tenants import certificates, service, tokens

API_KEY_HEADER = APIKeyHeader(
    name="X-API-Key", scheme_name="ApiKey", auto_error=False, description="An API key of your tenant."
)
BEARER = HTTPBearer(
    scheme_name="Bearer",
    auto_error=False,
    description="The same API key, as `Authorization: Bearer <key>`; or an access token (a JWT) of the deployment's "
    "OAuth 2.0 / OpenID Connect issuer, when one is configured.",
)


async def current_principal(
    request: Request,
    runtime: RuntimeDep,
    x_api_key: Annotated[str | None, Security(API_KEY_HEADER)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)],
) -> Principal:
    """Who the request acts as. An API key comes from the process's cache of keys verified in the last few seconds
    (without leaving the event loop), or else is read in a session of its own: on SQLite a request takes the write
    lock only when its route starts to work, and a refused key never takes it. X-API-Key wins when both are sent;
    a bearer credential with the dots of a JWT is a token; with neither, a client certificate acts as the key bound
    to it (tenants/certificates.py). Refused credentials are counted by client address."""
    plain = x_api_key or (bearer.credentials if bearer else None)
    if plain and not x_api_key and tokens.looks_like_jwt(plain):
        return await run_in_threadpool(_read_token, runtime, request, plain)
    certificate = None if plain else certificates.presented(request, runtime.settings)
    if certificate is not None:
        return key_principal(await run_in_threadpool(_read_certificate_key, runtime, request, certificate))
    key = runtime.api_keys.get(service.hash_key(plain)) if plain else None
    if key is None:
        key = await run_in_threadpool(_read_key, runtime, request, plain)
    return key_principal(key)


def _read_key(runtime: Runtime, request: Request, plain: str | None) -> ApiKey:
    with ratelimits.refused_keys_counted(runtime, request), runtime.db.session(write=False) as session:
        key = service.authenticate(session, plain)
    runtime.api_keys.put(key)
    return key


def _read_certificate_key(runtime: Runtime, request: Request, certificate: x509.Certificate) -> ApiKey:
    with ratelimits.refused_keys_counted(runtime, request), runtime.db.session(write=False) as session:
        return certificates.find_key(session, certificate)


def _read_token(runtime: Runtime, request: Request, token: str) -> Principal:
    with ratelimits.refused_keys_counted(runtime, request):
        if runtime.oidc is None:
            raise Unauthorized(
                "the bearer credential is a JWT, and this deployment accepts no tokens (no oidc_issuer): send an "
                "API key",
                field=tokens.FIELD,
            )
        claims = runtime.oidc.verify(token)
        with runtime.db.session(write=False) as session:
            return tokens.principal(session, runtime.settings, claims)


def key_principal(key: ApiKey) -> Principal:
    return Principal(
        tenant_id=key.tenant_id,
        scopes=frozenset(key.scopes),
        id=str(key.id),
        rate_limit_per_minute=key.rate_limit_per_minute,
        label=f"{key.name} ({key.prefix}…)",
    )


PrincipalDep = Annotated[Principal, Depends(current_principal)]


async def current_tenant_id(
    principal: PrincipalDep, runtime: RuntimeDep, request: Request, response: Response
) -> uuid.UUID:
    """The credential's tenant, once the request is within the credential's and the tenant's rate limits (counted
    in memory on the event loop, or in Redis from the thread pool). The credential is the request's actor in the
    audit log."""
    request.state.actor = audit.principal_actor(principal, request)
    if runtime.limiter.remote:
        await run_in_threadpool(ratelimits.limit_api_key, runtime, response, principal)
    else:
        ratelimits.limit_api_key(runtime, response, principal)
    return principal.tenant_id


TenantDep = Annotated[uuid.UUID, Depends(current_tenant_id)]


class ScopeCheck(scopes.Needs):
    async def __call__(self, request: Request, principal: PrincipalDep) -> None:
        route = request.scope["route"]
        needed = (scopes.declared(route.dependencies) or self).scope_for(route.methods)
        if not scopes.grants(principal.scopes, needed):
            held = ", ".join(sorted(principal.scopes)) or "none"
            raise Forbidden(
                f"this route needs the scope {needed!r}, which the credential does not have (it has: {held})",
                field="scope",
                details=[{"field": "scope", "reason": "missing", "scope": needed}],
            )


def needs(area: str, access: scopes.Access | None = None):
    """The scope declaration of a router (`dependencies=[needs("templates")]`) or of one route that differs."""
    if area not in scopes.AREAS:
        raise ValueError(f"no area {area!r}; the areas are {scopes.AREAS}")
    return Depends(ScopeCheck(area, access))


def public(reason: str):
    """The declaration of a route under /api/v1 that takes no credential of the API: what authorises it instead."""
    return Depends(scopes.Public(reason))
