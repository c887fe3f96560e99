import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from emailplatform.models.base import Base, UUIDPrimaryKey, utcnow


class Suppression(UUIDPrimaryKey, Base):
    """An address this tenant never sends to again: a hard bounce, a complaint, an unsubscribe, or by hand."""

    __tablename__ = "suppressions"
    __table_args__ = (UniqueConstraint("tenant_id", "email"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    email: Mapped[str] = mapped_column(String(320))  # lowercased
    reason: Mapped[str] = mapped_column(String(30))  # hard_bounce | complaint | unsubscribe | manual
    details: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
