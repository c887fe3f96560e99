import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from emailplatform.models.template import MAX_VERSION
from emailplatform.templates.service import MAX_SOURCE_CHARS, MAX_SUBJECT_CHARS

Name = Annotated[str, Field(min_length=1, max_length=200)]
Subject = Annotated[
    str, Field(min_length=1, max_length=MAX_SUBJECT_CHARS, description="A Jinja template of the subject line.")
]
Html = Annotated[
    str, Field(min_length=1, max_length=MAX_SOURCE_CHARS, description="A Jinja template of the HTML body.")
]
Text = Annotated[
    str | None,
    Field(
        max_length=MAX_SOURCE_CHARS,
        description="A Jinja template of the plain-text body; derived from the HTML when left out.",
    ),
]


VERSION_EXAMPLE: JsonDict = {
    "version": 1,
    "subject": "News for {{ first_name }}",
    "html": "<p>Hello {{ first_name }}, here is our news.</p>",
    "text": "Hello {{ first_name }}, here is our news.",
    "text_is_generated": True,
    "placeholders": ["first_name"],
    "created_at": "2026-12-01T09:00:00Z",
}
TEMPLATE_EXAMPLE: JsonDict = {
    "id": "0193b7a8-4c2e-7d51-9f0a-3e5c8b2d1a40",
    "name": "November newsletter",
    "latest_version": 1,
    "created_at": "2026-12-01T09:00:00Z",
    "updated_at": "2026-12-01T09:00:00Z",
}


class TemplateUploadRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "November newsletter"}]})

    name: Name


class TemplateUpload(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "template_id": "0193b7a8-4c2e-7d51-9f0a-3e5c8b2d1a40",
                    "upload_url": "https://emailplatform.example.com/uploads/eyJrIjoidGVtcGxhdGVzLzAxOTNiN2E4In0.Z3x9",
                    "upload_method": "PUT",
                    "expires_at": "2026-12-01T10:00:00Z",
                }
            ],
        }
    )

    template_id: uuid.UUID
    upload_url: str = Field(description="PUT the template's HTML (UTF-8) here, then confirm the template.")
    upload_method: str = "PUT"
    expires_at: datetime


class TemplateConfirm(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"subject": "News for {{ first_name }}", "text": "Hello {{ first_name }}, here is our news."}],
        }
    )

    subject: Subject
    text: Text = None


class TemplateCreate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "November newsletter",
                    "subject": "News for {{ first_name }}",
                    "html": "<p>Hello {{ first_name }}, here is our news.</p>",
                }
            ],
        }
    )

    name: Name
    subject: Subject
    html: Html
    text: Text = None


class VersionCreate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"subject": "More news for {{ first_name }}", "html": "<p>Hello again, {{ first_name }}.</p>"}
            ],
        }
    )

    subject: Subject
    html: Html
    text: Text = None


class VersionCreated(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "template_id": "0193b7a8-4c2e-7d51-9f0a-3e5c8b2d1a40",
                    "version": 1,
                    "placeholders": ["first_name"],
                }
            ],
        }
    )

    template_id: uuid.UUID
    version: int
    placeholders: list[str] = Field(description="The names the template uses: columns a recipients file must have.")


class VersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [VERSION_EXAMPLE]})

    version: int
    subject: str
    html: str
    text: str
    text_is_generated: bool
    placeholders: list[str]
    created_at: datetime


class TemplateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [TEMPLATE_EXAMPLE]})

    id: uuid.UUID
    name: str
    latest_version: int = Field(description="How many versions the template has; 0 until its upload is confirmed.")
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None = Field(
        None, description="When it was archived: hidden from the list, it starts no new campaign; null if not."
    )


class TemplateDetail(TemplateOut):
    model_config = ConfigDict(json_schema_extra={"examples": [TEMPLATE_EXAMPLE | {"versions": [VERSION_EXAMPLE]}]})

    versions: list[VersionOut]


class PreviewRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"data": {"first_name": "Ada"}, "version": 1}]})

    data: dict[str, str] = Field(default_factory=dict, description="A value for each placeholder.")
    version: int | None = Field(
        None, ge=1, le=MAX_VERSION, description="The version to render; the latest when left out."
    )


class PreviewOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "subject": "News for Ada",
                    "html": "<p>Hello Ada, here is our news.</p>",
                    "text": "Hello Ada, here is our news.",
                }
            ],
        }
    )

    subject: str
    html: str
    text: str
