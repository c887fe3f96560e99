import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

SuppressionReason = Literal["hard_bounce", "complaint", "unsubscribe", "manual"]


class SuppressionCreate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"email": "someone@example.com", "reason": "manual", "details": "asked by phone"}],
        }
    )

    email: EmailStr
    reason: SuppressionReason = "manual"
    details: str | None = Field(None, max_length=1000, description="Why, in your words.")


class SuppressionOut(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "email": "someone@example.com",
                    "reason": "hard_bounce",
                    "details": "smtp; 550 5.1.1 user unknown",
                    "message_id": "0193b7b1-2c3d-7e4f-9a5b-6c7d8e9f0a1b",
                    "created_at": "2026-12-01T09:00:00Z",
                }
            ],
        },
    )

    email: str
    reason: str = Field(description="hard_bounce, complaint, unsubscribe or manual.")
    details: str | None = Field(description="The bounce's diagnostic, or what was given by hand.")
    message_id: uuid.UUID | None = Field(description="The message whose bounce or complaint added the address.")
    created_at: datetime
