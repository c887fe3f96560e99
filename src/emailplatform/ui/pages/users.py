"""The tenant's users, for owners and admins: who can sign in, with which role, and inviting someone new."""

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request

from emailplatform.errors import AppError, Forbidden
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


@router.get("/ui/users")
def users_page(request: Request, session: DbDep, me: Admin):
    return _page(request, session, me)


@router.post("/ui/users")
def invite_user(
    request: Request, session: DbDep, me: Admin, email: Annotated[str, Form(max_length=320)],
    role: Annotated[str, Form(max_length=20)],
):
    """A new user with a random password, shown this once (as the command line does)."""
    password = secrets.token_urlsafe(12)
    try:
        if role == Role.OWNER and me.user.role != Role.OWNER:
            raise Forbidden("only an owner can make another owner", field="role")
        user = user_service.create_user(session, me.tenant_id, email, password, role)
    except AppError as exc:
        session.rollback()
        return _page(request, session, me, error=exc, typed={"email": email, "role": role}, status_code=exc.status_code)
    return _page(request, session, me, invited=(user, password))


def _page(request: Request, session, me, *, invited=None, error=None, typed=None, status_code: int = 200):
    return render(
        request, "settings/users.html", status_code=status_code, users=user_service.list_users(session, me.tenant_id),
        roles=ROLE_WORDS, invited=invited, error=error, typed=typed or {"email": "", "role": Role.EDITOR},
        grantable=[r for r in Role if r != Role.OWNER or me.user.role == Role.OWNER],
    )
