"""What a batch gives the send steps: the template to render, the skeleton every copy is built on, and each
recipient's data, from a campaign's template and CSV chunk, or from a transactional email's own content (kept by
emails/content.py)."""

import base64
from dataclasses import dataclass

from sqlalchemy.orm import Session

from emailplatform.campaigns import splitting
from emailplatform.emails import content as email_content
from emailplatform.models import Batch, Transaction, TransactionKind
from emailplatform.runtime import Runtime
from emailplatform.sending.mime import Attachment, MessageSkeleton
from emailplatform.templates import rendering
from emailplatform.templates import service as template_service


@dataclass(frozen=True)
class Parts:
    template: rendering.Renderer
    skeleton: MessageSkeleton
    data: list[dict]
    to_header: str | None  # what every copy's To shows (an email's `to`); None: each copy's own recipient


def parts_of(session: Session, runtime: Runtime, transaction: Transaction, batch: Batch) -> Parts:
    if transaction.kind == TransactionKind.EMAIL:
        return _email_parts(session, runtime, transaction, batch)
    return Parts(
        _template(session, runtime, transaction),
        MessageSkeleton(transaction.from_email, transaction.from_name, transaction.reply_to),
        splitting.read_chunk(runtime.storage, batch),
        to_header=None,
    )


def _email_parts(session: Session, runtime: Runtime, transaction: Transaction, batch: Batch) -> Parts:
    stored = email_content.read(runtime.storage, batch.storage_key)
    email = stored["email"]
    template: rendering.Renderer
    if transaction.template_id is None:
        template = email_content.OwnContent(rendering.Rendered(email["subject"], email["html"], email["text"]))
    else:
        template = _template(session, runtime, transaction)
    headers = email["headers"] | ({"Cc": ", ".join(email["cc"])} if email["cc"] else {})
    attachments = [
        Attachment(a["filename"], a["content_type"], base64.b64decode(a["content"])) for a in email["attachments"]
    ]
    skeleton = MessageSkeleton(
        transaction.from_email, transaction.from_name, transaction.reply_to, headers, attachments
    )
    return Parts(template, skeleton, stored["rows"], ", ".join(email["to"]))


def _template(session: Session, runtime: Runtime, transaction: Transaction) -> rendering.CompiledTemplate:
    assert transaction.template_id is not None, "a campaign, or an email of a template"
    version = template_service.get_version(
        session, transaction.tenant_id, transaction.template_id, transaction.template_version
    )
    return rendering.compile_version(version, runtime.settings)
