import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from emailplatform.models.base import Base, BigId, utcnow


class Event(Base):
    """Something that happened to a message: append-only, the source of history and analytics."""

    __tablename__ = "events"
    __table_args__ = (
        Index(None, "message_id", "occurred_at"),
        Index(None, "transaction_id", "type"),
        # The same notification twice is one event. With the message: every key names its message already, and on
        # PostgreSQL (partitions.py) a unique key must hold the partition's.
        UniqueConstraint("dedup_key", "message_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    transaction_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("transactions.id"))
    message_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("messages.id"))
    type: Mapped[str] = mapped_column(String(30))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    details: Mapped[dict] = mapped_column(default=dict)
    dedup_key: Mapped[str | None] = mapped_column(String(200))
