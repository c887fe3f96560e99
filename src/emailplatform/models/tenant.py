import uuid
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from emailplatform.models.base import Base, UUIDPrimaryKey, utcnow


class Tenant(UUIDPrimaryKey, Base):
    __tablename__ = "tenants"

    name: Mapped[str] = mapped_column(String(100), unique=True)
    # The sender of a campaign that names none.
    default_from_email: Mapped[str | None] = mapped_column(String(320))
    default_from_name: Mapped[str | None] = mapped_column(String(200))
    # Sending throttles; none: the `throttle_tenant_*` settings, 0: no limit.
    send_per_second: Mapped[int | None]
    send_per_day: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(UUIDPrimaryKey, Base):
    __tablename__ = "api_keys"

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    rate_limit_per_minute: Mapped[int | None]  # requests a minute; none: the `rate_limit_api_key` setting
    # "sha256:<hex>" or an RFC 4514 subject: the client certificate (mutual TLS) that acts as this key
    client_certificate: Mapped[str | None] = mapped_column(String(600), index=True)
    # what the key may do: scopes.py
    scopes: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["full"], server_default='["full"]')
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
