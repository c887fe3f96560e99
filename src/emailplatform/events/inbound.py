"""The inbound SMTP listener: mail comes back to `bounces+<message id>@…`: bounces become "bounced"
events, ARF feedback reports "complained", success DSNs (NOTIFY=SUCCESS) "delivered"; mail to a
List-Unsubscribe mailto, `unsubscribe+<token>@…`, unsubscribes its message's recipient.

Only those addresses are accepted (any other recipient: 550). A mail that is none of these (an
auto-reply, a challenge-response, a delay notice, spam, garbage) is accepted, logged and changes
nothing: refusing it would only send it back again.
"""

import asyncio
import uuid

import structlog
from aiosmtpd.controller import Controller

from emailplatform.events import bounces, tracking
from emailplatform.events import service as event_service
from emailplatform.models import Message
from emailplatform.runtime import Runtime

log = structlog.get_logger("emailplatform.inbound")
MAX_BOUNCE_BYTES = 10 * 1024 * 1024
UNSUBSCRIBE_PREFIX = "unsubscribe+"


class BounceHandler:
    """aiosmtpd handler: RCPT accepts VERP addresses only; DATA ingests the mail once per recipient."""

    def __init__(self, runtime: Runtime):
        self.runtime = runtime

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if bounces.message_id_from_address(address) is None and self._unsubscribing(address) is None:
            return "550 5.1.1 No such mailbox: this server only receives bounces and unsubscribes"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        for recipient in envelope.rcpt_tos:
            unsubscribing = self._unsubscribing(recipient)
            try:
                if unsubscribing:
                    await asyncio.to_thread(unsubscribe, self.runtime, unsubscribing)
                else:
                    await asyncio.to_thread(ingest, self.runtime, raw, recipient)
            except Exception:
                log.exception("a bounce could not be recorded; the sender will retry", recipient=recipient)
                return "451 4.3.0 Temporary failure, please try again later"
        return "250 OK"

    def _unsubscribing(self, address: str) -> uuid.UUID | None:
        """The message a `unsubscribe+<token>@…` address names, if its token is one of ours."""
        local = address.rpartition("@")[0]
        if not local.startswith(UNSUBSCRIBE_PREFIX):
            return None
        try:
            return tracking.read_unsubscribe(local.removeprefix(UNSUBSCRIBE_PREFIX), self.runtime.secret_key)
        except tracking.BadToken:
            return None


def unsubscribe(runtime: Runtime, message_id: uuid.UUID) -> None:
    with runtime.db.session() as session:
        tracking.unsubscribe(session, message_id, {"via": "mailto"})
    log.info("unsubscribed by mail", message_id=str(message_id))


# What each kind of mail records for its message: (event type, source) — the other kinds record nothing.
RECORDED_KINDS = {"bounce": ("bounced", "dsn"), "feedback": ("complained", "arf"), "delivery": ("delivered", "dsn")}


def ingest(runtime: Runtime, raw: bytes, envelope_recipient: str) -> str:
    """Record what a mail to a VERP address says about its message; returns what was done. A bounce
    marks it BOUNCED (a hard one suppresses the address), an ARF report COMPLAINED (suppressing it),
    a success DSN DELIVERED; an auto-reply, a challenge-response or a delay notice changes nothing."""
    message_id = bounces.message_id_from_address(envelope_recipient)
    report = bounces.parse(raw, envelope_recipient=envelope_recipient)
    if report.kind not in RECORDED_KINDS or message_id is None:
        log.info("inbound mail records nothing", kind=report.kind, recipient=envelope_recipient)
        return report.kind
    if report.returned_message_id not in (None, message_id):
        log.warning(
            "report names another message than its return path; ignored",
            recipient=envelope_recipient,
            returned_message_id=str(report.returned_message_id),
        )
        return "mismatch"
    event_type, source = RECORDED_KINDS[report.kind]
    with runtime.db.session() as session:
        message = session.get(Message, message_id)
        details = _event_details(report, message) if message else None
        if message is None or details is None:
            log.warning("report for no message of ours; ignored", message_id=str(message_id), found=message is not None)
            return "unknown_message"
        new = event_service.record(
            session,
            event_service.NewEvent(
                message_id=message.id,
                type=event_type,
                details=details | {"source": source},
                dedup_key=f"{source}:{event_type}:{message.id.hex}:{report.fingerprint}",
            ),
        )
    log.info(
        f"{event_type} recorded" if new else f"{event_type} already recorded",
        message_id=str(message_id),
        hard=details.get("hard"),
        reason=details.get("reason"),
    )
    return "recorded" if new else "duplicate"


def _event_details(report: bounces.BounceReport, message: Message) -> dict | None:
    """What the event keeps of the report's word on this message's recipient; an ARF report that
    redacts the recipient still names our message by its return path."""
    recipient = _recipient(report, message)
    if recipient is not None:
        details = recipient.details() | {"recipient": recipient.email}
    elif report.kind == "feedback":
        details = {"reason": "feedback", "recipient": message.email}
    else:
        return None
    if report.kind == "feedback":
        details = {k: details[k] for k in ("reason", "recipient")} | {"feedback_type": report.feedback_type}
    elif report.kind == "delivery" and recipient is not None:
        details = details | {"action": recipient.action}
    return details


def _recipient(report: bounces.BounceReport, message: Message) -> bounces.BouncedRecipient | None:
    """The report's word on this message's recipient: by address, or the only one it names (a bounce
    from where the address forwarded to)."""
    by_address = {r.email: r for r in report.recipients}
    if message.email.lower() in by_address:
        return by_address[message.email.lower()]
    return report.recipients[0] if len(report.recipients) == 1 else None


def start_listener(runtime: Runtime) -> Controller:
    """Start the listener on inbound_host:inbound_port in a thread of its own; stop it with `.stop()`."""
    settings = runtime.settings
    controller = Controller(
        BounceHandler(runtime),
        hostname=settings.inbound_host,
        port=settings.inbound_port,
        data_size_limit=MAX_BOUNCE_BYTES,
    )
    controller.start()
    return controller
