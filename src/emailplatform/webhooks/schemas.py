import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

EventType = Literal[
    "transaction.status_changed",
    "message.sent",
    "message.delivered",
    "message.bounced",
    "message.complained",
    "message.opened",
    "message.clicked",
    "message.unsubscribed",
    "message.failed",
]


class EndpointCreate(BaseModel):
    url: str = Field(max_length=2000, description="http(s) URL; its host must resolve to public addresses.")
    event_types: list[EventType] = Field(min_length=1)
    description: str | None = Field(None, max_length=500)


class EndpointUpdate(BaseModel):
    url: str | None = Field(None, max_length=2000)
    event_types: list[EventType] | None = Field(None, min_length=1)
    description: str | None = Field(None, max_length=500)
    enabled: bool | None = Field(None, description="true enables a disabled endpoint again.")


class EndpointOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    url: str
    description: str | None
    event_types: list[str]
    enabled: bool
    disabled_reason: str | None = Field(description="Why the endpoint was disabled (410 Gone, failing for 5 days, …).")
    disabled_at: datetime | None
    failing_since: datetime | None
    previous_secret_expires_at: datetime | None = Field(
        description="Until when the secret before the last rotation still signs beside the new one."
    )
    created_at: datetime
    updated_at: datetime


class EndpointWithSecret(EndpointOut):
    secret: str = Field(description="The `whsec_` signing secret: shown this once, never again.")


class CallbackSecretOut(BaseModel):
    secret: str = Field(description="The `whsec_` secret signing campaign callbacks: shown this once, never again.")
    previous_secret_expires_at: datetime | None


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int
    started_at: datetime
    request_url: str
    request_headers: dict
    status_code: int | None
    response_excerpt: str | None
    latency_ms: float | None
    error: str | None


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID = Field(description="The webhook-id header of every attempt.")
    endpoint_id: uuid.UUID | None = Field(description="The endpoint; none for a callback or a deleted endpoint.")
    callback: bool = Field(description="Sent to a campaign's callback_url.")
    transaction_id: uuid.UUID | None
    url: str
    event_type: str
    payload: dict
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None


class DeliveryWithAttempts(DeliveryOut):
    attempt_log: list[AttemptOut]
