"""Where the rate limits meet HTTP: the rules each kind of request is held to, the RateLimit-* headers (IETF
draft names) and the 429 in the error shape."""

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import Request, Response

from emailplatform.errors import RateLimited, Unauthorized
from emailplatform.ratelimits.service import Quota, Rule, parse, per_minute
from emailplatform.runtime import Runtime
from emailplatform.scopes import Principal

WHAT = {
    "api-key": "too many requests with this API key",
    "tenant": "too many requests with this tenant's API keys together",
    "refused-key": "too many requests without a valid API key from your address",
    "sign-in-account": "too many sign-in attempts to this account",
    "sign-in-address": "too many sign-in attempts from your address",
    "tracking": "too many requests from your address",
}
WINDOWS = {1: "a second", 60: "a minute", 3600: "an hour", 86400: "a day"}


def limit_api_key(runtime: Runtime, response: Response, key: Principal) -> None:
    """Count a request of a verified key (or token) against its own limit and its tenant's; a 429 past either."""
    settings = runtime.settings
    key_limits = (
        per_minute(key.rate_limit_per_minute) if key.rate_limit_per_minute else parse(settings.rate_limit_api_key)
    )
    quota = runtime.limiter.hit(
        Rule("api-key", str(key.id), key_limits), Rule("tenant", str(key.tenant_id), parse(settings.rate_limit_tenant))
    )
    if quota is None:
        return
    if not quota.allowed:
        raise refusal(quota, field="X-API-Key")
    response.headers.update(headers(quota))


@contextmanager
def refused_keys_counted(runtime: Runtime, request: Request) -> Iterator[None]:
    """A request whose API key is refused counts against its client address: past the limit it gets a 429
    instead of the 401, so a flood without a valid key is held back by address."""
    try:
        yield
    except Unauthorized as exc:
        quota = runtime.limiter.hit(
            Rule("refused-key", client_address(request), parse(runtime.settings.rate_limit_refused_key))
        )
        if quota is not None and not quota.allowed:
            raise refusal(quota, field=exc.field) from exc
        raise


def limit_sign_in(runtime: Runtime, request: Request, workspace: str, email: str) -> None:
    """Count a sign-in attempt against its account and its address, before the password is checked (a
    password check costs the server more than anything a guesser sends); a 429 past either."""
    settings = runtime.settings
    account = f"{workspace.strip().lower()}/{email.strip().lower()}"
    quota = runtime.limiter.hit(
        Rule("sign-in-account", account, parse(settings.rate_limit_sign_in_account)),
        Rule("sign-in-address", client_address(request), parse(settings.rate_limit_sign_in_address)),
    )
    if quota is not None and not quota.allowed:
        raise refusal(quota, field="email")


def tracking_refusal(request: Request) -> RateLimited | None:
    """Count a tracking request (open, click, unsubscribe) against its client address; the refusal past it."""
    runtime: Runtime = request.app.state.runtime
    quota = runtime.limiter.hit(Rule("tracking", client_address(request), parse(runtime.settings.rate_limit_tracking)))
    return refusal(quota) if quota is not None and not quota.allowed else None


async def tracking_refusal_async(request: Request) -> RateLimited | None:
    """The same from an async route: Redis is asked from a thread, so a slow Redis never stalls the event loop."""
    if request.app.state.runtime.limiter.remote:
        return await asyncio.to_thread(tracking_refusal, request)
    return tracking_refusal(request)


def client_address(request: Request) -> str:
    """The client's address (uvicorn takes it from X-Forwarded-For when the proxy is trusted)."""
    return request.client.host if request.client else "unknown"


def headers(quota: Quota) -> dict[str, str]:
    return {
        "RateLimit-Limit": str(quota.limit),
        "RateLimit-Remaining": str(quota.remaining),
        "RateLimit-Reset": str(quota.reset_seconds),
        "RateLimit-Policy": f"{quota.limit};w={quota.window_seconds}",
    }


def refusal(quota: Quota, field: str | None = None) -> RateLimited:
    window = WINDOWS.get(quota.window_seconds, f"per {quota.window_seconds} seconds")
    message = (
        f"{WHAT.get(quota.scope, 'too many requests')}: {quota.limit} {window} at most; "
        f"try again in {quota.reset_seconds} second{'s' if quota.reset_seconds != 1 else ''}"
    )
    details = [
        {
            "reason": "rate_limited",
            "scope": quota.scope,
            "limit": quota.limit,
            "window_seconds": quota.window_seconds,
            "retry_after_seconds": quota.reset_seconds,
        }
    ]
    return RateLimited(message, field, details, headers=headers(quota) | {"Retry-After": str(quota.reset_seconds)})
