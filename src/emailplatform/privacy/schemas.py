import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

EVENT_EXAMPLE: dict[str, Any] = {"type": "opened", "occurred_at": "2026-12-01T09:14:03Z", "details": {}}
DELIVERY_EXAMPLE: dict[str, Any] = {
    "event_type": "message.opened",
    "url": "https://hooks.example.com/email",
    "status": "succeeded",
    "created_at": "2026-12-01T09:14:04Z",
    "payload": {"type": "message.opened", "recipient": "ann@example.com"},
}
MESSAGE_EXAMPLE: dict[str, Any] = {
    "message_id": "0193b7b1-2c3d-7e4f-9a5b-6c7d8e9f0a1b",
    "transaction_id": "5b1e8f0c-2d3a-4b5c-9d6e-7f8091a2b3c4",
    "campaign_name": "December news",
    "email": "ann@example.com",
    "status": "OPENED",
    "last_error": None,
    "created_at": "2026-12-01T09:00:00Z",
    "sent_at": "2026-12-01T09:00:02Z",
    "delivered_at": "2026-12-01T09:00:03Z",
    "data": {"email": "ann@example.com", "first_name": "Ann"},
    "events": [EVENT_EXAMPLE],
    "webhook_deliveries": [DELIVERY_EXAMPLE],
    "captured_message": None,
}


class ExportedEvent(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EVENT_EXAMPLE]})

    type: str
    occurred_at: datetime
    details: dict


class ExportedDelivery(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [DELIVERY_EXAMPLE]})

    event_type: str
    url: str
    status: str
    created_at: datetime
    payload: dict = Field(description="What was posted to the webhook.")


class ExportedMessage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [MESSAGE_EXAMPLE]})

    message_id: uuid.UUID
    transaction_id: uuid.UUID
    campaign_name: str | None
    email: str = Field(description="The address; its hash once erased.")
    status: str
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    data: dict[str, str] | None = Field(description="The placeholder data of the message's row; null once removed.")
    events: list[ExportedEvent]
    webhook_deliveries: list[ExportedDelivery]
    captured_message: str | None = Field(description="The message as sent, when the capture transport kept it.")


class ExportedSuppression(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"reason": "unsubscribe", "details": None, "created_at": "2026-12-01T09:20:00Z"},
            ]
        }
    )

    reason: str
    details: str | None
    created_at: datetime


class ExportedSkippedRow(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "transaction_id": "5b1e8f0c-2d3a-4b5c-9d6e-7f8091a2b3c4",
                    "row_number": 7,
                    "reason": "the email column is empty",
                },
            ]
        }
    )

    transaction_id: uuid.UUID
    row_number: int
    reason: str


class RecipientExport(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "email": "ann@example.com",
                    "suppression": None,
                    "messages": [MESSAGE_EXAMPLE],
                    "skipped_rows": [],
                }
            ]
        }
    )

    email: str
    suppression: ExportedSuppression | None = Field(description="Why the address is not sent to, if it is not.")
    messages: list[ExportedMessage] = Field(description="Every campaign message to the address, oldest first.")
    skipped_rows: list[ExportedSkippedRow] = Field(description="Rows of recipients files with it that were skipped.")


class RecipientErased(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "messages": 2,
                    "events": 5,
                    "webhook_deliveries": 3,
                    "captured_messages": 2,
                    "batch_rows": 2,
                    "source_file_rows": 2,
                    "row_errors": 0,
                    "suppression_kept_as_hash": True,
                }
            ]
        }
    )

    messages: int = Field(description="Messages to the address: kept for the counts, under the address's hash.")
    events: int = Field(description="Their events, removed.")
    webhook_deliveries: int = Field(description="Webhook deliveries about them, removed with their attempts' logs.")
    captured_messages: int = Field(description="Their .eml files kept by the capture transport, removed.")
    batch_rows: int = Field(description="Their rows of placeholder data in batch files, emptied in place.")
    source_file_rows: int = Field(description="Rows naming the address in the campaigns' recipients files, emptied.")
    row_errors: int = Field(description="Reports of skipped rows with the address, removed.")
    suppression_kept_as_hash: bool = Field(description="The address stays suppressed, kept only as its hash.")
