"""The embedded default's transport: every message is kept as an .eml file in storage, and the outbox
lists them (sending/outbox.py), so a campaign can be tried end to end without sending a single email."""

import asyncio
import email
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import parsedate_to_datetime

from emailplatform.sending.transports.base import Handover, OutgoingMessage, SendResult, SendStatus, at_once
from emailplatform.storage import Storage, StoredFileMissing
from emailplatform.storage.local import LocalStorage

HEADER_READ_LIMIT = 256 * 1024


def outbox_key(tenant_id: uuid.UUID, message_id: uuid.UUID) -> str:
    return f"outbox/{tenant_id}/{message_id}.eml"


class CaptureTransport:
    def __init__(self, storage: Storage):
        self.storage = storage
        # a local write (~0.25 ms) costs twice as much through a thread; a network store must not block the loop
        self.put_in_thread = not isinstance(storage, LocalStorage)

    async def send(self, message: OutgoingMessage, handover: Handover = at_once) -> SendResult:
        key = outbox_key(message.tenant_id, message.message_id)
        await handover()
        try:
            if self.put_in_thread:
                await asyncio.to_thread(self.storage.put, key, message.raw)
            else:
                self.storage.put(key, message.raw)
        except OSError as exc:
            return SendResult(SendStatus.RETRY, response=f"the outbox could not keep the message: {exc}")
        return SendResult(
            SendStatus.SENT, response="250 captured in the outbox", provider_id=str(message.message_id), delivered=True
        )

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


def read_summary(storage: Storage, tenant_id: uuid.UUID, message_id: uuid.UUID) -> CapturedSummary | None:
    """The headers and size of a captured message, or None when this tenant has none with that id."""
    key = outbox_key(tenant_id, message_id)
    try:
        headers = _read_headers(storage, key)
    except StoredFileMissing:
        return None
    return CapturedSummary(
        message_id=message_id,
        to=_header(headers, "To"),
        from_=_header(headers, "From"),
        subject=_header(headers, "Subject"),
        date=_date(headers),
        size=storage.size(key) or 0,
    )


def read_captured(storage: Storage, tenant_id: uuid.UUID, message_id: uuid.UUID) -> bytes | None:
    """The raw captured message, or None when this tenant has none with that id."""
    try:
        with storage.open(outbox_key(tenant_id, message_id)) as stream:
            return stream.read()
    except StoredFileMissing:
        return None


def parse_captured(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=policy.default)


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
    if date and not date.tzinfo:  # a date given with no zone ("-0000") is taken as UTC
        return date.replace(tzinfo=UTC)
    return date
