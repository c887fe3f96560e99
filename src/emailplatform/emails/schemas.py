import base64
import binascii
import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field, field_validator, model_validator

from emailplatform.campaigns.schemas import HistoryEntry, Sender
from emailplatform.models.template import MAX_VERSION

MAX_BATCH = 500
MAX_RECIPIENTS = 50  # to, cc and bcc of one email together
Tag = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
MetadataKey = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[^:]+$")]
HeaderName = Annotated[str, Field(pattern=r"^[!-9;-~]{1,76}$")]
RESERVED_HEADERS = frozenset(
    {
        "from",
        "to",
        "cc",
        "bcc",
        "reply-to",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
        "content-disposition",
        "list-unsubscribe",
        "list-unsubscribe-post",
        "dkim-signature",
        "return-path",
        "sender",
    }
)

EMAIL_EXAMPLE: dict[str, Any] = {
    "from": {"email": "orders@sender.example.com", "name": "Acme Shop"},
    "to": ["ada@example.com"],
    "subject": "Your order 1042 has shipped",
    "html": "<p>Hello Ada, your order is on its way.</p>",
    "tags": ["shipping"],
    "metadata": {"order_id": "1042"},
}


class Attachment(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"filename": "invoice-1042.pdf", "content_type": "application/pdf", "content": "JVBERi0xLjQK"}
            ],
        },
    )

    filename: str = Field(min_length=1, max_length=255, pattern=r"^[^/\\\x00-\x1f]+$")
    content: str = Field(min_length=1, description="The file's bytes in base64.")
    content_type: str = Field(
        "application/octet-stream", max_length=255, pattern=r"^[A-Za-z0-9][\w!#$&^.+-]*/[A-Za-z0-9][\w!#$&^.+-]*$"
    )

    @field_validator("content")
    @classmethod
    def _base64(cls, value: str) -> str:
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("is not base64") from None
        return value

    @property
    def size(self) -> int:
        return len(self.content) * 3 // 4 - self.content.count("=", -2)


class EmailCreate(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid", json_schema_extra={"examples": [EMAIL_EXAMPLE]})

    sender: Sender | EmailStr | None = Field(
        None,
        alias="from",
        description='`{"email", "name"}` or an address. Default: the tenant\'s default sender (PUT /api/v1/tenant).',
    )
    to: list[EmailStr] = Field(min_length=1, max_length=MAX_RECIPIENTS)
    cc: list[EmailStr] = Field(default_factory=list, max_length=MAX_RECIPIENTS)
    bcc: list[EmailStr] = Field(default_factory=list, max_length=MAX_RECIPIENTS)
    reply_to: EmailStr | None = None
    subject: str | None = Field(None, max_length=998, description="Needed unless a template gives it.")
    html: str | None = Field(None, max_length=1_000_000)
    text: str | None = Field(None, max_length=1_000_000, description="Default: derived from `html`.")
    template_id: uuid.UUID | None = Field(None, description="Instead of subject, html and text: a template of yours.")
    template_version: int | None = Field(None, ge=1, le=MAX_VERSION, description="Default: the template's latest.")
    data: dict[str, Any] = Field(default_factory=dict, max_length=200, description="The template's placeholders.")
    headers: dict[HeaderName, str] = Field(default_factory=dict, max_length=50)
    tags: list[Tag] = Field(default_factory=list, max_length=10, description="Filter the list of emails with these.")
    metadata: dict[MetadataKey, Annotated[str, Field(max_length=500)]] = Field(
        default_factory=dict, max_length=20, description="Your own keys, carried to this email's webhooks."
    )
    attachments: list[Attachment] = Field(default_factory=list, max_length=20)
    tracking: bool = Field(True, description="Count opens and clicks (an open pixel, links through a redirect).")
    send_at: AwareDatetime | None = Field(None, description="When to send, with a time zone; default: now.")

    @field_validator("to", "cc", "bcc", mode="before")
    @classmethod
    def _one_or_many(cls, value):
        return [value] if isinstance(value, str) else value

    @field_validator("headers")
    @classmethod
    def _own_headers_only(cls, headers: dict[str, str]) -> dict[str, str]:
        for name in headers:
            if name.lower() in RESERVED_HEADERS:
                raise ValueError(f"{name} is set by the platform or by a field of its own, not in headers")
        return headers

    @model_validator(mode="after")
    def _content_or_template(self):
        if self.template_id is None:
            if not (self.subject and self.subject.strip()):
                raise ValueError("give a subject (or a template_id)")
            if not (self.html or self.text):
                raise ValueError("give html, text or both (or a template_id)")
        elif self.subject or self.html or self.text:
            raise ValueError("give either template_id or subject/html/text, not both")
        if len(self.to) + len(self.cc) + len(self.bcc) > MAX_RECIPIENTS:
            raise ValueError(f"at most {MAX_RECIPIENTS} recipients in to, cc and bcc together")
        return self


def _one_or_a_batch(schema: dict) -> None:
    """The schema says what the body is: one email, or an object of `emails`."""
    keys = ("type", "properties", "required", "additionalProperties")
    batch = {key: schema.pop(key) for key in keys if key in schema}
    schema["anyOf"] = [dict(batch["properties"]["emails"]["items"]), batch]
    schema["examples"] = [EMAIL_EXAMPLE, {"emails": [EMAIL_EXAMPLE]}]


class EmailsCreate(BaseModel):
    """One email, or `{"emails": [...]}`, up to 500 of them."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_one_or_a_batch)

    emails: list[EmailCreate] = Field(min_length=1, max_length=MAX_BATCH)

    @model_validator(mode="before")
    @classmethod
    def _one_email(cls, value):
        if isinstance(value, dict) and "emails" not in value:
            return {"emails": [value]}
        return value


class AcceptedEmail(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"id": "0193b7b1-0e6f-7c3a-8b1d-5f2a9c4e7d10", "status": "READY_TO_SEND", "recipients": 1}],
        }
    )

    id: uuid.UUID = Field(description="The email's id: Get an email answers its status and history.")
    status: str
    recipients: int


class EmailsAccepted(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "emails": [
                        {"id": "0193b7b1-0e6f-7c3a-8b1d-5f2a9c4e7d10", "status": "READY_TO_SEND", "recipients": 1}
                    ],
                    "warnings": [],
                }
            ]
        }
    )

    emails: list[AcceptedEmail] = Field(description="One for each email sent, in the request's order.")
    warnings: list[str]


RECIPIENT_EXAMPLE: dict[str, Any] = {
    "message_id": "0193b7b1-2c3d-7e4f-9a5b-6c7d8e9f0a1b",
    "email": "ada@example.com",
    "status": "DELIVERED",
    "attempts": 1,
    "last_error": None,
    "sent_at": "2026-12-01T09:00:01Z",
    "history": [
        {"at": "2026-12-01T09:00:00Z", "type": "created", "details": {}},
        {"at": "2026-12-01T09:00:01Z", "type": "sent", "details": {}},
    ],
}


class Recipient(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [RECIPIENT_EXAMPLE]})

    message_id: uuid.UUID
    email: str
    status: str
    attempts: int
    last_error: str | None
    sent_at: datetime | None
    history: list[HistoryEntry] | None = Field(None, description="In Get an email only.")


class Email(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0193b7b1-0e6f-7c3a-8b1d-5f2a9c4e7d10",
                    "status": "SENT",
                    "subject": "Your order 1042 has shipped",
                    "from": {"email": "orders@sender.example.com", "name": "Acme Shop"},
                    "reply_to": None,
                    "template_id": None,
                    "template_version": None,
                    "tags": ["shipping"],
                    "metadata": {"order_id": "1042"},
                    "tracking": True,
                    "send_at": None,
                    "created_at": "2026-12-01T09:00:00Z",
                    "sent_at": "2026-12-01T09:00:01Z",
                    "recipients": [RECIPIENT_EXAMPLE],
                }
            ]
        }
    )

    id: uuid.UUID
    status: str = Field(description="Of the email as a whole: READY_TO_SEND, SCHEDULED, SENT, COMPLETED, CANCELLED.")
    subject: str | None
    sender: Sender = Field(serialization_alias="from")
    reply_to: str | None
    template_id: uuid.UUID | None
    template_version: int | None
    tags: list[str]
    metadata: dict[str, str]
    tracking: bool
    send_at: datetime | None
    created_at: datetime
    sent_at: datetime | None
    recipients: list[Recipient] = Field(description="Each address of to, cc and bcc, with its own status.")
