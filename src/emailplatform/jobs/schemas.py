from datetime import datetime
from typing import Annotated

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field

JobId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The job's id.")]


class JobOut(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 42,
                    "kind": "send_batch",
                    "state": "dead",
                    "payload": {"batch_id": "0193b7b1-1a2b-7c3d-8e4f-5a6b7c8d9e0f"},
                    "attempts": 8,
                    "max_attempts": None,
                    "run_at": "2026-12-01T09:00:00Z",
                    "last_error": "SMTP server unreachable: connection refused",
                    "created_at": "2026-12-01T08:59:00Z",
                    "finished_at": "2026-12-01T11:00:00Z",
                }
            ],
        },
    )

    id: int
    kind: str
    state: str
    payload: dict
    attempts: int
    max_attempts: int | None = Field(description="None: the job_max_attempts setting of the worker.")
    run_at: datetime
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None
