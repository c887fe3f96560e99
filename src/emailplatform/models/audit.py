import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from emailplatform.models.base import Base, BigId, utcnow


class AuditEntry(Base):
    """Who changed what, when, and how it ended: append-only; only retention removes entries."""

    __tablename__ = "audit_entries"
    __table_args__ = (Index(None, "tenant_id", "id"), Index(None, "occurred_at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_type: Mapped[str] = mapped_column(String(20))  # user | api_key | token | cli
    actor_id: Mapped[str] = mapped_column(String(200))
    actor_label: Mapped[str | None] = mapped_column(String(320))
    client_address: Mapped[str | None] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(100))
    route: Mapped[str | None] = mapped_column(String(300))
    object_type: Mapped[str | None] = mapped_column(String(50))
    object_id: Mapped[str | None] = mapped_column(String(320))
    outcome: Mapped[str] = mapped_column(String(20))
    details: Mapped[dict] = mapped_column(default=dict)
