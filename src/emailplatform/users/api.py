"""The tenant's web UI users through the API. An API key acts for its tenant as an admin does: it lists,
invites, re-roles and removes users, but makes, unmakes and removes no owner (403): that takes an owner signed in
to the UI. The UI's rules apply otherwise (a tenant always keeps an owner)."""

import uuid

from fastapi import APIRouter, Response

from emailplatform.deps import SessionDep
from emailplatform.openapi import error_responses
from emailplatform.pagination import Page
from emailplatform.tenants.auth import TenantDep, needs
from emailplatform.users import service
from emailplatform.users.schemas import UserCreate, UserCreated, UserOut, UserUpdate

router = APIRouter(
    prefix="/api/v1/users", tags=["users"], responses=error_responses(401, 422), dependencies=[needs("tenant")]
)
INVITE_CONFLICT = error_responses(409, descriptions={409: "The address has an account in this tenant already."})
LAST_OWNER = error_responses(
    409, descriptions={409: "The tenant would have no owner left, or you would remove yourself."}
)
OWNER_RULE = error_responses(
    403, 404, descriptions={403: "The change concerns an owner, which an API key cannot make or remove."}
)


@router.get("", response_model=Page[UserOut], summary="The tenant's users")
def list_users(session: SessionDep, tenant_id: TenantDep, limit: int = 100, cursor: str | None = None):
    """Everyone who can sign in to the tenant's web UI, with their role; the longest-standing first."""
    rows, next_cursor = service.page_of_users(session, tenant_id, cursor=cursor, limit=limit)
    return Page(items=[UserOut.model_validate(u) for u in rows], next_cursor=next_cursor)


@router.get("/{user_id}", response_model=UserOut, summary="One user", responses=error_responses(404))
def get_user(user_id: uuid.UUID, session: SessionDep, tenant_id: TenantDep):
    """A user of the tenant; 404 for anyone else's."""
    return UserOut.model_validate(service.get_user(session, tenant_id, user_id))


@router.post(
    "", response_model=UserCreated, status_code=201, summary="Invite a user", responses=OWNER_RULE | INVITE_CONFLICT
)
def create_user(body: UserCreate, session: SessionDep, tenant_id: TenantDep):
    """A new user with a random password, returned this once for you to pass on; 409 when the address has an
    account in the tenant already."""
    user, password = service.invite(session, service.ApiKeyActor(tenant_id), body.email, body.role)
    return UserCreated(**UserOut.model_validate(user).model_dump(), password=password)


@router.patch("/{user_id}", response_model=UserOut, summary="Change a user's role", responses=OWNER_RULE | LAST_OWNER)
def change_role(user_id: uuid.UUID, body: UserUpdate, session: SessionDep, tenant_id: TenantDep):
    """The new role applies from the user's next page in the UI."""
    return UserOut.model_validate(service.change_role(session, service.ApiKeyActor(tenant_id), user_id, body.role))


@router.delete("/{user_id}", status_code=204, summary="Remove a user", responses=OWNER_RULE | LAST_OWNER)
def remove_user(user_id: uuid.UUID, session: SessionDep, tenant_id: TenantDep):
    """The user can no longer sign in."""
    service.remove_user(session, service.ApiKeyActor(tenant_id), user_id)
    return Response(status_code=204)
