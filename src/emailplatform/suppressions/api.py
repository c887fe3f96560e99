"""The suppression list by hand: list, add, look up, remove. Adding an address already on the list
is idempotent: 200 with the entry as it was (its first reason is kept); a new entry is 201."""

from fastapi import APIRouter, Response

from emailplatform.deps import SessionDep
from emailplatform.openapi import error_responses
from emailplatform.pagination import Page
from emailplatform.suppressions import service as suppression
from emailplatform.suppressions.schemas import SuppressionCreate, SuppressionOut, SuppressionReason
from emailplatform.tenants.auth import TenantDep, needs

router = APIRouter(
    prefix="/api/v1/suppressions",
    tags=["suppressions"],
    responses=error_responses(401, 403, 422),
    dependencies=[needs("suppressions")],
)


@router.get("", summary="List suppressed addresses", response_model=Page[SuppressionOut])
def list_suppressions(
    session: SessionDep,
    tenant_id: TenantDep,
    reason: SuppressionReason | None = None,
    q: str | None = None,
    limit: int = 100,
    cursor: str | None = None,
):
    """Newest first; `q` finds addresses containing it."""
    rows, next_cursor = suppression.page_of_suppressions(
        session, tenant_id, reason=reason, search=q, cursor=cursor, limit=limit
    )
    return Page(items=[SuppressionOut.model_validate(s) for s in rows], next_cursor=next_cursor)


@router.post(
    "",
    response_model=SuppressionOut,
    status_code=201,
    responses={200: {"model": SuppressionOut, "description": "Already suppressed: the entry as it was."}},
    summary="Suppress an address",
)
def add_suppression(body: SuppressionCreate, session: SessionDep, tenant_id: TenantDep, response: Response):
    """No message is sent to it again. Adding an address already on the list answers 200 with the entry as it was (its
    first reason is kept); a new entry answers 201."""
    entry, created = suppression.add_manual(session, tenant_id, body.email, body.reason, body.details)
    if not created:
        response.status_code = 200
    return SuppressionOut.model_validate(entry)


@router.get(
    "/{email}",
    response_model=SuppressionOut,
    responses=error_responses(404),
    summary="Look up a suppressed address",
)
def get_suppression(email: str, session: SessionDep, tenant_id: TenantDep):
    """The entry of an address on the list, with why it is there; 404 when it is not."""
    return SuppressionOut.model_validate(suppression.get(session, tenant_id, email))


@router.delete("/{email}", summary="Unsuppress an address", status_code=204, responses=error_responses(404))
def remove_suppression(email: str, session: SessionDep, tenant_id: TenantDep):
    """Messages can go to the address again."""
    suppression.remove(session, tenant_id, email)
    return Response(status_code=204)
