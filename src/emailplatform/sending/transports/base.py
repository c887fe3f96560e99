"""The transport interface: hand one message to whatever delivers it, and answer with a result.

A transport never raises for a recipient's or a server's problem: it answers SENT (with the provider's
id when it gives one), RETRY (a temporary failure: try again later) or FAILED (a permanent refusal).
A SENT result is `delivered` when the transport's acceptance is the delivery itself (the capture outbox keeps
the message): no later notice will say more.
"""

import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


@dataclass(frozen=True)
class OutgoingMessage:
    tenant_id: uuid.UUID
    message_id: uuid.UUID
    envelope_from: str
    recipient: str
    raw: bytes


class SendStatus(StrEnum):
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"


@dataclass(frozen=True)
class SendResult:
    status: SendStatus
    response: str | None = None
    provider_id: str | None = None
    delivered: bool = False


class Transport(Protocol):
    async def send(self, message: OutgoingMessage) -> SendResult: ...

    async def close(self) -> None: ...
