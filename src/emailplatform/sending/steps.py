"""The steps one message goes through on its way out, in this order:

    suppressed? → render → track → build → sign → throttle → send → record

Each step takes the message as the step before left it and returns it as it now is, or a `Stopped` that names
the step and the reason; a stopped message goes no further, and the record step (sending/recorder.py, for many
messages at once) writes back what became of it: SUPPRESSED, FAILED, or the transport's answer.
"""

import asyncio
import uuid
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass, replace
from typing import Protocol

from emailplatform.config import Settings
from emailplatform.domains.dkim import DkimSigner
from emailplatform.events import tracking
from emailplatform.models import Transaction
from emailplatform.sending import decorate
from emailplatform.sending.mime import MessageSkeleton, make_message_id
from emailplatform.sending.throttles import Waiting
from emailplatform.sending.transports.base import OutgoingMessage, SendResult, Transport
from emailplatform.templates import rendering

SUPPRESSED = "suppressed"


@dataclass(frozen=True)
class Claimed:
    """A message claimed for sending (SENDING), as the claim read it."""

    id: uuid.UUID
    email: str
    position: int
    attempts: int
    suppressed: bool  # the address is on the tenant's suppression list (read for the whole claim at once)


@dataclass(frozen=True)
class Stopped:
    step: str
    reason: str


@dataclass(frozen=True)
class Outcome:
    message: Claimed
    result: SendResult | Stopped | Waiting  # Waiting: throttled, back in the queue until then
    unrecorded: bool = False  # it holds one of the process's unrecorded slots, which the recorder gives back


@dataclass
class BatchPlan:
    """What the steps need for every message of a batch, read once."""

    batch_id: uuid.UUID
    transaction: Transaction
    template: rendering.Renderer
    skeleton: MessageSkeleton
    data: list[dict[str, str]]  # each message's placeholder data, by position
    signer: DkimSigner | None
    settings: Settings
    secret: str
    tracking_base: str
    mailto_domain: str  # of the List-Unsubscribe mailto, which the inbound listener receives
    notify_sent: bool  # some webhook endpoint of the tenant hears message.sent
    to_header: str | None = None  # what every copy's To shows (an email's `to`); None: each copy's own recipient


@dataclass(frozen=True)
class Draft:
    """A message on its way through the steps: each fills in its part."""

    message: Claimed
    unsubscribe_token: str
    unsubscribe_url: str
    content: rendering.Rendered | None = None
    raw: bytes = b""
    envelope_from: str = ""

    @property
    def rendered(self) -> rendering.Rendered:
        assert self.content is not None, "the render step comes before"
        return self.content


def check_suppression(plan: BatchPlan, draft: Draft) -> Draft | Stopped:
    if draft.message.suppressed:
        return Stopped(SUPPRESSED, "the address is on the suppression list")
    return draft


def render(plan: BatchPlan, draft: Draft) -> Draft | Stopped:
    message = draft.message
    data = plan.data[message.position] | {"email": message.email, "unsubscribe_url": draft.unsubscribe_url}
    try:
        return replace(draft, content=plan.template.render(data))
    except rendering.RenderError as exc:
        return Stopped("render", f"the template could not be rendered: {exc}")


def track(plan: BatchPlan, draft: Draft) -> Draft:
    """The unsubscribe link (a footer where the template placed none) and, when the campaign tracks, the click
    redirect and the open pixel."""
    content, url = draft.rendered, draft.unsubscribe_url
    html = decorate.decorate_html(
        content.html, url, draft.message.id, plan.tracking_base, plan.secret, plan.transaction.tracking
    )
    return replace(draft, content=replace(content, html=html, text=decorate.decorate_text(content.text, url)))


def build(plan: BatchPlan, draft: Draft) -> Draft | Stopped:
    """The MIME message, with its List-Unsubscribe headers, and the envelope's return path."""
    message, content = draft.message, draft.rendered
    try:
        raw = plan.skeleton.build(
            to=plan.to_header or message.email,
            subject=content.subject,
            html=content.html,
            text=content.text,
            message_id=make_message_id(message.id, plan.transaction.from_email),
            headers=decorate.unsubscribe_headers(draft.unsubscribe_token, plan.tracking_base, plan.mailto_domain),
        )
    except ValueError as exc:
        return Stopped("build", f"the message could not be built: {exc}")
    envelope_from = decorate.return_path(message.id, plan.transaction.from_email, plan.settings)
    return replace(draft, raw=raw, envelope_from=envelope_from)


def sign(plan: BatchPlan, draft: Draft) -> Draft:
    return replace(draft, raw=plan.signer.sign(draft.raw)) if plan.signer else draft


PREPARE = (check_suppression, render, track, build, sign)


class Throttle(Protocol):
    """What holds a message back before the transport: per tenant, per recipient domain. A throttled message
    waits; it is not failed."""

    def hold(self, message: OutgoingMessage) -> AbstractAsyncContextManager[Waiting | None]:
        """Wait a moment for `message`'s turn and keep its place (a connection to its domain) while it is sent;
        or, when its turn is further off, say until when it waits (it goes back to the queue till then)."""


class Unthrottled:
    """Lets every message through at once: the default."""

    def hold(self, message: OutgoingMessage) -> AbstractAsyncContextManager[Waiting | None]:
        return nullcontext()


class Sender:
    """The throttle and send steps: through the throttle, then to the transport, which hands the message over once
    one of the process's `unrecorded` slots is free (SMTP's envelope goes ahead meanwhile). The slot is the
    recorder's to give back, when the outcome is committed: a process never has more messages handed over and not
    yet recorded than it has slots, so a crash can send again at most that many."""

    def __init__(self, transport: Transport, unrecorded: asyncio.Semaphore, throttle: Throttle | None = None):
        self.transport = transport
        self.unrecorded = unrecorded
        self.throttle = throttle or Unthrottled()

    async def send(self, plan: BatchPlan, draft: Draft) -> Outcome:
        outgoing = OutgoingMessage(
            tenant_id=plan.transaction.tenant_id,
            message_id=draft.message.id,
            envelope_from=draft.envelope_from,
            recipient=draft.message.email,
            raw=draft.raw,
        )
        async with self.throttle.hold(outgoing) as waiting:
            if waiting is not None:
                return Outcome(draft.message, waiting)
            slot = _Slot(self.unrecorded)
            try:
                result = await self.transport.send(outgoing, slot.take)
            except BaseException:
                slot.give_back()
                raise
            return Outcome(draft.message, result, unrecorded=slot.taken)


class _Slot:
    """One unrecorded slot, taken at the handover (a retry hands over again, on the slot already taken)."""

    def __init__(self, slots: asyncio.Semaphore):
        self.slots = slots
        self.taken = False

    async def take(self) -> None:
        if not self.taken:
            await self.slots.acquire()
            self.taken = True

    def give_back(self) -> None:
        if self.taken:
            self.slots.release()
            self.taken = False


async def run(plan: BatchPlan, sender: Sender, message: Claimed) -> Outcome:
    """One message through every step up to record: the transport's answer, or where and why it stopped."""
    token = tracking.unsubscribe_token(message.id, plan.secret)
    draft = Draft(message, token, tracking.unsubscribe_url(token, plan.tracking_base))
    for step in PREPARE:
        prepared = step(plan, draft)
        if isinstance(prepared, Stopped):
            return Outcome(message, prepared)
        draft = prepared
    return await sender.send(plan, draft)
