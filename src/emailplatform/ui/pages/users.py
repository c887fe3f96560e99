"""The tenant's users, for owners and admins: who can sign in, with which role, inviting, re-roling and removing."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from emailplatform.errors import AppError
from emailplatform.models import Role
from emailplatform.ui.deps import Admin, DbDep
from emailplatform.ui.views import UiRoute, render
from emailplatform.users import service as user_service

router = APIRouter(route_class=UiRoute)
ROLE_WORDS = {
    Role.OWNER: "everything, including managing users and API keys",
    Role.ADMIN: "everything, including managing users and API keys",
    Role.EDITOR: "sends campaigns and edits templates, webhooks, domains and the suppression list",
    Role.VIEWER: "reads everything, changes nothing",
}
DONE = {
    "role": "The role is changed; it applies from their next page.",
    "removed": "The user is removed and can no longer sign in.",
}
RoleField = Annotated[str, Form(max_length=20)]


@router.get("/ui/users")
def users_page(request: Request, session: DbDep, me: Admin, done: str = ""):
    return _page(request, session, me, done=DONE.get(done))


@router.post("/ui/users")
def invite_user(
    request: Request, session: DbDep, me: Admin, email: Annotated[str, Form(max_length=320)], role: RoleField
):
    """A new user with a random password, shown this once (as the command line does)."""
    try:
        invited = user_service.invite(session, me.user, email, role)
    except AppError as exc:
        session.rollback()
        return _page(request, session, me, error=exc, typed={"email": email, "role": role}, status_code=exc.status_code)
    return _page(request, session, me, invited=invited)


@router.post("/ui/users/{user_id}/role")
def change_role(request: Request, session: DbDep, me: Admin, user_id: uuid.UUID, role: RoleField):
    try:
        user_service.change_role(session, me.user, user_id, role)
    except AppError as exc:
        session.rollback()
        return _page(request, session, me, row_error=exc, status_code=exc.status_code)
    return RedirectResponse("/ui/users?done=role", status_code=303)


@router.post("/ui/users/{user_id}/remove")
def remove_user(request: Request, session: DbDep, me: Admin, user_id: uuid.UUID):
    try:
        user_service.remove_user(session, me.user, user_id)
    except AppError as exc:
        session.rollback()
        return _page(request, session, me, row_error=exc, status_code=exc.status_code)
    return RedirectResponse("/ui/users?done=removed", status_code=303)


def _page(
    request: Request,
    session,
    me,
    *,
    invited=None,
    error=None,
    row_error=None,
    done=None,
    typed=None,
    status_code: int = 200,
):
    return render(
        request,
        "settings/users.html",
        status_code=status_code,
        users=user_service.list_users(session, me.tenant_id),
        roles=ROLE_WORDS,
        invited=invited,
        error=error,
        row_error=row_error,
        done=done,
        typed=typed or {"email": "", "role": Role.EDITOR},
        grantable=[r for r in Role if r != Role.OWNER or me.user.role == Role.OWNER],
    )
