from typing import Literal

from fastapi import APIRouter

from emailplatform.deps import SessionDep
from emailplatform.jobs import queue
from emailplatform.jobs.schemas import JobId, JobOut
from emailplatform.openapi import error_responses
from emailplatform.pagination import Page
from emailplatform.tenants.auth import TenantDep, needs

router = APIRouter(
    prefix="/api/v1/jobs", tags=["jobs"], responses=error_responses(401, 422), dependencies=[needs("campaigns")]
)


@router.get("", summary="List jobs", response_model=Page[JobOut])
def list_jobs(
    session: SessionDep,
    tenant_id: TenantDep,
    state: Literal["queued", "running", "done", "dead"] | None = None,
    limit: int = 100,
    cursor: str | None = None,
):
    """The work queue's jobs of this tenant, newest first, optionally in one `state`; a `dead` job ran out
    of attempts."""
    rows, next_cursor = queue.page_of_jobs(session, tenant_id, state=state, cursor=cursor, limit=limit)
    return Page(items=[JobOut.model_validate(job) for job in rows], next_cursor=next_cursor)


@router.post("/{job_id}/retry", summary="Retry a dead job", response_model=JobOut, responses=error_responses(404, 409))
def retry_job(job_id: JobId, session: SessionDep, tenant_id: TenantDep):
    """Queue a dead job again with fresh attempts; a job in another state answers 409."""
    return queue.retry_dead(session, job_id, tenant_id)
