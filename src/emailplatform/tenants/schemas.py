import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field
from pydantic.config import JsonDict

from emailplatform.scopes import SCOPES

ScopeName = Literal[SCOPES]  # type: ignore[valid-type]  # the names of scopes.py, as an enum in the spec

API_KEY_EXAMPLE: JsonDict = {
    "id": "0193b7a0-3b1d-7c40-8e9f-2d4b7a1c6e30",
    "name": "billing system",
    "prefix": "ep_live_9f2c",
    "rate_limit_per_minute": None,
    "scopes": ["send"],
    "client_certificate": None,
    "created_at": "2026-12-01T09:00:00Z",
    "revoked_at": None,
}


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "billing system", "scopes": ["send"]}]})

    name: str = Field("default", min_length=1, max_length=100)
    rate_limit_per_minute: int | None = Field(
        None,
        ge=1,
        le=1_000_000,
        description="Requests a minute this key may make; empty: the deployment's default.",
    )
    scopes: list[ScopeName] = Field(
        default_factory=lambda: ["full"],
        min_length=1,
        max_length=len(SCOPES),
        description="What the key may do (see Scopes above); never more than the key that creates it may.",
    )
    client_certificate: str | None = Field(
        None,
        max_length=600,
        description="A client certificate (mutual TLS) that acts as this key: `sha256:<fingerprint>` or its subject "
        "(RFC 4514, e.g. `CN=billing,O=Example`).",
    )


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [API_KEY_EXAMPLE]})

    id: uuid.UUID
    name: str
    prefix: str
    rate_limit_per_minute: int | None = Field(
        description="The key's own limit of requests a minute; null: the deployment's default."
    )
    scopes: list[str] = Field(description="What the key may do.")
    client_certificate: str | None = Field(None, description="The client certificate that acts as this key, if any.")
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [API_KEY_EXAMPLE | {"key": "ep_live_9f2c4e7a1b3d5f6e8a0c2e4f6a8b0d1c"}],
        }
    )

    key: str = Field(description="The key itself: shown this once, never again.")


class DefaultSender(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"email": "news@example.com", "name": "Example News"}]})

    email: EmailStr
    name: str | None = Field(None, max_length=200)


class TenantOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "tenant_id": "0d6f2c1e-3b7a-4f7e-9a55-2f1c7d9e8b10",
                    "name": "default",
                    "default_sender": {"email": "news@example.com", "name": "Example News"},
                    "created_at": "2026-12-01T09:00:00Z",
                    "warnings": [],
                }
            ]
        }
    )

    tenant_id: uuid.UUID
    name: str
    default_sender: DefaultSender | None = Field(
        description="The sender of a campaign that gives no `from`; null: every campaign names its own."
    )
    created_at: datetime
    warnings: list[str] = Field(default_factory=list, description="E.g. that the sender's domain is not verified.")


class TenantUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"default_sender": {"email": "news@example.com", "name": "Example News"}}]},
    )

    default_sender: DefaultSender | None = Field(
        description="The sender of campaigns that give no `from`, checked as a campaign's sender is; null removes it."
    )
