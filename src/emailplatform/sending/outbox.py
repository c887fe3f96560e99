"""The outbox: what the capture transport kept, newest first, and each message read back.

A page of the outbox is a page of the tenant's sent messages (keyset on their time-ordered ids), each read back
from storage: it costs the same with ten captured messages or a million. A message another transport sent has
no copy in storage and is left out of its page.
"""

import uuid
from email.message import EmailMessage

from sqlalchemy import select
from sqlalchemy.orm import Session

from emailplatform.models import Message
from emailplatform.pagination import paginate
from emailplatform.sending.transports.capture import CapturedSummary, parse_captured, read_captured, read_summary
from emailplatform.storage import Storage


def list_captured(
    session: Session, storage: Storage, tenant_id: uuid.UUID, *, limit: int, cursor: str | None
) -> tuple[list[CapturedSummary], str | None]:
    """A page of the tenant's captured messages and the cursor of the next page (None on the last)."""
    sent = select(Message).where(Message.tenant_id == tenant_id, Message.sent_at.is_not(None))
    messages, next_cursor = paginate(session, sent, (Message.id,), cursor=cursor, limit=limit, descending=True)
    summaries = (read_summary(storage, tenant_id, message.id) for message in messages)
    return [summary for summary in summaries if summary is not None], next_cursor


def captured_message(storage: Storage, tenant_id: uuid.UUID, message_id: uuid.UUID) -> EmailMessage | None:
    raw = read_captured(storage, tenant_id, message_id)
    return parse_captured(raw) if raw is not None else None


def body(message: EmailMessage, subtype: str) -> str | None:
    """The message's text ("plain") or HTML ("html") body, with \n line ends; None when it has none or it
    cannot be read."""
    part = message.get_body((subtype,))
    try:
        return part.get_content().replace("\r\n", "\n") if part else None
    except (LookupError, ValueError):  # a charset or encoding Python cannot read
        return None
