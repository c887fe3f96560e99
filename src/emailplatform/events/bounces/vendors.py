"""Bounces without a delivery-status part: each MTA's own human text.

Every format names the failed address near the start of a line (qmail and Postfix `<a@b>:`,
Exim's indented address, Sendmail's `<a@b>... User unknown`, Exchange's `a@b` above
"Remote Server returned", Domino's "was not delivered to: a@b") and puts the server's reply on the
lines beside it. The formats differ in what marks them and in a few replies kept elsewhere, which
REPLY_ELSEWHERE finds.
"""

import email
import re
from dataclasses import dataclass
from email.message import Message
from email.utils import getaddresses, parseaddr

from emailplatform.events.bounces.text import (
    EMAIL,
    addresses_in,
    decoded_subject,
    payload_bytes,
    payload_text,
    sub_messages,
)

# Format name -> what marks it (subject, sender or text).
SIGNATURES = [
    ("qmail", r"qmail-send program|this is the qmail|vpopmail"),
    ("yahoo", r"unable to deliver your message to the following address|yahoo(inc)?\.com|yahoo! mail"),
    ("aol", r"aol\.com|america online"),
    ("gmail", r"google tried to deliver|gmail\.com|mail delivery subsystem"),
    (
        "exchange",
        r"delivery has failed to these recipients|did not reach (some or all of )?the intended recipients"
        r"|microsoft exchange|remote server returned|outlook\.com|diagnostic information for administrators",
    ),
    ("domino", r"was not delivered to:|lotus|domino"),
    ("exim", r"created automatically by mail delivery software|exim"),
    ("sendmail", r"transcript of session follows|permanent fatal errors|sendmail"),
    ("postfix", r"this is the mail system at host|postfix"),
    ("courier", r"courier mail server"),
    ("amazon_ses", r"amazonses|amazon ses"),
    ("amazon_workmail", r"workmail"),
    ("sendgrid", r"sendgrid"),
    ("mailgun", r"mailgun"),
    ("mdaemon", r"mdaemon"),
    ("groupwise", r"groupwise"),
    ("imail", r"\bimail\b"),
    ("zimbra", r"zimbra"),
    ("kerio", r"kerio"),
    ("mirapoint", r"mirapoint"),
    ("messagingserver", r"this report relates to a message you sent|messaging server|iplanet"),
    ("japanese", r"[\u3040-\u30ff]"),
    ("chinese", r"[\u4e00-\u9fff]"),
]
DELAY = re.compile(
    r"warning message only|will (continue to try|retry|try again|keep trying)|still (be )?trying|not yet been delivered"
    r"|has been delayed|delivery (is )?delayed|delayed mail|no action is required|could not (be delivered|send message) for (the )?past"
    r"|配信が遅延|延迟",
    re.IGNORECASE,
)
BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered|delivery (status notification|failure|failed|problem|report)|failure notice|returned mail"
    r"|mail delivery (failed|failure|system)|non[- ]?deliver|could not be delivered|not delivered|delivery error"
    r"|unzustellbar|nicht zustellbar|non remis|impossible de remettre|no se puede entregar|no entregado|non recapitato"
    r"|não entregue|niedostarczon|onbestelbaar|недоставлен|未送达|退信|投递失败|发送失败|配信エラー|配信不能|送信エラー|returned to sender",
    re.IGNORECASE,
)
# Recipient lines: the address first, perhaps after a short label ("Recipient:", "收件人：", "To:").
RECIPIENT_LINE = re.compile(
    r"^\s*(?:[-*•>]\s*)?(?:(?:[^\W\d_]+[ \t]?){1,3}[:：]\s*)?[<\"'(\[]?(" + EMAIL.pattern + r")", re.UNICODE
)
REPLY_ELSEWHERE = [
    re.compile(r"Remote Server returned '([^']+)'", re.IGNORECASE),  # Exchange 2007-2013
    re.compile(r"#([45]\d\d[ -][45]\.\d+\.\d+[^#]*)##"),  # Exchange 2010+: #550 5.1.1 RESOLVER…##
    re.compile(r"<[^<>\s]+ #([45]\.\d+\.\d+[^>]*)>"),  # Exchange 2003: <mx.example.com #5.1.1>
    re.compile(r"\(reason: ([^)]+)\)", re.IGNORECASE),  # Sendmail
    re.compile(r"because:\s*\n\s*\n?(.+)", re.IGNORECASE),  # Domino
    re.compile(r"(?:reason|原因|理由|Grund|raison|motivo)\s*[:：]\s*(.+)", re.IGNORECASE),
]
MAX_REPLY_LINES = 8
HAS_CODE = re.compile(r"\b[245]\d\d\b|\b[245]\.\d{1,3}\.\d{1,3}\b")


@dataclass(frozen=True)
class Failure:
    address: str
    reply: str  # the server's words about it, several lines joined


def identify(msg: Message, text: str) -> str:
    """The format's name, by its marks; `text` when none is known."""
    haystack = f"{msg.get('From', '')}\n{decoded_subject(msg)}\n{text[:4000]}"
    return next((name for name, mark in SIGNATURES if re.search(mark, haystack, re.IGNORECASE)), "text")


def looks_like_failure_notice(msg: Message) -> bool:
    sender = parseaddr(str(msg.get("From", "")))[1].lower()
    return (
        sender.startswith(("mailer-daemon", "postmaster", "mail-daemon", "mailer_daemon", "mdaemon", "nobody@"))
        or not sender
        or bool(BOUNCE_SUBJECT.search(decoded_subject(msg)))
        or msg.get("X-Failed-Recipients") is not None
    )


def is_delay(msg: Message, text: str) -> bool:
    return bool(DELAY.search(text) or re.search(r"delay|warning", decoded_subject(msg), re.IGNORECASE))


def failures(msg: Message, text: str) -> list[Failure]:
    """Each failed address the text names, with the reply beside it."""
    lines = text.splitlines()
    ignored = _not_recipients(msg)
    candidates = _recipient_lines(lines, ignored) or {a: [] for a in addresses_in(text) if a not in ignored}
    for address in _failed_header(msg):
        candidates.setdefault(address, [])
    if not candidates:
        candidates = {a: [] for a in returned_recipients(msg) if a not in ignored}
    return [
        Failure(address, _reply(lines, mentions, text, address, single=len(candidates) == 1))
        for address, mentions in candidates.items()
    ]


def _recipient_lines(lines: list[str], ignored: set[str]) -> dict[str, list[int]]:
    """Address -> the lines that start with it, in order of first appearance."""
    found: dict[str, list[int]] = {}
    for number, line in enumerate(lines):
        match = RECIPIENT_LINE.match(line)
        address = match.group(1).lower().strip(".") if match else None
        if address and address not in ignored:
            found.setdefault(address, []).append(number)
    return found


def _reply(lines: list[str], mentions: list[int], text: str, address: str, *, single: bool) -> str:
    """The server's reply about an address: the window after one of its lines that holds an SMTP code,
    else any line naming it with a code (a session transcript), else (for a lone recipient) a reply
    kept elsewhere, else the first window."""
    windows = [_window(lines, start) for start in mentions]
    coded = [w for w in windows if HAS_CODE.search(w)]
    coded += [line.strip() for line in lines if address in line.lower() and HAS_CODE.search(line)]
    if coded:
        return coded[0]
    elsewhere = next((m.group(1) for p in REPLY_ELSEWHERE if (m := p.search(text))), "") if single else ""
    return " ".join(part for part in ((windows or [""])[0], elsewhere) if part)


def _window(lines: list[str], start: int) -> str:
    """The address's line (without the address) and what follows, to a blank line after some text
    or the next recipient line."""
    first = EMAIL.sub("", lines[start], count=1).strip(" \t<>:\"'()[]-*•.")
    taken = [first] if first else []
    for line in lines[start + 1 : start + MAX_REPLY_LINES]:
        stripped = line.strip()
        if not stripped and taken:
            break
        if RECIPIENT_LINE.match(line) and not HAS_CODE.search(line):
            break
        if stripped:
            taken.append(stripped)
    return " ".join(taken)


def _not_recipients(msg: Message) -> set[str]:
    """Addresses a bounce names that are never the failed recipient: its own, ours, the daemon's."""
    own = {
        a.lower()
        for _, a in getaddresses([str(v) for h in ("From", "To", "Reply-To", "Sender") for v in msg.get_all(h, [])])
    }
    own |= {
        a.lower()
        for _, a in getaddresses(
            [str(v) for h in ("From", "Sender", "Return-Path") for v in _returned_headers(msg).get_all(h, [])]
        )
    }
    return {a for a in own if a} | {"mailer-daemon", "postmaster"}


def _failed_header(msg: Message) -> list[str]:
    return [a.lower() for _, a in getaddresses([str(v) for v in msg.get_all("X-Failed-Recipients", [])]) if "@" in a]


def returned_recipients(msg: Message) -> list[str]:
    """The To of the returned message (ours name one recipient each)."""
    returned = _returned_headers(msg)
    return [a.lower() for _, a in getaddresses([str(v) for v in returned.get_all("To", [])]) if "@" in a]


def _returned_headers(msg: Message) -> Message:
    for part in msg.walk():
        if part.get_content_type() == "message/rfc822" and part.is_multipart():
            return sub_messages(part)[0]
        if part.get_content_type() == "text/rfc822-headers":
            return email.message_from_bytes(payload_bytes(part))
    body = payload_text(msg)
    marker = re.search(r"^(Return-Path|Received|From|Message-ID):", body or "", re.MULTILINE | re.IGNORECASE)
    quoted = (
        body[marker.start() :] if marker and re.search(r"copy of|original|below", body[: marker.start()], re.I) else ""
    )
    return email.message_from_string(quoted)
