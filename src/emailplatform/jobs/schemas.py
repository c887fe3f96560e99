from datetime import datetime
from typing import Annotated

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field

JobId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The job's id.")]


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

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
