"""Tenants and their API keys. Keys are random, shown once, and stored only as a SHA-256 hash."""

import hashlib
import secrets
import uuid

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from emailplatform.db import get_for_tenant
from emailplatform.errors import Conflict, Invalid, NotFound, Unauthorized
from emailplatform.models import ApiKey, Tenant, utcnow
from emailplatform.scopes import FULL, SCOPES
from emailplatform.scopes import unknown as unknown_scopes
from emailplatform.tenants import certificates

KEY_PREFIX = "ep_"
MAX_RATE_LIMIT_PER_MINUTE = 1_000_000


def create_tenant(session: Session, name: str) -> Tenant:
    name = name.strip()
    if not name or len(name) > 100:
        raise Invalid("a tenant name has 1 to 100 characters", field="name")
    if session.scalar(select(Tenant.id).where(Tenant.name == name)):
        raise Conflict(f"a tenant named {name!r} exists already", field="name")
    tenant = Tenant(name=name)
    session.add(tenant)
    session.flush()
    return tenant


def ensure_default_tenant(session: Session) -> str | None:
    """On an empty database: the tenant `default` and an API key for it, returned (it is shown once)."""
    if count_tenants(session):
        return None
    tenant = create_tenant(session, "default")
    _, plain = create_api_key(session, tenant.id, "first key")
    return plain


def get_tenant_by_name(session: Session, name: str) -> Tenant:
    tenant = session.scalar(select(Tenant).where(Tenant.name == name))
    if tenant is None:
        raise NotFound(f"no tenant named {name!r}", field="tenant")
    return tenant


def get_tenant(session: Session, tenant_id: uuid.UUID) -> Tenant:
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound("no such tenant", field="tenant")
    return tenant


def set_throttles(session: Session, name: str, per_second: int | None, per_day: int | None) -> Tenant:
    """The tenant's own sending throttles (None: the settings', 0: no limit); worker processes apply them within
    half a minute (sending/throttles.py)."""
    tenant = get_tenant_by_name(session, name)
    tenant.send_per_second, tenant.send_per_day = per_second, per_day
    return tenant


def default_sender(session: Session, tenant_id: uuid.UUID) -> tuple[str, str | None] | None:
    """The tenant's default sender's address and name, None when it has none."""
    row = session.execute(
        select(Tenant.default_from_email, Tenant.default_from_name).where(Tenant.id == tenant_id)
    ).first()
    return (row.default_from_email, row.default_from_name) if row and row.default_from_email else None


def count_tenants(session: Session) -> int:
    return len(session.scalars(select(Tenant.id).limit(1)).all())


def create_api_key(
    session: Session,
    tenant_id: uuid.UUID,
    name: str = "default",
    rate_limit_per_minute: int | None = None,
    scopes: list[str] | None = None,
    client_certificate: str | None = None,
) -> tuple[ApiKey, str]:
    """A new key for the tenant, with `scopes` (default `full`); the plain key is returned here and never again.
    Without a rate limit of its own, the key is held to the `rate_limit_api_key` setting."""
    if rate_limit_per_minute is not None and not 1 <= rate_limit_per_minute <= MAX_RATE_LIMIT_PER_MINUTE:
        raise Invalid(
            f"a key's rate limit is 1 to {MAX_RATE_LIMIT_PER_MINUTE:,} requests a minute", field="rate_limit_per_minute"
        )
    scopes = sorted(set(scopes or [FULL]))
    if unknown := unknown_scopes(scopes):
        raise Invalid(f"no such scope: {', '.join(unknown)}; the scopes are {', '.join(SCOPES)}", field="scopes")
    certificate = certificates.normalized(client_certificate) if client_certificate else None
    if certificate and session.scalar(
        select(ApiKey.id).where(ApiKey.client_certificate == certificate, ApiKey.revoked_at.is_(None))
    ):
        raise Conflict(
            "that client certificate acts as another API key already; revoke it first", field="client_certificate"
        )
    plain = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        tenant_id=tenant_id,
        name=name[:100] or "default",
        prefix=plain[:10],
        key_hash=hash_key(plain),
        rate_limit_per_minute=rate_limit_per_minute,
        scopes=scopes,
        client_certificate=certificate,
    )
    session.add(key)
    session.flush()
    return key, plain


def authenticate(session: Session, plain: str | None) -> ApiKey:
    if not plain:
        raise Unauthorized(
            "an API key is required (the X-API-Key header, or Authorization: Bearer <key>), or a token of the "
            "configured issuer (Authorization: Bearer <token>)",
            field="X-API-Key",
        )
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(plain)))
    if key is None or key.revoked_at is not None:
        raise Unauthorized("the API key is unknown or revoked", field="X-API-Key")
    return key


def list_api_keys(session: Session, tenant_id: uuid.UUID) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).where(ApiKey.tenant_id == tenant_id).order_by(ApiKey.created_at)))


def revoke_api_key(session: Session, tenant_id: uuid.UUID, key_id: uuid.UUID) -> ApiKey:
    key = get_for_tenant(session, ApiKey, key_id, tenant_id, field="key_id", what="API key")
    if key.revoked_at is None:
        session.execute(update(ApiKey).where(ApiKey.id == key.id).values(revoked_at=utcnow()))
        session.refresh(key)
    return key


def hash_key(plain: str) -> str:
    return hashlib.sha256(plain.encode()).hexdigest()
