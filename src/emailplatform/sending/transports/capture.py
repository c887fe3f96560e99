"""The embedded default's transport: every message is kept as an .eml file in storage, and the outbox
lists them, so a campaign can be tried end to end without sending a single email."""

import asyncio
import base64
import email
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import parsedate_to_datetime

from emailplatform.errors import Invalid
from emailplatform.pagination import MAX_LIMIT
from emailplatform.sending.transports.base import OutgoingMessage, SendResult, SendStatus
from emailplatform.storage import Storage, StoredFileMissing
from emailplatform.storage.local import LocalStorage

HEADER_READ_LIMIT = 256 * 1024
OLDEST = datetime.min.replace(tzinfo=timezone.utc)


def outbox_key(tenant_id: uuid.UUID, message_id: uuid.UUID) -> str:
    return f"outbox/{tenant_id}/{message_id}.eml"


class CaptureTransport:
    def __init__(self, storage: Storage):
        self.storage = storage
        # a local write (~0.25 ms) costs twice as much through a thread; a network store must not block the loop
        self.put_in_thread = not isinstance(storage, LocalStorage)

    async def send(self, message: OutgoingMessage) -> SendResult:
        key = outbox_key(message.tenant_id, message.message_id)
        try:
            if self.put_in_thread:
                await asyncio.to_thread(self.storage.put, key, message.raw)
            else:
                self.storage.put(key, message.raw)
        except OSError as exc:
            return SendResult(SendStatus.RETRY, response=f"the outbox could not keep the message: {exc}")
        return SendResult(SendStatus.SENT, response="250 captured in the outbox", provider_id=str(message.message_id))

    async def close(self) -> None:
        return None


@dataclass(frozen=True)
class CapturedSummary:
    message_id: uuid.UUID
    to: str | None
    from_: str | None
    subject: str | None
    date: datetime | None
    size: int


def list_captured(
    storage: Storage, tenant_id: uuid.UUID, *, limit: int, cursor: str | None
) -> tuple[list[CapturedSummary], str | None]:
    """A page of the tenant's captured messages, newest first, and the cursor of the next page (None on the last).
    Reads every captured message's headers: the outbox is for trying campaigns, not for millions of messages."""
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    summaries = sorted(_summaries(storage, tenant_id), key=_order, reverse=True)
    if cursor:
        after = _decode_cursor(cursor)
        summaries = [s for s in summaries if _order(s) < after]
    page = summaries[:limit]
    next_cursor = _encode_cursor(page[-1]) if len(summaries) > limit else None
    return page, next_cursor


def read_captured(storage: Storage, tenant_id: uuid.UUID, message_id: uuid.UUID) -> bytes | None:
    """The raw captured message, or None when this tenant has none with that id."""
    try:
        with storage.open(outbox_key(tenant_id, message_id)) as stream:
            return stream.read()
    except StoredFileMissing:
        return None


def parse_captured(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=policy.default)


def _summaries(storage: Storage, tenant_id: uuid.UUID):
    prefix = f"outbox/{tenant_id}/"
    for key in storage.list(prefix):
        name = key.removeprefix(prefix)
        if not name.endswith(".eml"):
            continue
        try:
            message_id = uuid.UUID(name.removesuffix(".eml"))
            headers = _read_headers(storage, key)
        except (ValueError, StoredFileMissing):
            continue
        yield CapturedSummary(
            message_id=message_id,
            to=_header(headers, "To"),
            from_=_header(headers, "From"),
            subject=_header(headers, "Subject"),
            date=_date(headers),
            size=storage.size(key) or 0,
        )


def _read_headers(storage: Storage, key: str) -> EmailMessage:
    head = b""
    with storage.open(key) as stream:
        while b"\r\n\r\n" not in head and b"\n\n" not in head and len(head) < HEADER_READ_LIMIT:
            chunk = stream.read(8192)
            if not chunk:
                break
            head += chunk
    return BytesHeaderParser(policy=policy.default).parsebytes(head)


def _header(headers: EmailMessage, name: str) -> str | None:
    value = headers.get(name)
    return None if value is None else str(value)


def _date(headers: EmailMessage) -> datetime | None:
    value = headers.get("Date")
    try:
        date = parsedate_to_datetime(str(value)) if value is not None else None
    except (TypeError, ValueError):
        return None
    return _aware(date) if date else None


def _aware(date: datetime) -> datetime:
    """A date a message gives with no zone ("-0000") is taken as UTC."""
    return date if date.tzinfo else date.replace(tzinfo=timezone.utc)


def _order(summary: CapturedSummary) -> tuple[datetime, str]:
    return (summary.date or OLDEST, str(summary.message_id))


def _encode_cursor(summary: CapturedSummary) -> str:
    date, message_id = _order(summary)
    return base64.urlsafe_b64encode(f"{date.isoformat()}|{message_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        plain = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        date, message_id = plain.split("|")
        return _aware(datetime.fromisoformat(date)), str(uuid.UUID(message_id))
    except (ValueError, UnicodeDecodeError):
        raise Invalid("the cursor is not one this API gave out", field="cursor") from None
