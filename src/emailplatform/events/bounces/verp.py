"""The VERP local part that names a message, and the message a bounce names."""

import re
import uuid
from email.message import Message
from email.utils import getaddresses, parseaddr

VERP_LOCAL_PART = re.compile(r"bounces\+([0-9a-f]{32})", re.IGNORECASE)
RETURNED_MESSAGE_ID = re.compile(r"^[ \t]*Message-ID:\s*<([0-9a-f]{32})@[^>\s]+>", re.IGNORECASE | re.MULTILINE)


def verp_local_part(message_id: uuid.UUID) -> str:
    """The local part of the return path that names a message (sending/decorate.py adds the domain)."""
    return f"bounces+{message_id.hex}"


def message_id_from_address(address: str) -> uuid.UUID | None:
    """The message a VERP address (`bounces+<id>@…`, bare or in angle brackets) names; None for any other."""
    local = parseaddr(address or "")[1].rpartition("@")[0]
    match = VERP_LOCAL_PART.fullmatch(local)
    return uuid.UUID(match.group(1)) if match else None


def is_verp(address: str) -> bool:
    return bool(VERP_LOCAL_PART.match(address.rpartition("@")[0]))


def verp_message_id(msg: Message, envelope_recipient: str | None) -> uuid.UUID | None:
    """The message named by the VERP address a mail came to (the envelope's, else its headers')."""
    headers = [str(v) for h in ("Delivered-To", "X-Original-To", "To") for v in msg.get_all(h, [])]
    for address in [envelope_recipient or ""] + [a for _, a in getaddresses(headers)]:
        found = message_id_from_address(address)
        if found:
            return found
    return None


def returned_message_id(raw: bytes) -> uuid.UUID | None:
    """Our message's id from the Message-ID of the returned message or headers (`<32 hex@domain>`),
    wherever the bounce's body quotes them."""
    match = RETURNED_MESSAGE_ID.search(body(raw).decode("latin-1"))
    return uuid.UUID(match.group(1)) if match else None


def body(raw: bytes) -> bytes:
    parts = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)
    return parts[1] if len(parts) == 2 else b""
