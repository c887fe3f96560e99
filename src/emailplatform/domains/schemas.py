import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

DNS_RECORD_EXAMPLE: JsonDict = {
    "kind": "dkim",
    "type": "TXT",
    "name": "ep1._domainkey.sender.example.com",
    "value": "v=DKIM1; k=rsa; p=MIIBIjANBg…",
    "priority": None,
    "required": True,
    "status": "missing",
    "found": [],
    "message": "publish the DKIM record: TXT ep1._domainkey.sender.example.com",
}


class DomainCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"name": "sender.example.com"}]})

    name: str = Field(min_length=1, max_length=253, description="The domain of the From addresses, e.g. example.com.")


class DnsRecordOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [DNS_RECORD_EXAMPLE]})

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
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0193b7a2-6e4f-7a83-9b2c-5d7e0f3a4c62",
                    "name": "sender.example.com",
                    "unicode_name": "sender.example.com",
                    "dkim_selector": "ep1",
                    "verified": False,
                    "verified_at": None,
                    "last_checked_at": "2026-12-01T09:00:00Z",
                    "created_at": "2026-11-30T15:00:00Z",
                    "problems": ["publish the DKIM record: TXT ep1._domainkey.sender.example.com"],
                    "records": [DNS_RECORD_EXAMPLE],
                }
            ],
        }
    )

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
