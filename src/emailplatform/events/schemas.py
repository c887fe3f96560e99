import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

SuppressionReason = Literal["hard_bounce", "complaint", "unsubscribe", "manual"]


class SuppressionCreate(BaseModel):
    email: EmailStr
    reason: SuppressionReason = "manual"
    details: str | None = Field(None, max_length=1000, description="Why, in your words.")


class SuppressionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    email: str
    reason: str = Field(description="hard_bounce, complaint, unsubscribe or manual.")
    details: str | None = Field(description="The bounce's diagnostic, or what was given by hand.")
    message_id: uuid.UUID | None = Field(description="The message whose bounce or complaint added the address.")
    created_at: datetime


class SnsReceived(BaseModel):
    type: str = Field(description="The SNS message's Type: Notification, SubscriptionConfirmation or UnsubscribeConfirmation.")
    recorded: int = Field(description="How many events the message added (0 for one seen before).")
