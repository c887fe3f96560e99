import uuid
from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from emailplatform.models.base import Base


class ThrottleCounter(Base):
    """Messages counted against one sending limit in its current window (see sending/throttles.py), when the
    counters live in the database: one row a limit, which a new window starts again from zero."""

    __tablename__ = "throttle_counters"

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    window: Mapped[int] = mapped_column(BigInteger)  # seconds since the epoch // the window's length
    count: Mapped[int]


class ThrottleHold(Base):
    """A message in flight to a mailbox provider, holding one of its connections until it is answered or
    `expires_at` (a worker that died lets go by then)."""

    __tablename__ = "throttle_holds"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(400), index=True)
    expires_at: Mapped[datetime]
