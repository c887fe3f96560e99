import uuid
from datetime import datetime

from pydantic import BaseModel, Field


class FileUploadRequest(BaseModel):
    filename: str = Field(min_length=1, max_length=255)


class FileUpload(BaseModel):
    file_id: uuid.UUID
    upload_url: str
    upload_method: str = "PUT"
    file_url: str = Field(description="What a campaign's csv_file_url takes once the file is uploaded.")
    expires_at: datetime


class UploadReceived(BaseModel):
    size: int = Field(description="The bytes stored.")
