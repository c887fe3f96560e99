import uuid
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from emailplatform.campaigns.schemas import DRAFT_EXAMPLE, CampaignDraft, Sender
from emailplatform.models.template import MAX_VERSION
from emailplatform.testsends.service import MAX_ROWS, MAX_SEEDS

Seeds = Annotated[
    list[EmailStr],
    Field(min_length=1, max_length=MAX_SEEDS, description=f"The seed addresses the test goes to: 1 to {MAX_SEEDS}."),
]
Rows = Annotated[
    list[Annotated[int, Field(ge=2)]] | None,
    Field(
        None,
        min_length=1,
        max_length=MAX_ROWS,
        description="Row numbers of the recipients file (as a spreadsheet numbers them: the header is row 1) whose "
        "data the seeds get, the first seed the first row, and so on round; default: the first good rows.",
    ),
]
RESULT_EXAMPLE: dict[str, Any] = {
    "to": "me@sender.example.com",
    "row_number": 2,
    "message_id": "0193b7aa-6e4f-7a73-9b2c-5d7e0f3a4c62",
    "subject": "[TEST] News for Ada",
    "status": "sent",
    "response": "250 Message accepted for delivery",
}


class TemplateTest(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "to": ["me@sender.example.com"],
                    "data": {"first_name": "Ada"},
                    "from": {"email": "news@sender.example.com", "name": "Acme News"},
                }
            ]
        },
    )

    to: Seeds
    data: dict[str, str] = Field(default_factory=dict, description="A value for each placeholder.")
    version: int | None = Field(None, ge=1, le=MAX_VERSION, description="The version to send; default: the latest.")
    sender: Sender | None = Field(None, alias="from", description="Default: the tenant's default sender.")
    reply_to: EmailStr | None = None


class CampaignTest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "to": ["me@sender.example.com", "boss@sender.example.com"],
                    "rows": [2, 7],
                }
            ]
        },
    )

    to: Seeds
    rows: Rows = None


class NewCampaignTest(CampaignDraft):
    """A campaign not created yet, as the new-campaign page and `emailplatform send --test-to` have it."""

    model_config = ConfigDict(json_schema_extra={"examples": [DRAFT_EXAMPLE | {"to": ["me@sender.example.com"]}]})

    to: Seeds
    rows: Rows = None


class SeedResultOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [RESULT_EXAMPLE]})

    to: str
    row_number: int | None = Field(description="The row of the recipients file whose data it has; null: given data.")
    message_id: uuid.UUID = Field(description="The test's own id (in its Message-ID); no message row has it.")
    subject: str
    status: str = Field(
        description="`sent`, `retry` (the server refused it for now) or `failed`, as the transport "
        "said; `suppressed`: not sent, the address is on the tenant's suppression list."
    )
    response: str | None = Field(description="The transport's answer, e.g. the SMTP server's reply.")


class SeedSendOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"sent": 1, "results": [RESULT_EXAMPLE]}]})

    sent: int = Field(description="How many test messages the transport accepted.")
    results: list[SeedResultOut]
