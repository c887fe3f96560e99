import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from emailplatform.models.base import Base, UUIDPrimaryKey, utcnow


class File(UUIDPrimaryKey, Base):
    """A file a client uploads through a presigned URL: a recipients CSV or a template's HTML."""

    __tablename__ = "files"

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # "recipients" | "template"
    filename: Mapped[str] = mapped_column(String(255))
    storage_key: Mapped[str] = mapped_column(String(500), unique=True)
    url: Mapped[str] = mapped_column(String(600), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
