"""Bounces: the VERP return path that names a message, and what a mail that comes back to it says.

`parse` tells apart, in this order: ARF feedback reports (complaints); RFC 3464 delivery status
notifications (failures, delays, and success notices); auto-replies and challenge-responses; and
the human-text bounces of MTAs that send no DSN (vendors.py). Each recipient gets a reason from one
taxonomy (taxonomy.py) and hard or soft from that reason (classify.py). The same words classify
the SMTP replies a server gives while we send (`classify_reply`).
"""

import email
import email.policy
import hashlib
from email.message import Message
from functools import partial

import structlog
from flufl.bounce import all_failures

from emailplatform.events.bounces import dsn, machine_replies, text, vendors
from emailplatform.events.bounces.classify import classify_reply
from emailplatform.events.bounces.report import BouncedRecipient, BounceReport, Classification
from emailplatform.events.bounces.taxonomy import HARD_REASONS, REASONS
from emailplatform.events.bounces.verp import (
    body,
    message_id_from_address,
    returned_message_id,
    verp_local_part,
    verp_message_id,
)

__all__ = [
    "HARD_REASONS",
    "REASONS",
    "BounceReport",
    "BouncedRecipient",
    "Classification",
    "classify_reply",
    "message_id_from_address",
    "parse",
    "returned_message_id",
    "verp_local_part",
]
log = structlog.get_logger("emailplatform.bounces")
# A DSN is a bounce when a recipient failed, else a delay when one is delayed, else a delivery notice.
KIND_BY_ACTIONS = [("bounce", {"failed"}), ("delay", {"delayed"}), ("delivery", {"delivered", "relayed", "expanded"})]


def parse(raw: bytes, *, envelope_recipient: str | None = None) -> BounceReport:
    """What a received mail is and says about its recipients. Never raises for what the mail contains."""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    returned = returned_message_id(raw)
    found = partial(
        BounceReport,
        message_id=verp_message_id(msg, envelope_recipient) or returned,
        returned_message_id=returned,
        fingerprint=_fingerprint(msg, raw),
    )
    try:
        return _read(msg, found)
    except Exception:  # the email package trips on some malformed mail: then it is nothing we can read
        log.warning("a mail could not be read as a bounce", exc_info=True)
        return found("not_a_bounce")


def _read(msg: Message, found: partial) -> BounceReport:
    return (
        _feedback(msg, found)
        or _status_notification(msg, found)
        or _machine_reply(msg, found)
        or _human_text_bounce(msg, found)
        or found("not_a_bounce")
    )


def _feedback(msg: Message, found: partial) -> BounceReport | None:
    report = machine_replies.feedback_report(msg)
    if report is None:
        return None
    fields, recipients = report
    feedback_type = fields.get("feedback-type", "abuse").strip().lower()
    named = [
        BouncedRecipient(
            email=a,
            action="complained",
            status=None,
            smtp_code=None,
            diagnostic=fields.get("user-agent", ""),
            reason="feedback",
            hard=False,
        )
        for a in recipients
    ]
    return found("feedback", named, format="arf", feedback_type=feedback_type)


def _status_notification(msg: Message, found: partial) -> BounceReport | None:
    """A DSN: its failed recipients make it a bounce; else its delays a delay; else a delivery notice."""
    blocks = dsn.status_blocks(msg)
    human = text.own_text(msg)
    if not blocks:
        blocks = dsn.inline_blocks(human) or None
    if blocks is None:
        return None
    failures = vendors.failures(msg, human) if human else []
    besides = {f.address: f.reply for f in failures}
    recipients = [r for r in (dsn.recipient(b, human_reply=_beside(b, besides)) for b in blocks) if r]
    for kind, actions in KIND_BY_ACTIONS:
        chosen = [r for r in recipients if r.action in actions]
        if chosen:
            return found(kind, chosen, format="dsn")
    return None  # a report that names no recipient: read its words instead


def _beside(block: dict[str, str], besides: dict[str, str]) -> str:
    address = dsn.typed_value(block.get("final-recipient") or block.get("original-recipient", "")).strip("<> ")
    return besides.get(address.lower(), "")


def _machine_reply(msg: Message, found: partial) -> BounceReport | None:
    if machine_replies.is_from_mailer_daemon(msg) or msg.get("X-Failed-Recipients") is not None:
        return None
    if machine_replies.is_challenge(msg):
        return found("challenge_response", format="challenge_response")
    if machine_replies.is_auto_reply(msg):
        return found("auto_reply", format="auto_reply")
    return None


def _human_text_bounce(msg: Message, found: partial) -> BounceReport | None:
    own = text.own_text(msg)
    if not vendors.looks_like_failure_notice(msg):
        return None
    delay = vendors.is_delay(msg, own)
    recipients = [_text_recipient(f, delay) for f in vendors.failures(msg, own)] or _flufl_recipients(msg, delay)
    if not recipients:
        return None
    return found("delay" if delay else "bounce", recipients, format=vendors.identify(msg, own))


def _text_recipient(failure: vendors.Failure, delay: bool) -> BouncedRecipient:
    classified = classify_reply(None, failure.reply, permanent=not delay)
    return BouncedRecipient(email=failure.address, action="delayed" if delay else "failed", **classified.details())


def _flufl_recipients(msg: Message, delay: bool) -> list[BouncedRecipient]:
    """The last resort: flufl.bounce's own heuristics for the address, with no reply to classify."""
    temporary, permanent = all_failures(msg)
    addresses = sorted({a.decode("ascii", "replace").lower() for a in temporary | permanent if b"@" in a})
    return [_text_recipient(vendors.Failure(a, ""), delay or a.encode() in temporary) for a in addresses]


def _fingerprint(msg: Message, raw: bytes) -> str:
    """The mail's own Message-ID, else its content: relays may add headers, never change either."""
    own_id = str(msg.get("Message-ID", "")).strip()
    basis = own_id.encode("utf-8", "replace") if own_id else body(raw) or raw
    return hashlib.sha256(basis).hexdigest()[:32]
