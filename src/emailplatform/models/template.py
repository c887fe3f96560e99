import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from emailplatform.models.base import Base, Timestamps, UUIDPrimaryKey, utcnow


class Template(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "templates"

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    latest_version: Mapped[int] = mapped_column(default=0)  # 0: uploaded, not yet confirmed
    upload_file_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("files.id"))
    archived_at: Mapped[datetime | None]  # hidden from lists, starts no new campaign; its versions are kept


MAX_VERSION = 2**31 - 1  # the largest version number the column holds (a 32-bit integer)


class TemplateVersion(UUIDPrimaryKey, Base):
    """One immutable version of a template; a campaign names the version it was sent with."""

    __tablename__ = "template_versions"
    __table_args__ = (UniqueConstraint("template_id", "version"),)

    template_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("templates.id"), index=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    version: Mapped[int]
    subject: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    text_is_generated: Mapped[bool] = mapped_column(default=False)
    placeholders: Mapped[list] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
