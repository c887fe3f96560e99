"""Rendering pages: one Jinja2 environment, the context every page shares, and errors shown in words."""

from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import structlog
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from markupsafe import escape

from emailplatform import audit_trail as audit
from emailplatform.deps import get_runtime
from emailplatform.errors import AppError
from emailplatform.ui import deps
from emailplatform.users import service as user_service

HERE = Path(__file__).parent
STATIC_PATH = "/ui/static"
SIGN_IN_PATH = "/ui/sign-in"
log = structlog.get_logger("emailplatform.ui")

pages = Jinja2Templates(directory=HERE / "templates")


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "—"


pages.env.filters["when"] = _when
pages.env.filters["percent"] = _percent
pages.env.globals["STATIC"] = STATIC_PATH


def nav_entries(request: Request) -> list[tuple[str, str]]:
    """The sections this user can open; a section appears here once its pages exist."""
    user = getattr(request.state, "user", None)
    if user is None:
        return []
    entries = [("Dashboard", "/ui/"), ("Campaigns", "/ui/campaigns"), ("Templates", "/ui/templates")]
    entries += [
        ("Analytics", "/ui/analytics"),
        ("Suppressions", "/ui/suppressions"),
        ("Webhooks", "/ui/webhooks"),
        ("Domains", "/ui/domains"),
    ]
    if get_runtime(request).settings.transport == "capture":
        entries.append(("Outbox", "/ui/outbox"))
    entries.append(("Jobs", "/ui/jobs"))
    if user_service.can(user, "administer"):
        entries += [("API keys", "/ui/api-keys"), ("Users", "/ui/users"), ("Audit log", "/ui/audit")]
    return entries


def render(request: Request, name: str, status_code: int = 200, **context) -> HTMLResponse:
    user = getattr(request.state, "user", None)
    response = pages.TemplateResponse(
        request,
        name,
        {
            "user": user,
            "can_change": bool(user and user_service.can(user, "change")),
            "csrf": deps.csrf_token(request),
            "nav": nav_entries(request),
            "path": request.url.path,
        }
        | context,
        status_code=status_code,
    )
    new_csrf = getattr(request.state, "new_csrf", None)
    if new_csrf:  # the first page of a browser's visit starts its session
        deps.write_cookie(request, response, {"csrf": new_csrf})
    return response


def error_page(request: Request, status_code: int, message: str) -> HTMLResponse:
    if request.headers.get("HX-Request"):
        return HTMLResponse(f'<p class="error" role="alert">{escape(message)}</p>', status_code=status_code)
    return render(request, "error.html", status_code=status_code, message=message)


def sign_in_redirect(request: Request) -> Response:
    target = f"{SIGN_IN_PATH}?next={quote(request.url.path)}"
    if request.headers.get("HX-Request"):
        return Response(status_code=200, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


class UiRoute(APIRoute):
    """A page route: no sign-in leads to the sign-in page, an error to a page saying it in words (after the
    request's session is rolled back, so nothing a failed step flushed is kept)."""

    def get_route_handler(self):
        handler = super().get_route_handler()

        async def ui_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except deps.SignInRequired:
                _rollback(request)
                return sign_in_redirect(request)
            except AppError as exc:
                _rollback(request)
                return error_page(request, exc.status_code, exc.message)
            except RequestValidationError as exc:
                _rollback(request)
                return error_page(request, 422, _validation_message(exc))

        return ui_handler


def _rollback(request: Request) -> None:
    audit.failed(request)
    session = getattr(request.state, "db", None)
    if session is not None:
        session.rollback()


def _validation_message(exc: RequestValidationError) -> str:
    reasons = [f"{'.'.join(str(p) for p in e['loc'][1:]) or 'request'}: {e['msg']}" for e in exc.errors()]
    return "The page was asked for with values it cannot use: " + "; ".join(reasons)
