"""Tenants and their API keys. Keys are random, shown once, and stored only as a SHA-256 hash."""

import hashlib
import secrets
import uuid

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from emailplatform.db import get_for_tenant
from emailplatform.errors import Conflict, Invalid, NotFound, Unauthorized
from emailplatform.models import ApiKey, Tenant, utcnow

KEY_PREFIX = "ep_"


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


def get_tenant_by_name(session: Session, name: str) -> Tenant:
    tenant = session.scalar(select(Tenant).where(Tenant.name == name))
    if tenant is None:
        raise NotFound(f"no tenant named {name!r}", field="tenant")
    return tenant


def count_tenants(session: Session) -> int:
    return len(session.scalars(select(Tenant.id).limit(1)).all())


def create_api_key(session: Session, tenant_id: uuid.UUID, name: str = "default") -> tuple[ApiKey, str]:
    """A new key for the tenant; the plain key is returned here and never again."""
    plain = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(tenant_id=tenant_id, name=name[:100] or "default", prefix=plain[:10], key_hash=_hash(plain))
    session.add(key)
    session.flush()
    return key, plain


def authenticate(session: Session, plain: str | None) -> ApiKey:
    if not plain:
        raise Unauthorized(
            "an API key is required: the X-API-Key header, or Authorization: Bearer <key>", field="X-API-Key"
        )
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == _hash(plain)))
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


def _hash(plain: str) -> str:
    return hashlib.sha256(plain.encode()).hexdigest()
