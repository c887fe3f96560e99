"""From an SMTP reply (codes and words) to a reason of the taxonomy, and hard or soft.

The order decides: vendor tokens that name an unknown recipient; the enhanced codes that name the
sender's fault (5.7.26…); the words that blame the sender, its IP or its message; the other
specific enhanced codes (5.1.1, 5.2.2…); the words about the recipient's mailbox; then a fallback
from the code's class. Hard only for a bad address said for good (see taxonomy).
"""

import re

from emailplatform.events.bounces import phrases
from emailplatform.events.bounces.report import Classification
from emailplatform.events.bounces.taxonomy import is_hard

ENHANCED_STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
SMTP_CODE = re.compile(r"(?<![\d.#])([245][0-5]\d)(?:[ :-]|$)")
REPLY_PREFIX = re.compile(r"#?([245]\d\d)[ -](?:#?([245]\.\d{1,3}\.\d{1,3})\s)?\s*")
CONTINUATION = re.compile(r"\s[245]\d\d[ -](?:[245]\.\d{1,3}\.\d{1,3}\s)?")
MAX_DIAGNOSTIC = 500

# RFC 3463 / RFC 7372 codes that blame the sender or its message, whatever the words.
SENDER_CODES = {
    "7.7": "securityerror",
    "7.8": "securityerror",
    "7.10": "securityerror",
    "7.11": "securityerror",
    "7.14": "securityerror",
    "7.20": "securityerror",
    "7.21": "securityerror",
    "7.22": "securityerror",
    "7.23": "securityerror",
    "7.24": "securityerror",
    "7.25": "securityerror",
    "7.26": "securityerror",
    "7.27": "rejected",
    "7.28": "ratelimited",
    "7.29": "securityerror",
    "7.30": "securityerror",
    "1.7": "rejected",
    "1.8": "rejected",
}
# The codes specific enough to decide once nothing blames the sender: "subject.detail" -> reason.
RECIPIENT_CODES = {
    "1.1": "userunknown",
    "1.2": "hostunknown",
    "1.3": "userunknown",
    "1.6": "hasmoved",
    "2.1": "suspend",
    "2.2": "mailboxfull",
    "2.3": "mesgtoobig",
    "3.1": "systemfull",
    "3.4": "mesgtoobig",
    "4.4": "hostunknown",
    "4.7": "expired",
    "5.3": "exceedlimit",
    "7.13": "suspend",
    "7.16": "mesgtoobig",
    "7.17": "hasmoved",
    "7.18": "hasmoved",
}
# When nothing else says more: the code's subject.
SUBJECT_FALLBACK = {
    "2": "mailboxfull",
    "3": "systemerror",
    "4": "networkerror",
    "5": "syntaxerror",
    "6": "contenterror",
    "7": "policyviolation",
}


def classify_reply(smtp_code: int | None, text: str, *, permanent: bool | None = None) -> Classification:
    """Classify an SMTP reply, as a server answered at sending time or as a bounce quotes it."""
    diagnostic = clean(text)
    return classify(status_in(diagnostic), smtp_code or code_in(diagnostic), diagnostic, permanent=permanent)


def classify(
    status: str | None, smtp_code: int | None, diagnostic: str, *, permanent: bool | None = None, given_up: bool = False
) -> Classification:
    """`permanent`: what the report says when neither code does (a DSN's failed action, qmail's
    "permanent error"); a 4 in either code always makes it temporary. `given_up`: the sender's MTA
    stopped retrying a temporary failure, which is an expiry unless the words say more."""
    temporary = (status or "").startswith("4") or str(smtp_code or "").startswith("4")
    said_permanent = (status or "").startswith("5") or str(smtp_code or "").startswith("5")
    final = not temporary and (said_permanent or bool(permanent))
    reason = _reason(status, diagnostic, final, given_up and temporary)
    return Classification(
        status=status, smtp_code=smtp_code, diagnostic=diagnostic, reason=reason, hard=is_hard(reason, final)
    )


def _reason(status: str | None, diagnostic: str, permanent: bool, expired: bool) -> str:
    detail = status.partition(".")[2] if status else ""
    if detail == "1.10":  # RFC 7505 null MX; Office 365 says it of an unknown recipient too
        return "notaccept" if re.search(r"null ?mx", diagnostic, re.IGNORECASE) else "userunknown"
    return (
        phrases.match(phrases.ADDRESS_FIRST, diagnostic)
        or SENDER_CODES.get(detail)
        or phrases.match(phrases.SENDER_SIDE, diagnostic)
        or RECIPIENT_CODES.get(detail)
        or phrases.match(phrases.RECIPIENT_SIDE, diagnostic)
        or ("expired" if expired else None)
        or SUBJECT_FALLBACK.get(detail.partition(".")[0])
        or "undefined"
    )


def clean(text: str) -> str:
    """One line: folding undone, and the codes a multi-line reply repeats on each line kept once, in front."""
    one_line = " ".join((text or "").split())
    prefix = REPLY_PREFIX.match(one_line)
    if not prefix:
        return one_line[:MAX_DIAGNOSTIC]
    codes = " ".join(code for code in prefix.groups() if code)
    rest = CONTINUATION.sub(" ", " " + one_line[prefix.end() :]).strip()
    return f"{codes} {rest}".strip()[:MAX_DIAGNOSTIC]


def status_in(text: str) -> str | None:
    match = ENHANCED_STATUS.search(text or "")
    return ".".join(match.groups()) if match else None


def code_in(text: str) -> int | None:
    match = SMTP_CODE.search(text) if text else None
    return int(match.group(1)) if match else None
