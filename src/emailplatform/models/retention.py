import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from emailplatform.models.base import Base, utcnow


class RetentionPurge(Base):
    """A finished campaign whose data of one kind (files, captured, events, webhook_logs) retention removed."""

    __tablename__ = "retention_purges"

    transaction_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    purged_at: Mapped[datetime] = mapped_column(default=utcnow)


class TenantErasures(Base):
    """That a tenant has erased people (see privacy/service.py): until then the suppression check need not look
    for hashed addresses."""

    __tablename__ = "tenant_erasures"

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    erasures: Mapped[int] = mapped_column(default=0)
    last_erased_at: Mapped[datetime] = mapped_column(default=utcnow)
