import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

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


ENDPOINT_EXAMPLE: JsonDict = {
    "id": "0193b7c3-7f5a-7b94-8c3d-6e8f1a4b5d73",
    "url": "https://hooks.example.com/emailplatform",
    "description": "CRM sync",
    "event_types": ["message.delivered", "message.bounced"],
    "enabled": True,
    "disabled_reason": None,
    "disabled_at": None,
    "failing_since": None,
    "previous_secret_expires_at": None,
    "created_at": "2026-12-01T09:00:00Z",
    "updated_at": "2026-12-01T09:00:00Z",
}
ATTEMPT_EXAMPLE: JsonDict = {
    "number": 1,
    "started_at": "2026-12-01T09:00:06Z",
    "request_url": "https://hooks.example.com/emailplatform",
    "request_headers": {"webhook-id": "0193b7c4-8a6b-7ca5-9d4e-7f9a2b5c6e84", "webhook-timestamp": "1796029206"},
    "status_code": 200,
    "response_excerpt": "ok",
    "latency_ms": 84.2,
    "error": None,
}
DELIVERY_EXAMPLE: JsonDict = {
    "id": "0193b7c4-8a6b-7ca5-9d4e-7f9a2b5c6e84",
    "endpoint_id": "0193b7c3-7f5a-7b94-8c3d-6e8f1a4b5d73",
    "callback": False,
    "transaction_id": "0193b7b1-0e6f-7c3a-8b1d-5f2a9c4e7d10",
    "url": "https://hooks.example.com/emailplatform",
    "event_type": "message.delivered",
    "payload": {
        "type": "message.delivered",
        "message_id": "0193b7b1-2c3d-7e4f-9a5b-6c7d8e9f0a1b",
        "recipient": "ada@example.com",
    },
    "status": "succeeded",
    "attempts": 1,
    "next_attempt_at": None,
    "last_status_code": 200,
    "last_error": None,
    "created_at": "2026-12-01T09:00:06Z",
    "finished_at": "2026-12-01T09:00:06Z",
}


class EndpointCreate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "url": "https://hooks.example.com/emailplatform",
                    "event_types": ["message.delivered", "message.bounced"],
                    "description": "CRM sync",
                }
            ],
        }
    )

    url: str = Field(max_length=2000, description="http(s) URL; its host must resolve to public addresses.")
    event_types: list[EventType] = Field(min_length=1)
    description: str | None = Field(None, max_length=500)


class EndpointUpdate(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"event_types": ["message.bounced"], "enabled": True}]})

    url: str | None = Field(None, max_length=2000)
    event_types: list[EventType] | None = Field(None, min_length=1)
    description: str | None = Field(None, max_length=500)
    enabled: bool | None = Field(None, description="true enables a disabled endpoint again.")


class EndpointOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [ENDPOINT_EXAMPLE]})

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
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [ENDPOINT_EXAMPLE | {"secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}],
        }
    )

    secret: str = Field(description="The `whsec_` signing secret: shown this once, never again.")


class CallbackSecretOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "secret": "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
                    "previous_secret_expires_at": "2026-12-02T09:00:00Z",
                }
            ],
        }
    )

    secret: str = Field(description="The `whsec_` secret signing campaign callbacks: shown this once, never again.")
    previous_secret_expires_at: datetime | None


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [ATTEMPT_EXAMPLE]})

    number: int
    started_at: datetime
    request_url: str
    request_headers: dict
    status_code: int | None
    response_excerpt: str | None
    latency_ms: float | None
    error: str | None


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [DELIVERY_EXAMPLE]})

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
    model_config = ConfigDict(json_schema_extra={"examples": [DELIVERY_EXAMPLE | {"attempt_log": [ATTEMPT_EXAMPLE]}]})

    attempt_log: list[AttemptOut]
