"""What a received mail is, and what it says about each recipient."""

import uuid
from dataclasses import dataclass, field

# What a mail can be: a failure report, a delay or delivery notice, a complaint, or a reply by a machine.
KINDS = ("bounce", "delay", "delivery", "feedback", "auto_reply", "challenge_response", "not_a_bounce")


@dataclass(frozen=True, kw_only=True)
class Classification:
    """What an SMTP reply says: its codes, its words, its reason, and whether the address itself is bad."""

    status: str | None  # the enhanced status code, x.y.z
    smtp_code: int | None
    diagnostic: str
    reason: str  # one of taxonomy.REASONS
    hard: bool

    def details(self) -> dict:
        return {
            "hard": self.hard,
            "status": self.status,
            "smtp_code": self.smtp_code,
            "diagnostic": self.diagnostic,
            "reason": self.reason,
        }


@dataclass(frozen=True, kw_only=True)
class BouncedRecipient(Classification):
    email: str
    action: str = "failed"  # as a DSN says: failed, delayed, delivered, relayed, expanded

    def to_dict(self) -> dict:
        return {"email": self.email, "action": self.action} | self.details()


@dataclass(frozen=True)
class BounceReport:
    kind: str  # one of KINDS
    recipients: list[BouncedRecipient] = field(default_factory=list)
    message_id: uuid.UUID | None = None  # ours: from the VERP address, else from the returned headers
    returned_message_id: uuid.UUID | None = None  # ours, as the returned headers name it
    fingerprint: str = ""  # the same mail delivered twice has the same fingerprint
    format: str | None = None  # which format was read: dsn, qmail, exim, exchange, arf…
    feedback_type: str | None = None  # an ARF report's Feedback-Type (abuse, fraud, virus…)

    @property
    def is_bounce(self) -> bool:
        return self.kind == "bounce" and bool(self.recipients)

    def to_dict(self) -> dict:
        return {
            "is_bounce": self.is_bounce,
            "kind": self.kind,
            "format": self.format,
            "is_auto_reply": self.kind in ("auto_reply", "challenge_response"),
            "is_feedback_report": self.kind == "feedback",
            "is_delivery_notice": self.kind in ("delivery", "delay"),
            "feedback_type": self.feedback_type,
            "message_id": str(self.message_id) if self.message_id else None,
            "recipients": [r.to_dict() for r in self.recipients],
        }
