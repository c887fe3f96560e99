"""Transactional email: one email (or a batch of them) sent at once through the campaigns' pipeline. Each email is
a transaction of kind email with one batch, whose chunk keeps its content (emails/content.py), and one message a
recipient (to, cc and bcc), so suppression, tracking, DKIM, statuses, events, webhooks and analytics are the
campaigns' own."""

import html as html_escaping
import uuid
from datetime import datetime

from sqlalchemy import String, cast, select
from sqlalchemy.orm import Session

from emailplatform import idempotency
from emailplatform.campaigns import queries as campaign_queries
from emailplatform.campaigns import service as campaign_service
from emailplatform.campaigns import status as campaign_status
from emailplatform.domains import service as domain_service
from emailplatform.emails import content
from emailplatform.emails.schemas import EmailCreate, EmailsCreate
from emailplatform.errors import Invalid
from emailplatform.jobs import queue
from emailplatform.models import (
    Batch,
    BatchStatus,
    Message,
    MessageStatus,
    Transaction,
    TransactionKind,
    TransactionStatus,
    utcnow,
)
from emailplatform.models.base import time_ordered_id
from emailplatform.pagination import paginate
from emailplatform.runtime import Runtime
from emailplatform.templates import plaintext, rendering
from emailplatform.templates import service as template_service
from emailplatform.tenants import service as tenant_service


def send(
    session: Session, runtime: Runtime, tenant_id: uuid.UUID, body: EmailsCreate, idempotency_key: str | None
) -> dict:
    """Accept every email of the request, or none (the first bad one names its field); with an Idempotency-Key,
    a retry gets the first answer."""
    return idempotency.answer_once(
        session,
        tenant_id,
        idempotency_key,
        body.model_dump_json(by_alias=True),
        lambda: accept_all(session, runtime, tenant_id, body.emails),
    )


def accept_all(session: Session, runtime: Runtime, tenant_id: uuid.UUID, emails: list[EmailCreate]) -> dict:
    accepted, warnings = [], set()
    for index, email in enumerate(emails):
        prefix = f"emails.{index}." if len(emails) > 1 else ""
        transaction, warning = _accept(session, runtime, tenant_id, email, prefix)
        accepted.append(
            {"id": str(transaction.id), "status": transaction.status, "recipients": transaction.total_messages}
        )
        if warning:
            warnings.add(warning)
    return {"emails": accepted, "warnings": sorted(warnings)}


def _accept(
    session: Session, runtime: Runtime, tenant_id: uuid.UUID, email: EmailCreate, prefix: str
) -> tuple[Transaction, str | None]:
    from_email, from_name = _sender(session, tenant_id, email, prefix)
    warning = domain_service.check_sender(session, tenant_id, from_email, runtime.settings)
    recipients = _recipients(email)
    version, subject, stored = _content(session, runtime, tenant_id, email, recipients[0], prefix)
    now = utcnow()
    waiting = email.send_at is not None and email.send_at > now
    transaction = Transaction(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        kind=TransactionKind.EMAIL,
        name=subject[:200],
        template_id=version.template_id if version else None,
        template_version=version.version if version else None,
        from_email=from_email,
        from_name=from_name,
        reply_to=email.reply_to,
        send_at=email.send_at if waiting else None,
        batch_size=len(recipients),
        tracking=email.tracking,
        total_messages=len(recipients),
        processed_at=now,
        tags=email.tags or None,
        message_metadata=email.metadata or None,
    )
    key = content.chunk_key(tenant_id, transaction.id)
    content.store(runtime.storage, key, stored, len(recipients), email.data)
    batch = Batch(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        transaction_id=transaction.id,
        seq=0,
        status=BatchStatus.READY,
        message_count=len(recipients),
        storage_key=key,
    )
    status = MessageStatus.SCHEDULED if waiting else MessageStatus.READY_TO_SEND
    session.add(transaction)
    session.flush()  # no relationships tell the flush the order: the transaction goes first
    session.add_all([batch, *_messages(transaction, batch, recipients, status)])
    session.flush()
    campaign_status.add_messages(session, transaction.id, recipients, status)
    if waiting:
        campaign_status.set_status(session, transaction, TransactionStatus.SCHEDULED)
        queue.enqueue(
            session,
            campaign_service.RELEASE_JOB,
            {"transaction_id": str(transaction.id)},
            tenant_id=tenant_id,
            run_at=email.send_at,
        )
    else:
        campaign_status.set_status(session, transaction, TransactionStatus.READY_TO_SEND)
        campaign_status.enqueue_send(session, tenant_id, batch.id)
    return transaction, warning


def _sender(session: Session, tenant_id: uuid.UUID, email: EmailCreate, prefix: str) -> tuple[str, str | None]:
    """The email's `from`, else the tenant's default sender."""
    if isinstance(email.sender, str):
        return email.sender, None
    if email.sender is not None:
        return str(email.sender.email), email.sender.name
    default = tenant_service.default_sender(session, tenant_id)
    if default is None:
        raise Invalid(
            "the email has no sender: give `from`, or set the tenant's default sender (PUT /api/v1/tenant)",
            field=f"{prefix}from",
        )
    return default


def _recipients(email: EmailCreate) -> list[str]:
    """Every address of to, cc and bcc, each once (compared lowercased), in that order."""
    seen: dict[str, str] = {}
    for address in [*email.to, *email.cc, *email.bcc]:
        seen.setdefault(address.lower(), address)
    return list(seen.values())


def _content(session: Session, runtime: Runtime, tenant_id: uuid.UUID, email: EmailCreate, first: str, prefix: str):
    """The template version (None for the email's own content), the subject, and what its chunk keeps; a
    template is rendered once here with the email's data, so a missing placeholder is a 422 now, not a failure
    later."""
    version = None
    if email.template_id is not None:
        version = template_service.get_version(
            session, tenant_id, email.template_id, email.template_version, for_campaign=True
        )
        try:
            rendered = rendering.compile_version(version, runtime.settings).render(
                email.data | {"email": first, "unsubscribe_url": ""}
            )
        except rendering.RenderError as exc:
            raise Invalid(f"the template cannot be rendered with this data: {exc}", field=f"{prefix}data") from None
        subject, html, text = rendered.subject, None, None
    else:
        subject = " ".join((email.subject or "").split())  # the request's check: its own content has a subject
        html = email.html or _html_of(email.text or "")
        text = email.text or plaintext.text_from_html(email.html or "")
    size = len((html or "").encode()) + len((text or "").encode()) + sum(a.size for a in email.attachments)
    if size > runtime.settings.email_max_bytes:
        raise Invalid(
            f"the email is {size} bytes with its attachments; at most {runtime.settings.email_max_bytes} are accepted",
            field=f"{prefix}attachments",
        )
    stored = {
        "subject": None if version else subject,
        "html": html,
        "text": text,
        "to": email.to,
        "cc": email.cc,
        "headers": email.headers,
        "attachments": [a.model_dump() for a in email.attachments],
    }
    return version, subject, stored


def _html_of(text: str) -> str:
    paragraphs = (html_escaping.escape(p.strip()).replace("\n", "<br>\n") for p in text.split("\n\n") if p.strip())
    return "<html><body>" + "".join(f"<p>{p}</p>" for p in paragraphs) + "</body></html>"


def _messages(transaction: Transaction, batch: Batch, recipients: list[str], status: str) -> list[Message]:
    now = utcnow()
    return [
        Message(
            id=time_ordered_id(),
            tenant_id=transaction.tenant_id,
            transaction_id=transaction.id,
            batch_id=batch.id,
            position=position,
            row_number=position + 1,
            email=address,
            status=status,
            attempts=0,
            created_at=now,
            updated_at=now,
        )
        for position, address in enumerate(recipients)
    ]


def get(session: Session, tenant_id: uuid.UUID, email_id: uuid.UUID) -> Transaction:
    return campaign_service.get(session, tenant_id, email_id, kind=TransactionKind.EMAIL)


def recipients_of(session: Session, transaction_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Message]]:
    """The messages of these emails, each email's in its recipients' order."""
    found: dict[uuid.UUID, list[Message]] = {t: [] for t in transaction_ids}
    rows = session.scalars(
        select(Message)
        .where(Message.transaction_id.in_(transaction_ids))
        .order_by(Message.transaction_id, Message.position)
    )
    for message in rows:
        found[message.transaction_id].append(message)
    return found


def history(session: Session, message: Message) -> list[dict]:
    return campaign_queries.message_history(session, message)


def tagged(tag: str):
    """Transactions whose tags hold `tag`: tags are a JSON list of strings without quotes, on every database."""
    return cast(Transaction.tags, String).contains(f'"{tag}"', autoescape=True)


def page_of_emails(
    session: Session,
    tenant_id: uuid.UUID,
    *,
    tag: str | None,
    metadata: list[str],
    status: str | None,
    sent_after: datetime | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Transaction], str | None]:
    """A page of the tenant's emails, newest first: those with tag `tag`, every `key:value` of `metadata`, of
    status `status`, and created after `sent_after`."""
    stmt = select(Transaction).where(Transaction.tenant_id == tenant_id, Transaction.kind == TransactionKind.EMAIL)
    if tag:
        stmt = stmt.where(tagged(tag))
    for pair in metadata:
        key, colon, value = pair.partition(":")
        if not colon or not key:
            raise Invalid(f"{pair!r} is not key:value", field="metadata")
        stmt = stmt.where(Transaction.message_metadata[key].as_string() == value)
    if status:
        stmt = stmt.where(Transaction.status == status)
    if sent_after:
        stmt = stmt.where(Transaction.created_at >= sent_after)
    keys = (Transaction.created_at, Transaction.id)
    return paginate(session, stmt, keys, cursor=cursor, limit=limit, descending=True)
