"""Templates: the list, a new one, the editor with its live preview, and the version history."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from emailplatform.deliverability import service as deliverability
from emailplatform.deps import RuntimeDep
from emailplatform.errors import AppError
from emailplatform.models.template import MAX_VERSION
from emailplatform.templates import service as template_service
from emailplatform.testsends import service as test_sends
from emailplatform.ui.deps import DbDep, Editor, ReadDbDep, Viewer
from emailplatform.ui.views import UiRoute, render

router = APIRouter(route_class=UiRoute)
PAGE_SIZE = 50
STARTER_HTML = "<p>Hello {{ first_name }},</p>\n<p>Write your message here.</p>\n"

Subject = Annotated[str, Form(max_length=template_service.MAX_SUBJECT_CHARS)]
Html = Annotated[str, Form(max_length=template_service.MAX_SOURCE_CHARS)]
Text = Annotated[str, Form(max_length=template_service.MAX_SOURCE_CHARS)]


@router.get("/ui/templates")
def list_templates(request: Request, session: DbDep, me: Viewer, cursor: str | None = None, archived: bool = False):
    rows, next_cursor = template_service.list_templates(
        session, me.tenant_id, cursor=cursor, limit=PAGE_SIZE, archived=archived
    )
    return render(request, "templates/list.html", templates=rows, next_cursor=next_cursor, archived=archived)


@router.get("/ui/templates/new")
def new_template_page(request: Request, _me: Editor):
    draft = {"name": "", "subject": "Hello {{ first_name }}", "html": STARTER_HTML, "text": ""}
    return render(request, "templates/new.html", draft=draft, error=None)


@router.post("/ui/templates/new")
def create_template(
    request: Request,
    session: DbDep,
    me: Editor,
    name: Annotated[str, Form(max_length=200)],
    subject: Subject,
    html: Html,
    text: Text = "",
):
    try:
        version = template_service.create(session, me.tenant_id, name, subject, html, text or None)
    except AppError as exc:
        session.rollback()
        draft = {"name": name, "subject": subject, "html": html, "text": text}
        return render(request, "templates/new.html", status_code=exc.status_code, draft=draft, error=exc)
    return RedirectResponse(f"/ui/templates/{version.template_id}?saved={version.version}", status_code=303)


@router.get("/ui/templates/{template_id}")
def edit_template_page(
    request: Request,
    session: DbDep,
    me: Viewer,
    template_id: uuid.UUID,
    version: Annotated[int | None, Query(ge=1, le=MAX_VERSION)] = None,
    saved: Annotated[int | None, Query(ge=1, le=MAX_VERSION)] = None,
):
    template = template_service.get(session, me.tenant_id, template_id)
    shown = template_service.get_version(session, me.tenant_id, template_id, version)
    draft = {"subject": shown.subject, "html": shown.html, "text": "" if shown.text_is_generated else shown.text}
    return render(
        request,
        "templates/edit.html",
        template=template,
        shown=shown,
        draft=draft,
        error=None,
        saved=saved,
        versions=list(reversed(template_service.list_versions(session, template))),
    )


@router.post("/ui/templates/{template_id}")
def save_version(
    request: Request, session: DbDep, me: Editor, template_id: uuid.UUID, subject: Subject, html: Html, text: Text = ""
):
    try:
        version = template_service.add_version(session, me.tenant_id, template_id, subject, html, text or None)
    except AppError as exc:
        session.rollback()
        template = template_service.get(session, me.tenant_id, template_id)
        shown = template_service.get_version(session, me.tenant_id, template_id)
        return render(
            request,
            "templates/edit.html",
            status_code=exc.status_code,
            template=template,
            shown=shown,
            draft={"subject": subject, "html": html, "text": text},
            error=exc,
            saved=None,
            versions=list(reversed(template_service.list_versions(session, template))),
        )
    return RedirectResponse(f"/ui/templates/{template_id}?saved={version.version}", status_code=303)


@router.post("/ui/templates/{template_id}/archive")
def archive_template(session: DbDep, me: Editor, template_id: uuid.UUID):
    template_service.archive(session, me.tenant_id, template_id)
    return RedirectResponse(f"/ui/templates/{template_id}", status_code=303)


@router.post("/ui/templates/{template_id}/restore")
def restore_template(session: DbDep, me: Editor, template_id: uuid.UUID):
    template_service.archive(session, me.tenant_id, template_id, archived=False)
    return RedirectResponse(f"/ui/templates/{template_id}", status_code=303)


@router.post("/ui/templates/{template_id}/delete")
def delete_template(session: DbDep, me: Editor, template_id: uuid.UUID):
    """Only a template no campaign used; a used one is kept (the error page says to archive it)."""
    template_service.delete(session, me.tenant_id, template_id)
    return RedirectResponse("/ui/templates", status_code=303)


@router.post("/ui/templates/{template_id}/test")
async def send_test(request: Request, session: ReadDbDep, runtime: RuntimeDep, me: Editor, template_id: uuid.UUID):
    """The version shown in the editor, with the sample data typed beside it, sent only to the seed addresses."""
    form = await request.form()
    samples = {key.removeprefix("sample."): str(value) for key, value in form.items() if key.startswith("sample.")}
    version = str(form.get("version", ""))
    sender = str(form.get("test_from", "")).strip()
    try:
        results = await run_in_threadpool(
            test_sends.send_template_test,
            session,
            runtime,
            me.tenant_id,
            template_id,
            to=test_sends.parse_seeds(str(form.get("test_to", ""))),
            data=samples,
            version=int(version) if version.isdigit() else None,
            sender=(sender, None) if sender else None,
        )
    except AppError as exc:
        return render(request, "partials/test_result.html", error=exc, results=[])
    captured = runtime.settings.transport == "capture"
    return render(request, "partials/test_result.html", error=None, results=results, captured=captured)


@router.post("/ui/templates/{template_id}/deliverability")
async def check_deliverability(
    request: Request, session: ReadDbDep, runtime: RuntimeDep, me: Editor, template_id: uuid.UUID
):
    """The deliverability report of the version shown, with the sample data typed beside it."""
    form = await request.form()
    samples = {key.removeprefix("sample."): str(value) for key, value in form.items() if key.startswith("sample.")}
    version = str(form.get("version", ""))
    sender = str(form.get("test_from", "")).strip()
    try:
        report = await run_in_threadpool(
            deliverability.check_template,
            session,
            runtime,
            me.tenant_id,
            template_id,
            data=samples,
            version=int(version) if version.isdigit() else None,
            sender=(sender, None) if sender else None,
        )
    except AppError as exc:
        return render(request, "partials/deliverability.html", error=exc, report=None)
    return render(request, "partials/deliverability.html", error=None, report=report)


@router.post("/ui/template-preview")
async def preview(request: Request, runtime: RuntimeDep, _me: Viewer):
    """The editor's draft rendered with sample data, for the sandboxed preview frame."""
    form = await request.form()
    subject, html, text = (str(form.get(part, "")) for part in ("subject", "html", "text"))
    samples = {key.removeprefix("sample."): str(value) for key, value in form.items() if key.startswith("sample.")}
    try:
        names, rendered = await run_in_threadpool(
            template_service.preview_draft, runtime.settings, subject, html, text, samples
        )
    except AppError as exc:
        return render(request, "templates/preview.html", error=exc.message, rendered=None, names=[])
    return render(request, "templates/preview.html", error=None, rendered=rendered, names=names)
