import uuid

from fastapi import APIRouter, Response

from emailplatform.deps import ReadSessionDep, RuntimeDep, SessionDep
from emailplatform.openapi import error_responses
from emailplatform.pagination import Page
from emailplatform.templates import service
from emailplatform.templates.schemas import (
    PreviewOut,
    PreviewRequest,
    TemplateConfirm,
    TemplateCreate,
    TemplateDetail,
    TemplateOut,
    TemplateUpload,
    TemplateUploadRequest,
    VersionCreate,
    VersionCreated,
    VersionOut,
)
from emailplatform.tenants.auth import TenantDep, needs

router = APIRouter(
    prefix="/api/v1/templates",
    tags=["templates"],
    responses=error_responses(401, 422),
    dependencies=[needs("templates")],
)


def _created(version) -> VersionCreated:
    return VersionCreated(template_id=version.template_id, version=version.version, placeholders=version.placeholders)


@router.post("/upload-url", summary="Start a template upload", response_model=TemplateUpload, status_code=201)
def create_template_upload(body: TemplateUploadRequest, session: SessionDep, runtime: RuntimeDep, tenant_id: TenantDep):
    """Start a template: PUT its HTML to `upload_url`, then confirm it."""
    template, upload = service.create_upload(session, runtime, tenant_id, body.name)
    return TemplateUpload(template_id=template.id, upload_url=upload.url, expires_at=upload.expires_at)


@router.post(
    "/{template_id}/confirm",
    response_model=VersionCreated,
    status_code=201,
    responses=error_responses(404),
    summary="Confirm an uploaded template",
)
def confirm_template_upload(
    template_id: uuid.UUID, body: TemplateConfirm, session: SessionDep, runtime: RuntimeDep, tenant_id: TenantDep
):
    """Check the uploaded HTML and store it, with this subject, as the template's next version."""
    version = service.confirm_upload(session, runtime, tenant_id, template_id, body.subject, body.text)
    return _created(version)


@router.post("", summary="Create a template", response_model=VersionCreated, status_code=201)
def create_template(body: TemplateCreate, session: SessionDep, tenant_id: TenantDep):
    """Create a template from its subject and HTML (and, if you like, its plain text) in one request; it is checked as
    an upload is and stored as version 1. The answer lists the placeholders: the columns a recipients file must
    have."""
    version = service.create(session, tenant_id, body.name, body.subject, body.html, body.text)
    return _created(version)


@router.get("", summary="List templates", response_model=Page[TemplateOut])
def list_templates(
    session: SessionDep, tenant_id: TenantDep, limit: int = 50, cursor: str | None = None, archived: bool = False
):
    """The tenant's templates, newest first, a page at a time; the archived ones only with `archived=true`."""
    rows, next_cursor = service.list_templates(session, tenant_id, cursor=cursor, limit=limit, archived=archived)
    return Page(items=[TemplateOut.model_validate(t) for t in rows], next_cursor=next_cursor)


@router.get(
    "/{template_id}",
    response_model=TemplateDetail,
    responses=error_responses(404),
    summary="Get a template and its versions",
)
def get_template(template_id: uuid.UUID, session: SessionDep, tenant_id: TenantDep):
    """A template with every version: subject, HTML, text and placeholders of each."""
    template = service.get(session, tenant_id, template_id)
    versions = [VersionOut.model_validate(v) for v in service.list_versions(session, template)]
    return TemplateDetail(**TemplateOut.model_validate(template).model_dump(), versions=versions)


@router.put(
    "/{template_id}",
    response_model=VersionCreated,
    responses=error_responses(404),
    summary="Add a template version",
)
def update_template(template_id: uuid.UUID, body: VersionCreate, session: SessionDep, tenant_id: TenantDep):
    """Store a new version; earlier versions stay as they were."""
    version = service.add_version(session, tenant_id, template_id, body.subject, body.html, body.text)
    return _created(version)


@router.post(
    "/{template_id}/preview",
    response_model=PreviewOut,
    responses=error_responses(404),
    summary="Preview a template",
    dependencies=[needs("templates", "read")],
)
def preview_template(
    template_id: uuid.UUID, body: PreviewRequest, session: ReadSessionDep, runtime: RuntimeDep, tenant_id: TenantDep
):
    """Render the template (its latest version, or `version`) with the data given, as a recipient would get it; nothing
    is stored or sent. A placeholder with no value renders empty."""
    rendered = service.preview(session, runtime.settings, tenant_id, template_id, body.data, body.version)
    return PreviewOut(subject=rendered.subject, html=rendered.html, text=rendered.text)


# --- archive and delete -----------------------------------------------------------------------------------


@router.post(
    "/{template_id}/archive", response_model=TemplateOut, summary="Archive a template", responses=error_responses(404)
)
def archive_template(template_id: uuid.UUID, session: SessionDep, tenant_id: TenantDep):
    """Hide the template from `GET /api/v1/templates` (but with `archived=true`) and from new campaigns, which
    it can no longer start (409); its versions and the campaigns sent with them stay. Archiving twice is
    harmless."""
    return TemplateOut.model_validate(service.archive(session, tenant_id, template_id))


@router.post(
    "/{template_id}/restore",
    response_model=TemplateOut,
    summary="Restore an archived template",
    responses=error_responses(404),
)
def restore_template(template_id: uuid.UUID, session: SessionDep, tenant_id: TenantDep):
    """Bring an archived template back to the list and to new campaigns."""
    return TemplateOut.model_validate(service.archive(session, tenant_id, template_id, archived=False))


@router.delete(
    "/{template_id}",
    status_code=204,
    summary="Delete a template no campaign used",
    responses=error_responses(
        404, 409, descriptions={409: "A campaign used the template: it is kept; archive it instead."}
    ),
)
def delete_template(template_id: uuid.UUID, session: SessionDep, tenant_id: TenantDep):
    """Delete the template and its versions. A template a campaign was sent with is kept for that campaign's
    history and the answer is 409 (`error.field` = `template_id`), saying so: archive it instead."""
    service.delete(session, tenant_id, template_id)
    return Response(status_code=204)
