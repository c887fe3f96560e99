import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class OutboxMessage(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "message_id": "0193b7b1-2c3d-7e4f-9a5b-6c7d8e9f0a1b",
                    "to": "ada@example.com",
                    "from": "Acme News <news@sender.example.com>",
                    "subject": "News for Ada",
                    "date": "2026-12-01T09:00:00Z",
                    "size": 4210,
                }
            ],
        },
    )

    message_id: uuid.UUID
    to: str | None
    from_: str | None = Field(serialization_alias="from", validation_alias="from_")
    subject: str | None
    date: datetime | None
    size: int = Field(description="Size of the raw message in bytes.")


class OutboxHeader(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "Subject", "value": "News for Ada"}]})

    name: str
    value: str = Field(description="The value decoded (RFC 2047 encoded words read, folding undone).")


class OutboxMessageDetail(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "message_id": "0193b7b1-2c3d-7e4f-9a5b-6c7d8e9f0a1b",
                    "headers": [
                        {"name": "Subject", "value": "News for Ada"},
                        {"name": "To", "value": "ada@example.com"},
                    ],
                    "text": "Hello Ada, here is our news.",
                    "html": "<p>Hello Ada, here is our news.</p>",
                }
            ],
        }
    )

    message_id: uuid.UUID
    headers: list[OutboxHeader]
    text: str | None
    html: str | None
