import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class DomainCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=253, description="The domain of the From addresses, e.g. example.com.")


class DnsRecordOut(BaseModel):
    kind: Literal["dkim", "spf", "dmarc", "return_path"]
    type: Literal["TXT", "CNAME", "MX"]
    name: str = Field(description="The full name the record is published at.")
    value: str = Field(description="The record's value; a TXT value longer than 255 characters is split into strings.")
    priority: int | None = Field(None, description="The preference of an MX record.")
    required: bool = Field(description="Needed to verify the domain (DKIM and SPF); the others are recommended.")
    status: Literal["pending", "verified", "missing", "mismatch", "unreachable"] = Field(
        description="What the last check found: pending (never checked), verified, missing, mismatch "
        "(another value is published) or unreachable (DNS did not answer)."
    )
    found: list[str] = Field(description="The values of this type the last check found at the name.")
    message: str | None = Field(description="What is wrong and what to do, when the record is not verified.")


class DomainOut(BaseModel):
    id: uuid.UUID
    name: str = Field(description="The domain in its ASCII (IDNA) form.")
    unicode_name: str
    dkim_selector: str
    verified: bool
    verified_at: datetime | None
    last_checked_at: datetime | None
    created_at: datetime
    problems: list[str] = Field(description="What keeps the records from being right, required records first.")
    records: list[DnsRecordOut]
