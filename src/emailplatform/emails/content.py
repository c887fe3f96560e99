"""A transactional email's content, kept in its one batch's chunk (JSON where a campaign's is CSV): its own
subject, HTML and text (or its template's data), its To and Cc as every recipient sees them, its extra headers
and attachments. The send pipeline reads it back here as what a campaign's batch gives it: a template to render,
the skeleton every recipient's copy is built on, and each recipient's data."""

import base64
import json
import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from emailplatform.models import Batch, Transaction
from emailplatform.runtime import Runtime
from emailplatform.sending.mime import Attachment, MessageSkeleton
from emailplatform.templates import rendering
from emailplatform.templates import service as template_service


def chunk_key(tenant_id: uuid.UUID, transaction_id: uuid.UUID) -> str:
    return f"tenants/{tenant_id}/emails/{transaction_id}.json"


def store(runtime: Runtime, key: str, content: dict, recipients: int, data: dict) -> None:
    """`content`: subject, html, text (None with a template), to, cc, headers, attachments (content in base64)."""
    runtime.storage.put(key, json.dumps({"rows": [data] * recipients, "email": content}).encode())


def read(runtime: Runtime, key: str) -> dict:
    with runtime.storage.open(key) as stream:
        return json.load(stream)


@dataclass(frozen=True)
class OwnContent:
    """An email's own subject and bodies, sent as they are: nothing in them is a placeholder."""

    rendered: rendering.Rendered

    def render(self, _data: dict) -> rendering.Rendered:
        return self.rendered


@dataclass(frozen=True)
class Parts:
    template: rendering.CompiledTemplate | OwnContent
    skeleton: MessageSkeleton
    data: list[dict]
    to_header: str | None


def plan_parts(session: Session, runtime: Runtime, transaction: Transaction, batch: Batch) -> Parts:
    """What the pipeline's plan of an email's batch needs, read once."""
    stored = read(runtime, batch.storage_key)
    email = stored["email"]
    if transaction.template_id is None:
        template = OwnContent(rendering.Rendered(email["subject"], email["html"], email["text"]))
    else:
        version = template_service.get_version(
            session, transaction.tenant_id, transaction.template_id, transaction.template_version
        )
        template = rendering.compile_version(version, runtime.settings)
    headers = email["headers"] | ({"Cc": ", ".join(email["cc"])} if email["cc"] else {})
    attachments = [
        Attachment(a["filename"], a["content_type"], base64.b64decode(a["content"])) for a in email["attachments"]
    ]
    skeleton = MessageSkeleton(
        transaction.from_email, transaction.from_name, transaction.reply_to, headers, attachments
    )
    return Parts(template, skeleton, stored["rows"], ", ".join(email["to"]))
