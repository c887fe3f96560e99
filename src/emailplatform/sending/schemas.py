import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class OutboxMessage(BaseModel):
    model_config = ConfigDict(from_attributes=True, populate_by_name=True)

    message_id: uuid.UUID
    to: str | None
    from_: str | None = Field(serialization_alias="from", validation_alias="from_")
    subject: str | None
    date: datetime | None
    size: int = Field(description="Size of the raw message in bytes.")


class OutboxHeader(BaseModel):
    name: str
    value: str = Field(description="The value decoded (RFC 2047 encoded words read, folding undone).")


class OutboxMessageDetail(BaseModel):
    message_id: uuid.UUID
    headers: list[OutboxHeader]
    text: str | None
    html: str | None
