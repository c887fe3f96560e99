import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

MESSAGE_ID_TAG = "message_id"  # the SES tag that brings our message id back in SES events (its transport sets it)


class EventOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "event_id": 41,
                    "message_id": "0193a4b2-7c1d-7e2f-8a3b-4c5d6e7f8091",
                    "transaction_id": "5b1e8f0c-2d3a-4b5c-9d6e-7f8091a2b3c4",
                    "recipient": "ann@example.com",
                    "type": "clicked",
                    "occurred_at": "2026-12-01T09:14:03Z",
                    "details": {"url": "https://example.com/offer"},
                }
            ]
        }
    )

    event_id: int
    message_id: uuid.UUID
    transaction_id: uuid.UUID
    recipient: str = Field(description="The message's address.")
    type: str = Field(description="sent, delivered, bounced, complained, opened, clicked, unsubscribed, deferred, …")
    occurred_at: datetime
    details: dict = Field(description="What the source said: a bounce's reason and diagnostic, a click's url, …")


class SnsReceived(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"type": "Notification", "recorded": 1}]})

    type: str = Field(
        description="The SNS message's Type: Notification, SubscriptionConfirmation or UnsubscribeConfirmation."
    )
    recorded: int = Field(description="How many events the message added (0 for one seen before).")
