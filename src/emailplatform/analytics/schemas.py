import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

COUNTS_EXAMPLE: JsonDict = {
    "total": 1000,
    "pending": 0,
    "sent": 990,
    "delivered": 950,
    "bounced": 30,
    "complained": 5,
    "opened": 400,
    "clicked": 120,
    "failed": 10,
}
RATES_EXAMPLE: JsonDict = {
    "delivered": 0.9596,
    "bounced": 0.0303,
    "complained": 0.0051,
    "opened": 0.4211,
    "clicked": 0.1263,
}


class CountsOut(BaseModel):
    """Cumulative counts, as a sender reads them: an opened message was delivered, a delivered one sent."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [COUNTS_EXAMPLE]})

    total: int = Field(description="Messages (recipients).")
    pending: int = Field(description="Not sent yet.")
    sent: int
    delivered: int
    bounced: int
    complained: int
    opened: int
    clicked: int
    failed: int


class RatesOut(BaseModel):
    """Shares of the sent messages (delivered, bounced, complained) and of the delivered ones (opened, clicked);
    null before anything was sent."""

    model_config = ConfigDict(json_schema_extra={"examples": [RATES_EXAMPLE]})

    delivered: float | None
    bounced: float | None
    complained: float | None
    opened: float | None
    clicked: float | None


class DayOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"date": "2026-12-01", "counts": COUNTS_EXAMPLE, "rates": RATES_EXAMPLE},
            ]
        }
    )

    date: date
    counts: CountsOut
    rates: RatesOut


class OverviewOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "days": 7,
                    "campaigns": 3,
                    "totals": COUNTS_EXAMPLE,
                    "rates": RATES_EXAMPLE,
                    "per_day": [{"date": "2026-12-01", "counts": COUNTS_EXAMPLE, "rates": RATES_EXAMPLE}],
                }
            ]
        }
    )

    days: int
    campaigns: int = Field(description="Campaigns meant to go in the period (their send time, else creation).")
    totals: CountsOut
    rates: RatesOut
    per_day: list[DayOut] = Field(description="Every day of the period (UTC), oldest first, days without any too.")


class CampaignStatsOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "transaction_id": "5b1e8f0c-2d3a-4b5c-9d6e-7f8091a2b3c4",
                    "name": "December news",
                    "status": "COMPLETED",
                    "created_at": "2026-12-01T08:00:00Z",
                    "send_at": "2026-12-01T09:00:00Z",
                    "from_email": "news@example.com",
                    "counts": COUNTS_EXAMPLE,
                    "rates": RATES_EXAMPLE,
                }
            ]
        }
    )

    transaction_id: uuid.UUID
    name: str | None
    status: str
    created_at: datetime
    send_at: datetime | None
    from_email: str
    counts: CountsOut
    rates: RatesOut


class BounceReasonOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "no_such_user", "bounces": 12}]})

    reason: str = Field(description="From one taxonomy (no_such_user, mailbox_full, policy, …); unknown when none.")
    bounces: int


class LinkOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"url": "https://example.com/offer", "clicks": 40, "messages_clicked": 31}]}
    )

    url: str
    clicks: int
    messages_clicked: int = Field(description="Messages whose recipient clicked it at least once.")


class RecipientDomainOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "domain": "gmail.com",
                    "counts": COUNTS_EXAMPLE,
                    "rates": RATES_EXAMPLE,
                }
            ]
        }
    )

    domain: str = Field(description="The recipients' domain (the part of the address after @).")
    counts: CountsOut
    rates: RatesOut
