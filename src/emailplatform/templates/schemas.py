import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from emailplatform.templates.service import MAX_SOURCE_CHARS, MAX_SUBJECT_CHARS

Name = Annotated[str, Field(min_length=1, max_length=200)]
Subject = Annotated[
    str, Field(min_length=1, max_length=MAX_SUBJECT_CHARS, description="A Jinja template of the subject line.")
]
Html = Annotated[str, Field(min_length=1, max_length=MAX_SOURCE_CHARS, description="A Jinja template of the HTML body.")]
Text = Annotated[
    str | None,
    Field(
        max_length=MAX_SOURCE_CHARS,
        description="A Jinja template of the plain-text body; derived from the HTML when left out.",
    ),
]


class TemplateUploadRequest(BaseModel):
    name: Name


class TemplateUpload(BaseModel):
    template_id: uuid.UUID
    upload_url: str = Field(description="PUT the template's HTML (UTF-8) here, then confirm the template.")
    upload_method: str = "PUT"
    expires_at: datetime


class TemplateConfirm(BaseModel):
    subject: Subject
    text: Text = None


class TemplateCreate(BaseModel):
    name: Name
    subject: Subject
    html: Html
    text: Text = None


class VersionCreate(BaseModel):
    subject: Subject
    html: Html
    text: Text = None


class VersionCreated(BaseModel):
    template_id: uuid.UUID
    version: int
    placeholders: list[str] = Field(description="The names the template uses: columns a recipients file must have.")


class VersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: int
    subject: str
    html: str
    text: str
    text_is_generated: bool
    placeholders: list[str]
    created_at: datetime


class TemplateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    latest_version: int = Field(description="How many versions the template has; 0 until its upload is confirmed.")
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None = Field(
        None, description="When it was archived: hidden from the list, it starts no new campaign; null if not."
    )


class TemplateDetail(TemplateOut):
    versions: list[VersionOut]


class PreviewRequest(BaseModel):
    data: dict[str, str] = Field(default_factory=dict, description="A value for each placeholder.")
    version: int | None = Field(None, ge=1, description="The version to render; the latest when left out.")


class PreviewOut(BaseModel):
    subject: str
    html: str
    text: str
