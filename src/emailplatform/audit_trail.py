"""The audit log: who changed what, when, and how it ended, for the tenant to read; append-only.

Every request that changes something records itself in one place: the session dependencies of the API and the UI
call `record_request` once the route has succeeded, on the route's own session, so the change and its entry are
committed together or not at all. The actor is whoever the authentication put on `request.state` (`actor`, or the
UI's signed-in `user`). The CLI records its changes with `record` and `cli_actor`."""

import getpass
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime

from fastapi import Request
from sqlalchemy import Select, delete, event, or_, select
from sqlalchemy.orm import Session

from emailplatform.address_hashing import address_hash
from emailplatform.db import rowcount
from emailplatform.models import ApiKey, AuditEntry, IdempotencyKey, Job, User
from emailplatform.scopes import Principal

TRACKED = "audit_track"
CREATED = "audit_created"
ROLLED_BACK = "audit_rolled_back"
NOT_OBJECTS = (AuditEntry, Job, IdempotencyKey)  # rows a change writes beside the object it is about
SUCCEEDED = "succeeded"


@dataclass(frozen=True)
class Actor:
    tenant_id: uuid.UUID
    type: str  # user | api_key | token | cli
    id: str
    label: str | None = None
    address: str | None = None


def api_key_actor(key: ApiKey, request: Request) -> Actor:
    return Actor(key.tenant_id, "api_key", str(key.id), f"{key.name} ({key.prefix}…)", _address(request))


def principal_actor(principal: Principal, request: Request) -> Actor:
    """An API key, or a bearer token (`id` "token:<subject>"), as the audit log names it."""
    kind = "token" if principal.id.startswith("token:") else "api_key"
    return Actor(principal.tenant_id, kind, principal.id, principal.label or principal.id, _address(request))


def user_actor(user: User, request: Request) -> Actor:
    return Actor(user.tenant_id, "user", str(user.id), user.email, _address(request))


def cli_actor(tenant_id: uuid.UUID) -> Actor:
    """Whoever runs the command, as the operating system knows them, on this host."""
    return Actor(tenant_id, "cli", getpass.getuser(), "emailplatform command", socket.gethostname())


def _address(request: Request) -> str | None:
    return request.client.host if request.client else None


def request_actor(request: Request) -> Actor | None:
    actor = getattr(request.state, "actor", None)
    user = getattr(request.state, "user", None)
    return actor or (user_actor(user, request) if user is not None else None)


def track(session: Session) -> None:
    """Remember the first object this session creates (the object of a request that makes one), and whether
    the route rolled it back: its transaction is begun now (no connection is taken until a statement runs), so
    even a rollback before any statement is seen."""
    session.info[TRACKED] = True
    session.begin()


@event.listens_for(Session, "after_flush")
def _remember_created(session: Session, _context) -> None:
    if not session.info.get(TRACKED) or CREATED in session.info:
        return
    for obj in session.new:
        if not isinstance(obj, NOT_OBJECTS) and hasattr(obj, "id"):
            session.info[CREATED] = str(obj.id)
            return


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session: Session, previous) -> None:
    """A route that rolled its session back (a form shown again with its error) changed nothing; a savepoint
    rolled back is a step of a route that goes on."""
    if session.info.get(TRACKED) and not previous.nested:
        session.info[ROLLED_BACK] = True


def failed(request: Request) -> None:
    """The request failed and was answered in words (a page's error): it changed nothing, it has no entry."""
    request.state.audit_failed = True


def record(
    session: Session,
    actor: Actor,
    action: str,
    *,
    object_type: str | None,
    object_id: str | None,
    outcome: str = SUCCEEDED,
    route: str | None = None,
    details: dict | None = None,
) -> None:
    session.add(
        AuditEntry(
            tenant_id=actor.tenant_id,
            actor_type=actor.type,
            actor_id=actor.id,
            actor_label=actor.label,
            client_address=actor.address,
            action=action,
            route=route,
            object_type=object_type,
            object_id=object_id,
            outcome=outcome,
            details=details or {},
        )
    )


def record_request(session: Session, request: Request) -> None:
    """The entry of a request that changed something and succeeded; nothing for one without an actor (a
    recipient's click, a signed upload), outside a route, or that failed and was answered in words."""
    actor = request_actor(request)
    route = request.scope.get("route")
    undone = getattr(request.state, "audit_failed", False) or session.info.get(ROLLED_BACK)
    if actor is None or route is None or undone:
        return
    session.flush()
    params = {name: _kept(actor, name, value) for name, value in request.path_params.items()}
    object_type, object_id = _object(route.path, params)
    record(
        session,
        actor,
        route.name,
        object_type=object_type,
        object_id=object_id or session.info.get(CREATED),
        route=f"{request.method} {route.path}",
        details={"path_params": params} | getattr(request.state, "audit_details", {}),
    )


def _kept(actor: Actor, name: str, value: str) -> str:
    """A recipient's address in a path is kept as its hash: the log never holds what an erasure removes."""
    return address_hash(actor.tenant_id, value) if name == "email" else value


def _object(path: str, params: dict) -> tuple[str | None, str | None]:
    """The object a route template names: the segment before its last parameter and that parameter's value, or
    its last segment (a route that creates one)."""
    parts = [p for p in path.split("/") if p]
    for i in range(len(parts) - 1, 0, -1):
        if parts[i].startswith("{"):
            return parts[i - 1], params.get(parts[i].strip("{}").split(":")[0])
    return (parts[-1] if parts else None), None


def list_query(
    tenant_id: uuid.UUID,
    *,
    actor: str | None = None,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Select:
    """A tenant's entries, filtered: `actor` is an actor's id or label, `object_id` may be an address (it is
    looked up by its hash)."""
    stmt = select(AuditEntry).where(AuditEntry.tenant_id == tenant_id)
    if actor:
        stmt = stmt.where(or_(AuditEntry.actor_id == actor, AuditEntry.actor_label == actor))
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    if object_type:
        stmt = stmt.where(AuditEntry.object_type == object_type)
    if object_id:
        wanted = address_hash(tenant_id, object_id) if "@" in object_id else object_id
        stmt = stmt.where(AuditEntry.object_id == wanted)
    if since:
        stmt = stmt.where(AuditEntry.occurred_at >= since)
    if until:
        stmt = stmt.where(AuditEntry.occurred_at < until)
    return stmt


def prune(session: Session, before: datetime) -> int:
    """Retention, the one way an entry leaves the log."""
    return rowcount(session.execute(delete(AuditEntry).where(AuditEntry.occurred_at < before)))
