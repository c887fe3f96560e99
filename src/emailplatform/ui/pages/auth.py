"""Signing in and out."""

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from emailplatform.deps import get_runtime
from emailplatform.errors import AppError
from emailplatform.ratelimits import deps as ratelimits
from emailplatform.ui import deps
from emailplatform.ui.deps import DbDep, Viewer
from emailplatform.ui.views import UiRoute, render
from emailplatform.users import service as user_service

router = APIRouter(route_class=UiRoute)


@router.get("/")
def root(request: Request):
    return RedirectResponse("/ui/" if deps.read_cookie(request).get("uid") else "/ui/sign-in", status_code=303)


@router.get("/ui/sign-in")
def sign_in_page(request: Request, next: str = "/ui/"):
    return render(
        request, "sign_in.html", next=_safe_next(next), tenant=user_service.FIRST_TENANT, email="", error=None
    )


@router.post("/ui/sign-in", dependencies=[Depends(deps.check_csrf)])
def sign_in(
    request: Request,
    session: DbDep,
    tenant: Annotated[str, Form(max_length=100)],
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1000)],
    next: Annotated[str, Form()] = "/ui/",
):
    try:
        ratelimits.limit_sign_in(get_runtime(request), request, tenant, email)
        user = user_service.authenticate(session, tenant, email, password)
    except AppError as exc:
        session.rollback()
        page = render(
            request,
            "sign_in.html",
            status_code=exc.status_code,
            next=_safe_next(next),
            tenant=tenant,
            email=email,
            error=exc.message,
        )
        page.headers.update(exc.headers)
        return page
    response = RedirectResponse(_safe_next(next), status_code=303)
    # a new CSRF token at sign-in, so a token planted before it is worth nothing after
    session_cookie = {"uid": str(user.id), "generation": user.session_generation, "csrf": secrets.token_urlsafe(24)}
    deps.write_cookie(request, response, session_cookie)
    return response


@router.post("/ui/sign-out")
def sign_out(session: DbDep, me: Viewer):
    user_service.end_sessions(session, me.user)
    response = RedirectResponse("/ui/sign-in", status_code=303)
    response.delete_cookie(deps.COOKIE, path="/")
    return response


def _safe_next(target: str) -> str:
    """Only a path of this site: never an address elsewhere."""
    return target if target.startswith("/ui/") and not target.startswith("//") else "/ui/"
