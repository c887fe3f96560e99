import uuid
from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from emailplatform.models.base import Base, utcnow


class RetentionPurge(Base):
    """A finished campaign whose data of one kind (files, captured, events, webhook_logs) retention removed."""

    __tablename__ = "retention_purges"

    transaction_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    purged_at: Mapped[datetime] = mapped_column(default=utcnow)
