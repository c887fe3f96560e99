import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from emailplatform.models import Role

USER_EXAMPLE: JsonDict = {
    "user_id": "7d3c9a1e-5b2f-4e6a-8c0d-1f2e3a4b5c6d",
    "email": "editor@example.com",
    "role": "editor",
    "created_at": "2026-12-01T09:00:00Z",
    "last_sign_in_at": None,
}


class UserOut(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        validate_by_name=True,
        validate_by_alias=True,
        json_schema_extra={"examples": [USER_EXAMPLE]},
    )

    user_id: uuid.UUID = Field(validation_alias="id")
    email: str
    role: Role = Field(description="owner, admin, editor or viewer.")
    created_at: datetime
    last_sign_in_at: datetime | None


class UserCreated(UserOut):
    model_config = ConfigDict(json_schema_extra={"examples": [USER_EXAMPLE | {"password": "m3kT9xQe2LwZpA7c"}]})

    password: str = Field(description="The new user's password to sign in to the web UI: shown this once, never again.")


class UserCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"email": "editor@example.com", "role": "editor"}]}
    )

    email: str = Field(min_length=1, max_length=320)
    role: Role = Field(description="admin, editor or viewer (owner only from a signed-in owner in the web UI).")


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"role": "viewer"}]})

    role: Role
