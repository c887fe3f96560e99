"""The suppression list: addresses never sent to again; search, filter, add by hand, remove."""

from typing import Annotated, get_args
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from emailplatform.errors import Invalid
from emailplatform.suppressions import service as suppression
from emailplatform.suppressions.schemas import SuppressionCreate, SuppressionReason
from emailplatform.ui.deps import DbDep, Editor, Viewer
from emailplatform.ui.views import UiRoute, render

router = APIRouter(route_class=UiRoute)
PAGE_SIZE = 50
REASONS = get_args(SuppressionReason)


@router.get("/ui/suppressions")
def suppressions_page(
    request: Request,
    session: DbDep,
    me: Viewer,
    q: str = "",
    reason: str = "",
    cursor: str | None = None,
    added: str = "",
    existed: str = "",
    removed: str = "",
):
    return _page(request, session, me, q=q, reason=reason, cursor=cursor, done=_done(added, existed, removed))


@router.post("/ui/suppressions")
def add_suppression(
    request: Request,
    session: DbDep,
    me: Editor,
    email: Annotated[str, Form(max_length=320)],
    details: Annotated[str, Form(max_length=1000)] = "",
):
    try:
        body = _checked(email, details)
        entry, created = suppression.add_manual(session, me.tenant_id, body.email, body.reason, body.details)
    except Invalid as exc:
        session.rollback()
        return _page(request, session, me, error=exc, typed={"email": email, "details": details}, status_code=422)
    return RedirectResponse("/ui/suppressions?" + urlencode({"added" if created else "existed": entry.email}), 303)


@router.post("/ui/suppressions/remove")
def remove_suppression(session: DbDep, me: Editor, email: Annotated[str, Form(max_length=320)]):
    suppression.remove(session, me.tenant_id, email)
    return RedirectResponse("/ui/suppressions?" + urlencode({"removed": email.lower()}), status_code=303)


def _checked(email: str, details: str) -> SuppressionCreate:
    """The same checks as the API's body."""
    try:
        return SuppressionCreate(email=email.strip(), reason="manual", details=details.strip() or None)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise Invalid(f"{first['loc'][0]}: {first['msg']}", field=str(first["loc"][0])) from None


def _done(added: str, existed: str, removed: str) -> str | None:
    if added:
        return f"{added} is suppressed: nothing more is sent to it."
    if existed:
        return f"{existed} was on the list already; its first reason is kept."
    if removed:
        return f"{removed} is off the list: campaigns send to it again."
    return None


def _page(
    request: Request,
    session,
    me,
    *,
    q: str = "",
    reason: str = "",
    cursor: str | None = None,
    done: str | None = None,
    error: Invalid | None = None,
    typed: dict | None = None,
    status_code: int = 200,
):
    reason = reason if reason in REASONS else ""
    rows, next_cursor = suppression.page_of_suppressions(
        session, me.tenant_id, reason=reason or None, search=q.strip() or None, cursor=cursor, limit=PAGE_SIZE
    )
    return render(
        request,
        "settings/suppressions.html",
        status_code=status_code,
        entries=rows,
        next_cursor=next_cursor,
        q=q,
        reason=reason,
        reasons=REASONS,
        done=done,
        error=error,
        typed=typed or {"email": "", "details": ""},
    )
