from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


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
