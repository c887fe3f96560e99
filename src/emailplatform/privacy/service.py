"""One person's data in a tenant: exported as JSON, or erased everywhere it is kept.

Erasure removes the person's events, webhook deliveries (with their attempts' request and response logs),
captured messages and skipped-row reports; redacts their rows in the stored recipients files and batch files
(emptied in place, see privacy/files.py); and replaces their address, on their messages and on the suppression
list, by its hash (privacy/hashing.py): the address stays suppressed, so a message still waiting is not sent, and
a later upload of it is not sent to either. It is idempotent: erasing again finds what a campaign still being
split wrote since."""

import uuid
from collections import defaultdict
from dataclasses import asdict, dataclass

from sqlalchemy import Text, cast, delete, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from emailplatform.address_hashing import PREFIX, address_hash
from emailplatform.campaigns import splitting
from emailplatform.campaigns.recipients import Layout
from emailplatform.db import rowcount
from emailplatform.errors import Invalid, NotFound
from emailplatform.models import (
    Batch,
    Event,
    File,
    Message,
    RowError,
    Suppression,
    TenantErasures,
    Transaction,
    WebhookAttempt,
    WebhookDelivery,
    utcnow,
)
from emailplatform.privacy import files
from emailplatform.runtime import Storage
from emailplatform.sending.transports import capture
from emailplatform.storage import StoredFileMissing
from emailplatform.suppressions import service as suppression

ERASED_DETAILS = "erased on request"


@dataclass
class Erased:
    messages: int = 0
    events: int = 0
    webhook_deliveries: int = 0
    captured_messages: int = 0
    batch_rows: int = 0
    source_file_rows: int = 0
    row_errors: int = 0
    suppression_kept_as_hash: bool = True

    def as_dict(self) -> dict:
        return asdict(self)


def checked_address(email: str) -> str:
    """The address as looked up: lowercased; a 422 naming `email` unless it looks like one."""
    address = email.strip().lower()
    local, _, domain = address.rpartition("@")
    if not local or not domain or len(address) > 320 or address.startswith(PREFIX):
        raise Invalid("not an email address: it needs a local part, an @ and a domain", field="email")
    return address


def _messages(session: Session, tenant_id: uuid.UUID, address: str) -> list[Message]:
    hashed = address_hash(tenant_id, address)
    return list(
        session.scalars(
            select(Message)
            .where(Message.tenant_id == tenant_id, or_(func.lower(Message.email) == address, Message.email == hashed))
            .order_by(Message.id)
        )
    )


def _row_errors(session: Session, tenant_id: uuid.UUID, address: str) -> list[RowError]:
    return list(
        session.scalars(select(RowError).where(RowError.tenant_id == tenant_id, func.lower(RowError.email) == address))
    )


def _deliveries_of(session: Session, message: Message) -> list[WebhookDelivery]:
    return list(
        session.scalars(
            select(WebhookDelivery).where(
                WebhookDelivery.tenant_id == message.tenant_id,
                WebhookDelivery.transaction_id == message.transaction_id,
                cast(WebhookDelivery.payload, Text).contains(str(message.id)),
            )
        )
    )


def export(storage: Storage, session: Session, tenant_id: uuid.UUID, email: str) -> dict:
    """Everything the tenant keeps about the address, as plain JSON values."""
    address = checked_address(email)
    messages = _messages(session, tenant_id, address)
    skipped = _row_errors(session, tenant_id, address)
    entry = session.scalar(
        select(Suppression).where(
            Suppression.tenant_id == tenant_id, Suppression.email.in_([address, address_hash(tenant_id, address)])
        )
    )
    if not messages and entry is None and not skipped:
        raise NotFound("nothing about this address is kept in this tenant", field="email")
    return {
        "email": address,
        "suppression": entry and {"reason": entry.reason, "details": entry.details, "created_at": entry.created_at},
        "messages": [_exported_message(storage, session, message) for message in messages],
        "skipped_rows": [
            {"transaction_id": e.transaction_id, "row_number": e.row_number, "reason": e.reason} for e in skipped
        ],
    }


def _exported_message(storage: Storage, session: Session, message: Message) -> dict:
    campaign = session.get_one(Transaction, message.transaction_id)
    events = session.scalars(select(Event).where(Event.message_id == message.id).order_by(Event.id))
    captured = capture.read_captured(storage, message.tenant_id, message.id)
    return {
        "message_id": message.id,
        "transaction_id": message.transaction_id,
        "campaign_name": campaign.name,
        "email": message.email,
        "status": message.status,
        "last_error": message.last_error,
        "created_at": message.created_at,
        "sent_at": message.sent_at,
        "delivered_at": message.delivered_at,
        "data": splitting.message_data(storage, session, message),
        "events": [{"type": e.type, "occurred_at": e.occurred_at, "details": e.details} for e in events],
        "webhook_deliveries": [
            {
                "event_type": d.event_type,
                "url": d.url,
                "status": d.status,
                "created_at": d.created_at,
                "payload": d.payload,
            }
            for d in _deliveries_of(session, message)
        ],
        "captured_message": captured.decode("utf-8", "replace") if captured is not None else None,
    }


def erase(storage: Storage, session: Session, tenant_id: uuid.UUID, email: str) -> Erased:
    """Erase the address from the tenant's data (see the module's docstring); what was removed, counted."""
    address = checked_address(email)
    hashed = address_hash(tenant_id, address)
    messages = _messages(session, tenant_id, address)
    row_errors = _row_errors(session, tenant_id, address)
    erased = Erased(messages=len(messages), row_errors=len(row_errors))
    for message in messages:
        erased.webhook_deliveries += _erase_deliveries(session, message)
        erased.captured_messages += _erase_captured(storage, message)
    erased.events = _erase_events(session, [m.id for m in messages])
    erased.batch_rows = _redact_batches(storage, session, messages)
    campaigns = {m.transaction_id for m in messages} | {e.transaction_id for e in row_errors}
    erased.source_file_rows = _redact_sources(storage, session, campaigns, address)
    for row_error in row_errors:
        session.delete(row_error)
    _pseudonymise_messages(session, messages, address, hashed)
    _suppress_as_hash(session, tenant_id, address, hashed)
    _count_erasure(session, tenant_id)
    session.flush()
    return erased


def _count_erasure(session: Session, tenant_id: uuid.UUID) -> None:
    """From now on the tenant's suppression checks look for hashes too (suppressions/service.py)."""
    dialect_insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    now = utcnow()
    session.execute(
        dialect_insert(TenantErasures)
        .values(tenant_id=tenant_id, erasures=1, last_erased_at=now)
        .on_conflict_do_update(
            index_elements=["tenant_id"],
            set_={"erasures": TenantErasures.erasures + 1, "last_erased_at": now},
        )
    )


def _erase_deliveries(session: Session, message: Message) -> int:
    ids = [d.id for d in _deliveries_of(session, message)]
    if ids:
        session.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(ids)))
        session.execute(delete(WebhookDelivery).where(WebhookDelivery.id.in_(ids)))
    return len(ids)


def _erase_captured(storage: Storage, message: Message) -> int:
    key = capture.outbox_key(message.tenant_id, message.id)
    if storage.size(key) is None:
        return 0
    storage.delete(key)
    return 1


def _erase_events(session: Session, message_ids: list[uuid.UUID]) -> int:
    return rowcount(session.execute(delete(Event).where(Event.message_id.in_(message_ids)))) if message_ids else 0


def _redact_batches(storage: Storage, session: Session, messages: list[Message]) -> int:
    positions: dict[uuid.UUID, set[int]] = defaultdict(set)
    for message in messages:
        positions[message.batch_id].add(message.position)
    for batch_id, rows in positions.items():
        key = session.get_one(Batch, batch_id).storage_key
        try:
            with storage.open(key) as stream:
                data = stream.read()
        except StoredFileMissing:  # retention removed it already
            continue
        storage.put(key, files.redact_positions(data, rows))
    return sum(len(rows) for rows in positions.values())


def _redact_sources(storage: Storage, session: Session, campaign_ids: set[uuid.UUID], address: str) -> int:
    redacted = 0
    sources = (
        session.execute(
            select(File.storage_key, Transaction.recipients_layout)
            .join(Transaction, Transaction.file_id == File.id)
            .where(Transaction.id.in_(campaign_ids))
        ).all()
        if campaign_ids
        else []
    )
    for key, layout in sources:
        try:
            with storage.open(key) as stream:
                data = stream.read()
        except StoredFileMissing:
            continue
        data, rows = files.redact_recipients_file(data, Layout.from_dict(layout) if layout else None, address)
        if rows:
            storage.put(key, data)
            redacted += rows
    return redacted


def _pseudonymise_messages(session: Session, messages: list[Message], address: str, hashed: str) -> None:
    """The message rows stay (they are the campaign's counts) under the address's hash; an SMTP reply that
    quoted the address loses it."""
    for message in messages:
        message.email = hashed
        if message.last_error:
            message.last_error = _without(message.last_error, address)


def _without(text: str, address: str) -> str:
    lowered, at = text.lower(), 0
    parts = []
    while (found := lowered.find(address, at)) >= 0:
        parts.append(text[at:found] + "[erased]")
        at = found + len(address)
    return "".join(parts) + text[at:]


def _suppress_as_hash(session: Session, tenant_id: uuid.UUID, address: str, hashed: str) -> None:
    """The entry of the address, if any, now holds its hash (and no diagnostic that could quote it); an address
    that was not suppressed is from now on."""
    entries = {
        e.email: e
        for e in session.scalars(
            select(Suppression).where(Suppression.tenant_id == tenant_id, Suppression.email.in_([address, hashed]))
        )
    }
    plain = entries.get(address)
    if plain is not None and hashed in entries:
        session.delete(plain)
    elif plain is not None:
        plain.email, plain.details = hashed, ERASED_DETAILS
    elif hashed not in entries:
        suppression.add(session, tenant_id, hashed, "manual", details=ERASED_DETAILS)
