import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

SuppressionReason = Literal["hard_bounce", "complaint", "unsubscribe", "manual"]
MESSAGE_ID_TAG = "message_id"  # the SES tag that brings our message id back in SES events (its transport sets it)


class SuppressionCreate(BaseModel):
    model_config = ConfigDict(json_schema_extra={
        "examples": [{"email": "someone@example.com", "reason": "manual", "details": "asked by phone"}],
    })

    email: EmailStr
    reason: SuppressionReason = "manual"
    details: str | None = Field(None, max_length=1000, description="Why, in your words.")


class SuppressionOut(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [{
                "email": "someone@example.com", "reason": "hard_bounce", "details": "smtp; 550 5.1.1 user unknown",
                "message_id": "0193b7b1-2c3d-7e4f-9a5b-6c7d8e9f0a1b", "created_at": "2026-12-01T09:00:00Z",
            }],
        },
    )

    email: str
    reason: str = Field(description="hard_bounce, complaint, unsubscribe or manual.")
    details: str | None = Field(description="The bounce's diagnostic, or what was given by hand.")
    message_id: uuid.UUID | None = Field(description="The message whose bounce or complaint added the address.")
    created_at: datetime


class EventOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{
            "event_id": 41, "message_id": "0193a4b2-7c1d-7e2f-8a3b-4c5d6e7f8091",
            "transaction_id": "5b1e8f0c-2d3a-4b5c-9d6e-7f8091a2b3c4", "recipient": "ann@example.com",
            "type": "clicked", "occurred_at": "2026-12-01T09:14:03Z", "details": {"url": "https://example.com/offer"},
        }]}
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
