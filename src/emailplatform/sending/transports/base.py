"""The transport interface: hand one message to whatever delivers it, and answer with a result.

A transport never raises for a recipient's or a server's problem: it answers SENT (with the provider's
id when it gives one), RETRY (a temporary failure: try again later) or FAILED (a permanent refusal).
A SENT result is `delivered` when the transport's acceptance is the delivery itself (the capture outbox keeps
the message): no later notice will say more.

Before the step that hands the message over for good (SMTP's DATA, the SES request, the outbox write), a transport
awaits the `handover` it was given, once or more (it is awaited again on a retry); what comes before (a connection,
the envelope) goes on meanwhile. The sender waits there for its turn (sending/steps.py).
"""

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

Handover = Callable[[], Awaitable[None]]


async def at_once() -> None:
    """A handover that never waits."""


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
    async def send(self, message: OutgoingMessage, handover: Handover = at_once) -> SendResult: ...

    async def close(self) -> None: ...
