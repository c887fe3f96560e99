from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from emailplatform.campaigns.schemas import DRAFT_EXAMPLE, CampaignDraft, Sender
from emailplatform.deliverability.findings import Severity
from emailplatform.models.template import MAX_VERSION

FINDING_EXAMPLE: dict[str, Any] = {
    "check": "dmarc",
    "severity": "warning",
    "message": "sender.example.com publishes no DMARC record; Gmail and Yahoo require SPF, DKIM and DMARC of senders "
    "of bulk mail",
    "fix": 'publish a TXT record at _dmarc.sender.example.com: "v=DMARC1; p=none; rua=mailto:dmarc@sender.example.com"',
}
RULE_EXAMPLE: dict[str, Any] = {
    "name": "HTML_IMAGE_RATIO_02",
    "score": 0.8,
    "description": "BODY: HTML has a low ratio of text to image area",
}
SPAM_EXAMPLE: dict[str, Any] = {
    "available": True,
    "score": 1.2,
    "threshold": 5.0,
    "error": None,
    "rules": [RULE_EXAMPLE],
}
REPORT_EXAMPLE: dict[str, Any] = {
    "subject": "News for Ada",
    "from": "news@sender.example.com",
    "to": "ada@example.com",
    "row_number": 2,
    "size_bytes": 9120,
    "verdict": "warning",
    "spam": SPAM_EXAMPLE,
    "findings": [FINDING_EXAMPLE],
}


class TemplateCheck(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "data": {"first_name": "Ada"},
                    "from": {"email": "news@sender.example.com", "name": "Acme News"},
                }
            ]
        },
    )

    data: dict[str, str] = Field(default_factory=dict, description="A value for each placeholder (and `email`).")
    version: int | None = Field(None, ge=1, le=MAX_VERSION, description="The version to check; default: the latest.")
    sender: Sender | None = Field(None, alias="from", description="Default: the tenant's default sender.")


class NewCampaignCheck(CampaignDraft):
    """A campaign not created yet, as the new-campaign page has it."""

    model_config = ConfigDict(json_schema_extra={"examples": [DRAFT_EXAMPLE]})


class RuleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [RULE_EXAMPLE]})

    name: str = Field(description="The SpamAssassin rule, e.g. HTML_IMAGE_RATIO_02.")
    score: float = Field(description="What it added to the score (negative: it counted for the message).")
    description: str


class SpamOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [SPAM_EXAMPLE]})

    available: bool = Field(description="Whether spamd answered; false: no score, and `error` says why.")
    score: float | None
    threshold: float | None = Field(description="The score from which SpamAssassin calls a message spam (5: default).")
    rules: list[RuleOut] = Field(description="The rules hit, the heaviest first.")
    error: str | None


class FindingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [FINDING_EXAMPLE]})

    check: str = Field(
        description="spamassassin, dkim, spf, dmarc, list_unsubscribe, links, https_links, images, size or plain_text."
    )
    severity: Severity = Field(description="pass, info, warning, error, or skipped (it could not be checked).")
    message: str = Field(description="What was found, in plain words.")
    fix: str | None = Field(description="What to do about it; null when nothing needs doing.")


class DeliverabilityReport(BaseModel):
    model_config = ConfigDict(populate_by_name=True, json_schema_extra={"examples": [REPORT_EXAMPLE]})

    subject: str
    from_email: str = Field(alias="from")
    to: str = Field(description="The recipient the message was composed for: the file's first good row, or a sample.")
    row_number: int | None = Field(description="The row of the recipients file it was composed with; null: given data.")
    size_bytes: int = Field(description="The whole message's size, as sent (MIME, DKIM signature and all).")
    verdict: Severity = Field(description="The worst finding's severity.")
    spam: SpamOut
    findings: list[FindingOut] = Field(description="One per thing looked at, the worst first.")
