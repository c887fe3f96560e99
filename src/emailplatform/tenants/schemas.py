import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class ApiKeyCreate(BaseModel):
    name: str = Field("default", min_length=1, max_length=100)
    rate_limit_per_minute: int | None = Field(
        None, ge=1, le=1_000_000, description="Requests a minute this key may make; empty: the deployment's default.",
    )


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    prefix: str
    rate_limit_per_minute: int | None = Field(description="The key's own limit of requests a minute; null: the deployment's default.")
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The key itself: shown this once, never again.")
