"""Uploaded files: a File row per presigned upload, scoped to its tenant, named by a stable URL."""

import re
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from emailplatform.config import Settings
from emailplatform.db import get_for_tenant
from emailplatform.errors import Invalid, NotFound
from emailplatform.models import File
from emailplatform.storage.base import PresignedUpload, Storage

SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class NewUpload:
    file: File
    upload: PresignedUpload


def create_upload(
    session: Session, storage: Storage, settings: Settings, tenant_id: uuid.UUID, kind: str, filename: str
) -> NewUpload:
    """A File row and a presigned URL to PUT its content to."""
    safe = SAFE_NAME.sub("_", filename.strip()).strip("._")[:100]
    if not safe:
        raise Invalid("a file name needs at least one letter or digit", field="filename")
    file_id = uuid.uuid4()
    key = f"tenants/{tenant_id}/uploads/{file_id}/{safe}"
    file = File(
        id=file_id,
        tenant_id=tenant_id,
        kind=kind,
        filename=filename[:255],
        storage_key=key,
        url=storage.url_for(key),
    )
    session.add(file)
    session.flush()
    upload = storage.presigned_upload(
        key, max_bytes=settings.upload_max_bytes, ttl_seconds=settings.upload_url_ttl_seconds
    )
    return NewUpload(file, upload)


def get_by_url(session: Session, tenant_id: uuid.UUID, url: str, field: str) -> File:
    file = session.scalar(select(File).where(File.url == url, File.tenant_id == tenant_id))
    if file is None:
        raise NotFound("no file at that URL: upload it through POST /api/v1/files/upload-url first", field=field)
    return file


def get(session: Session, tenant_id: uuid.UUID, file_id: uuid.UUID, field: str = "file_id") -> File:
    return get_for_tenant(session, File, file_id, tenant_id, field=field, what="file")


def uploaded_size(storage: Storage, settings: Settings, file: File, field: str) -> int:
    """The size of an uploaded file; a 422 if nothing was uploaded, or an empty file."""
    size = storage.size(file.storage_key)
    if size is None:
        raise Invalid("nothing has been uploaded to this file's upload URL yet", field=field)
    if size == 0:
        raise Invalid("the file is empty", field=field)
    if size > settings.upload_max_bytes:
        raise Invalid(f"the file is larger than the {settings.upload_max_bytes} bytes allowed", field=field)
    return size
