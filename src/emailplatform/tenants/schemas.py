import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


API_KEY_EXAMPLE = {
    "id": "0193b7a0-3b1d-7c40-8e9f-2d4b7a1c6e30", "name": "billing system", "prefix": "ep_live_9f2c",
    "created_at": "2026-12-01T09:00:00Z", "revoked_at": None,
}


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "billing system"}]})

    name: str = Field("default", min_length=1, max_length=100)


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(
        from_attributes=True, json_schema_extra={"examples": [API_KEY_EXAMPLE]}
    )

    id: uuid.UUID
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    model_config = ConfigDict(json_schema_extra={
        "examples": [API_KEY_EXAMPLE | {"key": "ep_live_9f2c4e7a1b3d5f6e8a0c2e4f6a8b0d1c"}],
    })

    key: str = Field(description="The key itself: shown this once, never again.")
