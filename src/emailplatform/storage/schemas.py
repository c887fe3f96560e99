import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class FileUploadRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"filename": "recipients.csv"}]})

    filename: str = Field(min_length=1, max_length=255)


class FileUpload(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "file_id": "0193b7a9-5d3e-7f62-8a1b-4c6d9e2f3b51",
                    "upload_url": "https://emailplatform.example.com/uploads/eyJrIjoiZmlsZXMvMDE5M2I3YTkifQ.a1b2",
                    "upload_method": "PUT",
                    "file_url": "files/0193b7a9-5d3e-7f62-8a1b-4c6d9e2f3b51/recipients.csv",
                    "expires_at": "2026-12-01T10:00:00Z",
                }
            ],
        }
    )

    file_id: uuid.UUID
    upload_url: str
    upload_method: str = "PUT"
    file_url: str = Field(description="What a campaign's csv_file_url takes once the file is uploaded.")
    expires_at: datetime


class UploadReceived(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"size": 48213}]})

    size: int = Field(description="The bytes stored.")
