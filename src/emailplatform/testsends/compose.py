"""One message composed as a campaign's would be, from the same parts as the send pipeline: the sandboxed render,
the unsubscribe link and headers, the MIME skeleton, the return path and the sender domain's DKIM signature. Links
are left as written (no click redirect, no open pixel): nothing is recorded about a message composed here."""

import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from emailplatform.domains import service as domain_service
from emailplatform.errors import Invalid
from emailplatform.events import tracking
from emailplatform.models import TemplateVersion
from emailplatform.models.base import time_ordered_id
from emailplatform.runtime import Runtime
from emailplatform.sending import decorate
from emailplatform.sending.mime import MessageSkeleton, make_message_id
from emailplatform.templates import rendering

TEST_HEADER = "X-Emailplatform-Test"
SUBJECT_PREFIX = "[TEST] "


@dataclass(frozen=True)
class Draft:
    """What a message is made of before it has a recipient: a template version and a sender."""

    version: TemplateVersion
    from_email: str
    from_name: str | None = None
    reply_to: str | None = None


@dataclass(frozen=True)
class Composed:
    message_id: uuid.UUID
    to: str
    envelope_from: str
    subject: str
    raw: bytes


class Composer:
    """Composes the messages of one draft; `test` marks each as a test (subject prefix and header)."""

    def __init__(self, session: Session, runtime: Runtime, tenant_id: uuid.UUID, draft: Draft, *, test: bool):
        self.runtime = runtime
        self.draft = draft
        self.test = test
        self.template = rendering.compile_version(draft.version, runtime.settings)
        self.signer = domain_service.signer_for(session, tenant_id, draft.from_email)
        extra = {TEST_HEADER: "true"} if test else None
        self.skeleton = MessageSkeleton(draft.from_email, draft.from_name, draft.reply_to, extra)
        self.base_url = decorate.base_url(runtime.settings)
        self.mailto_domain = runtime.settings.bounce_domain or draft.from_email.rpartition("@")[2]

    def compose(self, to: str, data: dict[str, str], data_field: str = "data") -> Composed:
        """`to`'s message with `data`; Invalid, naming `data_field`, when it cannot be rendered or built."""
        message_id = time_ordered_id()
        token = tracking.unsubscribe_token(message_id, self.runtime.secret_key)
        unsubscribe = tracking.unsubscribe_url(token, self.base_url)
        try:
            rendered = self.template.render({"email": to} | data | {"unsubscribe_url": unsubscribe})
        except rendering.RenderError as exc:
            field = f"{data_field}.{exc.placeholder}" if exc.placeholder else data_field
            raise Invalid(f"the template could not be rendered: {exc.reason}", field=field) from None
        subject = (SUBJECT_PREFIX if self.test else "") + rendered.subject
        try:
            raw = self.skeleton.build(
                to=to,
                subject=subject,
                html=decorate.decorate_html(rendered.html, unsubscribe, message_id, self.base_url, "", False),
                text=decorate.decorate_text(rendered.text, unsubscribe),
                message_id=make_message_id(message_id, self.draft.from_email),
                headers=decorate.unsubscribe_headers(token, self.base_url, self.mailto_domain),
            )
        except ValueError as exc:
            raise Invalid(f"the message could not be built: {exc}", field=data_field) from None
        if self.signer:
            raw = self.signer.sign(raw)
        envelope_from = decorate.return_path(message_id, self.draft.from_email, self.runtime.settings)
        return Composed(message_id, to, envelope_from, subject, raw)
