import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from emailplatform.models.base import Base, Timestamps, UUIDPrimaryKey
from emailplatform.models.encrypted import EncryptedText


class SendingDomain(UUIDPrimaryKey, Timestamps, Base):
    """A domain a tenant sends from, its DKIM key, and what the last DNS check found.

    Verified (`verified_at` set) while its DKIM and SPF records are published as asked."""

    __tablename__ = "sending_domains"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    name: Mapped[str] = mapped_column(String(253))  # lowercase, IDNA (ASCII) form
    dkim_selector: Mapped[str] = mapped_column(String(63))
    dkim_private_key: Mapped[str] = mapped_column(EncryptedText)  # PEM, PKCS#8
    dkim_public_key: Mapped[str] = mapped_column(Text)  # base64 DER SubjectPublicKeyInfo, the p= of the record
    record_checks: Mapped[dict] = mapped_column(default=dict)  # record kind -> what the last check found
    verified_at: Mapped[datetime | None]
    last_checked_at: Mapped[datetime | None]
