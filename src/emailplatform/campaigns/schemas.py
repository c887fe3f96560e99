import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field
from pydantic.config import JsonDict

from emailplatform.models.template import MAX_VERSION

ColumnName = Annotated[str, Field(min_length=1, max_length=500)]
COLUMNS_DESCRIPTION = (
    "Which column of the file holds the address (`email`) and each placeholder, e.g. "
    '`{"email": "Work E-Mail", "first_name": "Vorname"}`. Default: matched by name, ignoring case, accents, spaces,'
    " `-` and `_`; the address column also by its usual names (E-Mail, Email Address, Mail, Recipient…)."
)


SUMMARY_EXAMPLE: JsonDict = {
    "total_messages": 3,
    "pending": 0,
    "sent": 3,
    "delivered": 2,
    "bounced": 1,
    "complained": 0,
    "opened": 1,
    "clicked": 0,
    "failed": 0,
    "suppressed": 0,
    "cancelled": 0,
    "by_status": {"DELIVERED": 1, "OPENED": 1, "BOUNCED": 1},
}
CAMPAIGN_EXAMPLE: JsonDict = {
    "transaction_id": "0193b7b1-0e6f-7c3a-8b1d-5f2a9c4e7d10",
    "name": "November newsletter",
    "status": "SENT",
    "status_reason": None,
    "template_id": "0193b7a8-4c2e-7d51-9f0a-3e5c8b2d1a40",
    "template_version": 1,
    "csv_file_url": "files/0193b7a9-5d3e-7f62-8a1b-4c6d9e2f3b51/recipients.csv",
    "from": {"email": "news@sender.example.com", "name": "Acme News"},
    "reply_to": None,
    "callback_url": None,
    "send_at": None,
    "batch_size": 500,
    "tracking": True,
    "total_messages": 3,
    "invalid_rows": 1,
    "duplicate_rows": 0,
    "created_at": "2026-12-01T09:00:00Z",
    "updated_at": "2026-12-01T09:00:20Z",
    "processed_at": "2026-12-01T09:00:02Z",
    "sent_at": "2026-12-01T09:00:20Z",
    "completed_at": None,
    "cancelled_at": None,
    "summary": SUMMARY_EXAMPLE,
}
MESSAGE_EXAMPLE: JsonDict = {
    "message_id": "0193b7b1-2c3d-7e4f-9a5b-6c7d8e9f0a1b",
    "transaction_id": "0193b7b1-0e6f-7c3a-8b1d-5f2a9c4e7d10",
    "batch_id": "0193b7b1-1a2b-7c3d-8e4f-5a6b7c8d9e0f",
    "row_number": 2,
    "email": "ada@example.com",
    "status": "DELIVERED",
    "attempts": 1,
    "last_error": None,
    "created_at": "2026-12-01T09:00:00Z",
    "updated_at": "2026-12-01T09:00:09Z",
    "sent_at": "2026-12-01T09:00:05Z",
}


class Sender(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"email": "news@sender.example.com", "name": "Acme News"}],
        }
    )

    email: EmailStr
    name: str | None = Field(None, max_length=200)


class Schedule(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"send_at": "2026-12-01T09:00:00+01:00"}]})

    send_at: AwareDatetime = Field(description="When to send, with a time zone, e.g. 2026-12-01T09:00:00+01:00.")


DRAFT_EXAMPLE: JsonDict = {
    "template_id": "0193b7a8-4c2e-7d51-9f0a-3e5c8b2d1a40",
    "csv_file_url": "files/0193b7a9-5d3e-7f62-8a1b-4c6d9e2f3b51/recipients.csv",
    "from": {"email": "news@sender.example.com", "name": "Acme News"},
}


class CampaignDraft(BaseModel):
    """A campaign before it is created: its template, recipients file, sender and columns (what a test send and
    the deliverability check read, and what a campaign request starts with)."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    template_id: uuid.UUID
    template_version: int | None = Field(
        None, ge=1, le=MAX_VERSION, description="Default: the template's latest version."
    )
    csv_file_url: str = Field(min_length=1, max_length=600, description="The file_url of an uploaded recipients file.")
    sender: Sender | None = Field(
        None, alias="from", description="Default: the tenant's default sender (PUT /api/v1/tenant)."
    )
    reply_to: EmailStr | None = None
    columns: dict[ColumnName, ColumnName] | None = Field(None, max_length=200, description=COLUMNS_DESCRIPTION)


class CampaignCreate(CampaignDraft):
    model_config = ConfigDict(
        populate_by_name=True,
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "template_id": "0193b7a8-4c2e-7d51-9f0a-3e5c8b2d1a40",
                    "csv_file_url": "files/0193b7a9-5d3e-7f62-8a1b-4c6d9e2f3b51/recipients.csv",
                    "from": {"email": "news@sender.example.com", "name": "Acme News"},
                    "reply_to": "support@sender.example.com",
                    "callback_url": "https://hooks.example.com/emailplatform",
                    "schedule": {"send_at": "2026-12-01T09:00:00+01:00"},
                    "name": "November newsletter",
                }
            ],
        },
    )

    callback_url: str | None = Field(None, max_length=2000)
    schedule: Schedule | None = None
    batch_size: int | None = Field(None, ge=1, le=5000)
    tracking: bool = Field(True, description="Count opens and clicks (an open pixel, links through a redirect).")
    name: str | None = Field(None, max_length=200)


LAYOUT_EXAMPLE: JsonDict = {
    "format": "csv",
    "encoding": "cp1250",
    "delimiter": ";",
    "columns": {"email": "E-Mail", "first_name": "Vorname"},
}


class RecipientsCheckRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "template_id": "0193b7a0-5c2e-7d4f-9a1b-3e6c8d2f4a70",
                    "template_version": None,
                    "csv_file_url": "local://files/uploads/0193b7a4/recipients.csv",
                    "columns": {"first_name": "Vorname"},
                }
            ]
        },
    )

    template_id: uuid.UUID
    template_version: int | None = Field(
        None, ge=1, le=MAX_VERSION, description="Default: the template's latest version."
    )
    csv_file_url: str = Field(min_length=1, max_length=600, description="The file_url of an uploaded recipients file.")
    columns: dict[ColumnName, ColumnName] | None = Field(None, max_length=200, description=COLUMNS_DESCRIPTION)


class RecipientsLayout(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [LAYOUT_EXAMPLE]})

    format: str = Field(description="csv or xlsx.")
    encoding: str | None = Field(
        description="The CSV's encoding as detected: utf-8, utf-8-sig (with a BOM), utf-16-le, cp1250…"
    )
    delimiter: str | None = Field(description="The CSV's delimiter as detected: , ; tab or |.")
    columns: dict[str, str] = Field(description="`email` and each placeholder, and the file's column that holds it.")


class CampaignAccepted(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"transaction_id": "0193b7b1-0e6f-7c3a-8b1d-5f2a9c4e7d10", "status": "ACCEPT", "warnings": []}
            ],
        }
    )

    transaction_id: uuid.UUID
    status: str
    warnings: list[str] = Field(default_factory=list, description="E.g. that the sender's domain is not verified.")


class Summary(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [SUMMARY_EXAMPLE]})

    total_messages: int
    pending: int
    sent: int
    delivered: int
    bounced: int
    complained: int
    opened: int
    clicked: int
    failed: int
    suppressed: int
    cancelled: int
    by_status: dict[str, int] = Field(
        description="Messages by status; those not sent yet (created, scheduled, ready, sending) together as PENDING."
    )


class Campaign(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [CAMPAIGN_EXAMPLE]})

    transaction_id: uuid.UUID
    name: str | None
    status: str
    status_reason: str | None
    template_id: uuid.UUID
    template_version: int
    csv_file_url: str
    sender: Sender = Field(serialization_alias="from")
    reply_to: str | None
    callback_url: str | None
    send_at: datetime | None
    batch_size: int
    tracking: bool
    total_messages: int
    invalid_rows: int
    duplicate_rows: int
    recipients_layout: RecipientsLayout | None = Field(None, description="How the recipients file was read.")
    created_at: datetime
    updated_at: datetime
    processed_at: datetime | None
    sent_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    summary: Summary | None = None


class BatchOut(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "batch_id": "0193b7b1-1a2b-7c3d-8e4f-5a6b7c8d9e0f",
                    "seq": 0,
                    "status": "SENT",
                    "message_count": 500,
                    "created_at": "2026-12-01T09:00:00Z",
                    "updated_at": "2026-12-01T09:00:12Z",
                }
            ],
        },
    )

    batch_id: uuid.UUID = Field(validation_alias="id")
    seq: int
    status: str
    message_count: int
    created_at: datetime
    updated_at: datetime


class MessageOut(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        validate_by_name=True,
        validate_by_alias=True,
        json_schema_extra={"examples": [MESSAGE_EXAMPLE]},
    )

    message_id: uuid.UUID = Field(validation_alias="id")
    transaction_id: uuid.UUID
    batch_id: uuid.UUID
    row_number: int
    email: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None = Field(
        None, description="When its delivery was learnt: a delivery event, or an open, click or complaint."
    )
    scheduled_at: datetime | None = Field(
        None, description="When it is (or was) to go: its campaign's send time; null when sent right away."
    )


class HistoryEntry(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"at": "2026-12-01T09:05:00Z", "type": "opened", "details": {"user_agent": "Mozilla/5.0"}}],
        }
    )

    at: datetime
    type: str
    details: dict = {}


class MessageDetail(MessageOut):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                MESSAGE_EXAMPLE
                | {
                    "data": {"email": "ada@example.com", "first_name": "Ada"},
                    "history": [
                        {"at": "2026-12-01T09:00:00Z", "type": "created", "details": {}},
                        {"at": "2026-12-01T09:00:05Z", "type": "sent", "details": {}},
                    ],
                },
            ],
        }
    )

    data: dict[str, Any] | None = Field(
        description="The placeholder data of this recipient's row (a transactional email's `data`); null when its "
        "batch "
        "file is no longer in storage."
    )
    history: list[HistoryEntry]


class RowErrorOut(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "row_number": 3,
                    "email": "not-an-address",
                    "reason": "the email address is not valid: it has no @",
                }
            ],
        },
    )

    row_number: int
    email: str | None
    reason: str


class RecipientsCheck(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "layout": LAYOUT_EXAMPLE,
                    "header": ["E-Mail", "Vorname"],
                    "total_messages": 2,
                    "invalid_rows": 1,
                    "duplicate_rows": 1,
                    "first_rows": [{"E-Mail": "ada@example.com", "Vorname": "Ada"}],
                    "bad_rows": [
                        {"row_number": 3, "email": "broken", "reason": "'broken' is not a valid email address"},
                        {"row_number": 5, "email": "ada@example.com", "reason": "duplicate of row 2"},
                    ],
                }
            ]
        }
    )

    layout: RecipientsLayout
    header: list[str]
    total_messages: int = Field(description="The recipients the campaign sends to: what its total_messages will be.")
    invalid_rows: int
    duplicate_rows: int = Field(description="Rows whose address is on an earlier row: sent once, listed in bad_rows.")
    first_rows: list[dict[str, str]] = Field(description="The first good rows, by the file's column names.")
    bad_rows: list[RowErrorOut] = Field(description="The first rows skipped (invalid or duplicate), in file order.")


class Reschedule(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"send_at": "2026-12-24T09:00:00+01:00"}]}
    )

    send_at: AwareDatetime = Field(description="The new send time, with a time zone; in the future.")
