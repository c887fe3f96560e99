"""Scopes: what an API key, a token or a client certificate may do, and what each route needs.

A credential holds `full` (everything), `read` (every read), `send` (what sending a campaign takes), or per area
`<area>:read` and `<area>:write` (write includes read). A router names its area once,
`APIRouter(..., dependencies=[needs("templates")])`: its GET and HEAD routes need `templates:read`, the others
`templates:write`; a route that only reads through a POST (a preview) says so with its own `needs(area, "read")`.
"""

import uuid
from dataclasses import dataclass
from typing import Literal

FULL, READ, SEND = "full", "read", "send"
AREAS = (
    "templates",
    "campaigns",
    "emails",
    "files",
    "webhooks",
    "domains",
    "suppressions",
    "analytics",
    "events",
    "tenant",
)
AREA_SCOPES = tuple(f"{area}:{access}" for area in AREAS for access in ("read", "write"))
SCOPES = (FULL, READ, SEND, *AREA_SCOPES)
SEND_GRANTS = frozenset(
    {"campaigns:read", "campaigns:write", "emails:read", "emails:write", "templates:read", "files:write"}
)
READ_METHODS = frozenset({"GET", "HEAD"})
Access = Literal["read", "write"]


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: its tenant, its scopes, and what its rate limit counts (`id`)."""

    tenant_id: uuid.UUID
    scopes: frozenset[str]
    id: str
    rate_limit_per_minute: int | None = None
    label: str | None = None  # what the audit log calls it: a key's name and prefix, a token's subject


@dataclass(frozen=True)
class Needs:
    """The scope a router's routes need: `<area>:read` for GET and HEAD, else `<area>:write`, unless `access`."""

    area: str
    access: Access | None = None

    def scope_for(self, methods: set[str]) -> str:
        access = self.access or ("read" if methods <= READ_METHODS else "write")
        return f"{self.area}:{access}"


def grants(held: frozenset[str], needed: str) -> bool:
    area, _, access = needed.partition(":")
    return bool(
        FULL in held
        or needed in held
        or (access == "read" and (READ in held or f"{area}:write" in held))
        or (SEND in held and needed in SEND_GRANTS)
    )


def covers(held: frozenset[str], wanted: frozenset[str]) -> bool:
    """Whether a credential holding `held` may hand out `wanted` (a new API key's scopes): never more than it has."""
    if FULL in held:
        return True
    return all(_granted_whole(held, scope) for scope in wanted)


def _granted_whole(held: frozenset[str], scope: str) -> bool:
    if scope == FULL:
        return False
    if scope == READ:
        return READ in held or all(grants(held, f"{area}:read") for area in AREAS)
    if scope == SEND:
        return SEND in held or all(grants(held, needed) for needed in SEND_GRANTS)
    return grants(held, scope)


def unknown(scopes: list[str]) -> list[str]:
    return [scope for scope in scopes if scope not in SCOPES]


def declared(dependencies) -> Needs | None:
    """The scope declaration of a route (its own, which comes after its router's), from its dependencies."""
    needs = [dep.dependency for dep in dependencies if isinstance(dep.dependency, Needs)]
    return needs[-1] if needs else None


@dataclass(frozen=True)
class Public:
    """The declaration of a route that takes no credential of the API (`reason`: what authorises it instead)."""

    reason: str

    def __call__(self) -> None:
        return None
