"""Bounces: the VERP return path that names a message, and what a bounce says about its recipients.

`parse` reads RFC 3464 delivery status notifications itself (every field of every recipient) and
finds the recipients of the non-standard formats (qmail, classic Exim, Yahoo, old Exchange…) with
flufl.bounce, then reads the SMTP reply beside each address. Auto-replies are never bounces.

Classification follows the common practice of bounce parsers (Sisimai, Haraka, Postal): a bounce is
HARD only when it says the address itself is bad (unknown user, unknown domain, moved); a full
mailbox, a temporary failure, or a refusal because of the sender's policy, reputation, content or
authentication (5.7.x) is SOFT and never suppresses the recipient.
"""

import email
import email.policy
import hashlib
import re
import uuid
from dataclasses import dataclass, field
from functools import partial
from email.message import Message
from email.utils import getaddresses, parseaddr

import structlog
from flufl.bounce import all_failures

from emailplatform.config import Settings

log = structlog.get_logger("emailplatform.bounces")

VERP_LOCAL_PART = re.compile(r"bounces\+([0-9a-f]{32})", re.IGNORECASE)
RETURNED_MESSAGE_ID = re.compile(r"^[ \t]*Message-ID:\s*<([0-9a-f]{32})@[^>\s]+>", re.IGNORECASE | re.MULTILINE)
ENHANCED_STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
SMTP_CODE = re.compile(r"(?<![\d.])([245]\d\d)(?:[ -]|$)")
REPLY_PREFIX = re.compile(r"([245]\d\d)[ -](?:([245]\.\d{1,3}\.\d{1,3})\s)?\s*")
CONTINUATION = re.compile(r"\s[245]\d\d[ -](?:[245]\.\d{1,3}\.\d{1,3}\s)?")
END_OF_REPORT = re.compile(
    r"^-+ ?(below this line|original message|this is a copy|enclosed are|forwarded message)|^-+ ?original",
    re.IGNORECASE,
)
MAX_DIAGNOSTIC = 500

# Phrases a reply uses, in the order they are tried: everything about the sender first, so a refusal
# of ours that happens to name the recipient is never mistaken for a bad address.
SOFT_PHRASES = [
    ("rate_limited", r"rate limit|too many (messages|connections|recipients)|throttl|try again later|receiving mail at a rate|unexpected volume"),
    ("authentication", r"dmarc|\bspf\b|dkim|unauthenticated|authentication|reverse dns|\bptr\b"),
    ("spam_content", r"\bspam\b|spammy|virus|phish|malware|suspicious|content (rejected|filter)|message content"),
    ("blocked", r"block ?list|blocked|blacklist|spamhaus|barracuda|\brbl\b|reputation|relay(ing)? (access )?denied|policy|not permitted|prohibited"),
    ("mailbox_full", r"mailbox (is )?full|over ?quota|quota exceeded|exceeded (its|the) (storage|quota)|out of storage|insufficient (system )?storage|mailbox size limit"),
    ("mailbox_disabled", r"disabled|inactive|suspended|deactivated"),
]
HARD_PHRASES = [
    ("user_unknown", (
        r"user unknown|unknown user|no such (user|mailbox|recipient|account)|does ?n[o']t exist|unknown recipient"
        r"|recipient unknown|invalid (recipient|mailbox|address)|(user|mailbox|recipient|address) not found"
        r"|recipnotfound|recipientnotfound|no mailbox here|unknown local.part|mailbox unavailable"
        r"|doesn't have an? [\w.-]+ account|not a valid mailbox|unrouteable address"
        r"|access denied\. as\(201806281\)"  # Office 365 directory-based edge blocking: no such recipient
    )),
    ("unknown_domain", (
        r"host or domain name not found|(domain|host) not found|no such domain|unknown domain|domain does ?n[o']t exist"
        r"|couldn't find any host|null mx|unrouteable mail domain|nxdomain"
    )),
    ("mailbox_moved", r"has moved|moved permanently|no longer (valid|available|in use)"),
]
# The enhanced status codes (RFC 3463) specific enough to decide alone: "subject.detail" -> reason.
STATUS_REASONS = {
    "1.1": "user_unknown", "1.2": "unknown_domain", "1.3": "user_unknown", "1.6": "mailbox_moved",
    "1.7": "sender_rejected", "1.8": "sender_rejected",
    "2.1": "mailbox_disabled", "2.2": "mailbox_full", "2.3": "message_too_large", "3.1": "mailbox_full",
    "3.4": "message_too_large", "7.7": "authentication", "7.23": "authentication", "7.25": "authentication",
    "7.26": "authentication", "7.27": "authentication", "7.28": "rate_limited",
}
HARD_REASONS = {"user_unknown", "unknown_domain", "mailbox_moved"}
AUTO_REPLY_SUBJECT = re.compile(
    r"^(auto(matic)? ?(reply|response|antwort)|out of (the )?office|abwesend|absence|vacation|autoreply|auto:)",
    re.IGNORECASE,
)


@dataclass(frozen=True, kw_only=True)
class Classification:
    """What an SMTP reply says: its codes, its words, and whether the address itself is bad."""

    status: str | None  # the enhanced status code, x.y.z
    smtp_code: int | None
    diagnostic: str
    reason: str
    hard: bool

    def details(self) -> dict:
        return {
            "hard": self.hard, "status": self.status, "smtp_code": self.smtp_code,
            "diagnostic": self.diagnostic, "reason": self.reason,
        }


@dataclass(frozen=True, kw_only=True)
class BouncedRecipient(Classification):
    email: str

    def to_dict(self) -> dict:
        return {"email": self.email} | self.details()


@dataclass(frozen=True)
class BounceReport:
    kind: str  # dsn | non_standard | delay | auto_reply | not_a_bounce
    recipients: list[BouncedRecipient] = field(default_factory=list)
    message_id: uuid.UUID | None = None  # ours: from the VERP address, else from the returned headers
    returned_message_id: uuid.UUID | None = None  # ours, as the returned headers name it
    fingerprint: str = ""  # the same bounce delivered twice has the same fingerprint

    @property
    def is_bounce(self) -> bool:
        return bool(self.recipients)

    def to_dict(self) -> dict:
        return {
            "is_bounce": self.is_bounce, "kind": self.kind,
            "message_id": str(self.message_id) if self.message_id else None,
            "recipients": [r.to_dict() for r in self.recipients],
        }


def return_path(message_id: uuid.UUID, from_email: str, settings: Settings) -> str:
    """The envelope sender of a message: `bounces+<id>@<bounce domain, or the sender's>`."""
    domain = settings.bounce_domain or from_email.rpartition("@")[2]
    return f"bounces+{message_id.hex}@{domain.encode('idna').decode('ascii').lower()}"


def message_id_from_address(address: str) -> uuid.UUID | None:
    """The message a VERP address (`bounces+<id>@…`, bare or in angle brackets) names; None for any other."""
    local = parseaddr(address or "")[1].rpartition("@")[0]
    match = VERP_LOCAL_PART.fullmatch(local)
    return uuid.UUID(match.group(1)) if match else None


def classify_reply(smtp_code: int | None, text: str) -> Classification:
    """Classify an SMTP reply, as a server answered at sending time or as a bounce quotes it."""
    diagnostic = _clean(text)
    return _classify(_status_in(diagnostic), smtp_code or _code_in(diagnostic), diagnostic)


def _classify(status: str | None, smtp_code: int | None, diagnostic: str) -> Classification:
    permanent = (status or str(smtp_code or 5)).startswith("5")  # a bounce that says nothing failed for good
    reason = _reason(status, diagnostic, permanent)
    return Classification(
        status=status, smtp_code=smtp_code, diagnostic=diagnostic, reason=reason,
        hard=permanent and reason in HARD_REASONS,
    )


def parse(raw: bytes, *, envelope_recipient: str | None = None) -> BounceReport:
    """What a received mail says: the failed recipients of a bounce, or that it is none. Never raises
    for what the mail contains."""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    returned = returned_message_id(raw)
    found = partial(
        BounceReport, message_id=_verp_message_id(msg, envelope_recipient) or returned,
        returned_message_id=returned, fingerprint=_fingerprint(msg, raw),
    )
    try:
        return _read(msg, found)
    except Exception:  # the email package trips on some malformed mail: then it is no bounce we can read
        log.warning("a mail could not be read as a bounce", exc_info=True)
        return found("not_a_bounce")


def _read(msg: Message, found: partial) -> BounceReport:
    statuses = _delivery_status_blocks(msg)
    if statuses is not None:
        recipients = [r for r in (_dsn_recipient(b) for b in statuses if _action(b) == "failed") if r]
        delayed = any(_action(block) == "delayed" for block in statuses)
        return found("dsn" if recipients else "delay" if delayed else "not_a_bounce", recipients)
    if _is_auto_reply(msg):
        return found("auto_reply")
    recipients = _non_standard_recipients(msg)
    return found("non_standard" if recipients else "not_a_bounce", recipients)


# --- RFC 3464 ---------------------------------------------------------------------------------


def _delivery_status_blocks(msg: Message) -> list[dict[str, str]] | None:
    """The per-recipient field blocks of the message/delivery-status part; None when there is none."""
    for part in msg.walk():
        if part.get_content_type() in ("message/delivery-status", "message/global-delivery-status"):
            return [b for b in _field_blocks(part) if "final-recipient" in b or "original-recipient" in b]
    return None


def _field_blocks(part: Message) -> list[dict[str, str]]:
    """Blocks of `Name: value` fields separated by blank lines, values unfolded (the stdlib splits
    well-formed parts into sub-messages; broken ones stay a string, which is read the same way)."""
    payload = part.get_payload(decode=False)
    if isinstance(payload, list):
        text = "\n\n".join("\n".join(f"{k}: {v}" for k, v in sub.items()) for sub in payload)
    else:
        text = part.get_payload(decode=True).decode("utf-8", "replace") if payload else ""
    blocks = []
    for chunk in re.split(r"\r?\n[ \t]*\r?\n", text):
        fields: dict[str, str] = {}
        name = None
        for line in chunk.splitlines():
            if line[:1] in (" ", "\t") and name:
                fields[name] += " " + line.strip()
            elif ":" in line:
                name, _, value = line.partition(":")
                name = name.strip().lower()
                fields[name] = value.strip()
        if fields:
            blocks.append(fields)
    return blocks


def _action(block: dict[str, str]) -> str:
    return block.get("action", "").strip().lower()


def _dsn_recipient(block: dict[str, str]) -> BouncedRecipient | None:
    address = _typed_value(block.get("final-recipient") or block.get("original-recipient", "")).strip("<>")
    if "@" not in address:
        return None
    diagnostic = _clean(_typed_value(block.get("diagnostic-code", "")))
    status = _status_in(block.get("status", "")) or _status_in(diagnostic)
    classified = _classify(status, _code_in(diagnostic), diagnostic)
    return BouncedRecipient(email=address.lower(), **classified.details())


def _typed_value(value: str) -> str:
    """`rfc822; a@b` -> `a@b`, `smtp; 550 …` -> `550 …`, `X-Postfix; …` -> `…`."""
    kind, semicolon, rest = value.partition(";")
    return (rest if semicolon and " " not in kind.strip() else value).strip()


# --- non-standard bounces ---------------------------------------------------------------------


def _is_auto_reply(msg: Message) -> bool:
    """RFC 3834 and the common vendor marks of vacation and out-of-office replies (mailer daemons
    mark their bounces auto-replied too)."""
    if _from_mailer_daemon(msg):
        return False
    headers = {k.lower(): str(v).strip().lower() for k, v in msg.items()}
    return (
        headers.get("auto-submitted", "no") != "no"
        or headers.get("precedence") == "auto_reply"
        or any(h in headers for h in ("x-autoreply", "x-autorespond", "x-autoresponder", "x-mailautoreply"))
        or bool(AUTO_REPLY_SUBJECT.match(headers.get("subject", "")))
    )


def _from_mailer_daemon(msg: Message) -> bool:
    sender = parseaddr(str(msg.get("From", "")))[1].lower()
    return sender.startswith(("mailer-daemon", "postmaster", "mail-daemon")) or not sender


def _non_standard_recipients(msg: Message) -> list[BouncedRecipient]:
    temporary, permanent = all_failures(msg)
    text = _human_text(msg)
    recipients = []
    for address in sorted({a.decode("ascii", "replace").lower() for a in temporary | permanent}):
        if "@" not in address:
            continue
        classified = classify_reply(None, _reply_beside(text, address))
        if address.encode() in temporary and classified.hard:
            classified = Classification(**(classified.details() | {"hard": False}))
        recipients.append(BouncedRecipient(email=address, **classified.details()))
    return recipients


def _human_text(msg: Message) -> str:
    """The bounce's own words: its text parts, not the returned message."""
    if msg.get_content_maintype() == "multipart":
        parts = msg.get_payload() if isinstance(msg.get_payload(), list) else []
        return "\n".join(_human_text(p) for p in parts if not p.get_content_type().startswith(("message/", "text/rfc822")))
    if msg.get_content_maintype() != "text":
        return ""
    body = msg.get_payload(decode=True) or b""
    try:
        text = body.decode(msg.get_content_charset() or "utf-8", "replace")
    except LookupError:
        text = body.decode("utf-8", "replace")
    return re.sub(r"<[^>]*>", " ", text) if msg.get_content_subtype() == "html" else text


def _reply_beside(text: str, address: str) -> str:
    """The lines that follow the first mention of an address, up to a blank line after some text
    or the returned message: where every non-standard format puts the reason."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if address in line.lower()), None)
    if start is None:
        return ""
    taken: list[str] = []
    for line in lines[start:start + 8]:
        if END_OF_REPORT.match(line.strip()) or (not line.strip() and len(taken) > 1):
            break
        taken.append(line.strip())
    reply = " ".join(t for t in taken if t)
    reply = re.sub(rf"^<?{re.escape(address)}>?:?\s*", "", reply, flags=re.IGNORECASE)
    code = SMTP_CODE.search(reply)
    return reply[code.start():] if code else reply


# --- shared -------------------------------------------------------------------------------


def _reason(status: str | None, diagnostic: str, permanent: bool) -> str:
    """The specific enhanced status codes decide alone; otherwise the words, the sender's side first."""
    detail = status.partition(".")[2] if status else ""
    lowered = diagnostic.lower()
    if detail == "1.10":  # RFC 7505 null MX; Office 365 says it of an unknown recipient too
        return "unknown_domain" if "null mx" in lowered else "user_unknown"
    if detail in STATUS_REASONS:
        return STATUS_REASONS[detail]
    sender_side = _matches(SOFT_PHRASES, lowered)
    if sender_side or detail.startswith("7."):
        return sender_side or "blocked"
    hard = _matches(HARD_PHRASES, lowered) if permanent else None
    if hard:
        return hard
    if detail.startswith("4."):
        return "network"
    return "rejected" if permanent else "temporary"


def _matches(phrases: list[tuple[str, str]], lowered: str) -> str | None:
    return next((reason for reason, pattern in phrases if re.search(pattern, lowered)), None)


def _clean(text: str) -> str:
    """One line: folding undone, and the codes a multi-line reply repeats on each line kept once, in front."""
    one_line = " ".join((text or "").split())
    prefix = REPLY_PREFIX.match(one_line)
    if not prefix:
        return one_line[:MAX_DIAGNOSTIC]
    codes = " ".join(code for code in prefix.groups() if code)
    rest = CONTINUATION.sub(" ", " " + one_line[prefix.end():]).strip()
    return f"{codes} {rest}".strip()[:MAX_DIAGNOSTIC]


def _status_in(text: str) -> str | None:
    match = ENHANCED_STATUS.search(text or "")
    return ".".join(match.groups()) if match else None


def _code_in(text: str) -> int | None:
    match = SMTP_CODE.search(text) if text else None
    return int(match.group(1)) if match else None


def _verp_message_id(msg: Message, envelope_recipient: str | None) -> uuid.UUID | None:
    """The message named by the VERP address a mail came to (the envelope's, else its headers')."""
    for address in [envelope_recipient or ""] + [a for _, a in getaddresses(
        [str(v) for h in ("Delivered-To", "X-Original-To", "To") for v in msg.get_all(h, [])]
    )]:
        found = message_id_from_address(address)
        if found:
            return found
    return None


def returned_message_id(raw: bytes) -> uuid.UUID | None:
    """Our message's id from the Message-ID of the returned message or headers (`<32 hex@domain>`),
    wherever the bounce's body quotes them."""
    match = RETURNED_MESSAGE_ID.search(_body(raw).decode("latin-1"))
    return uuid.UUID(match.group(1)) if match else None


def _body(raw: bytes) -> bytes:
    return re.split(rb"\r?\n\r?\n", raw, maxsplit=1)[1] if re.search(rb"\r?\n\r?\n", raw) else b""


def _fingerprint(msg: Message, raw: bytes) -> str:
    """The bounce's own Message-ID, else its content: relays may add headers, never change either."""
    own_id = str(msg.get("Message-ID", "")).strip()
    basis = own_id.encode("utf-8", "replace") if own_id else _body(raw) or raw
    return hashlib.sha256(basis).hexdigest()[:32]
