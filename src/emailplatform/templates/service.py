"""Templates and their versions. A version is immutable; a change is a new version."""

import hashlib
import uuid

from sqlalchemy import delete as delete_rows
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from emailplatform.config import Settings
from emailplatform.errors import Conflict, Invalid, NotFound
from emailplatform.models import File, Template, TemplateVersion, Transaction, utcnow
from emailplatform.pagination import paginate
from emailplatform.runtime import Runtime
from emailplatform.storage import PresignedUpload
from emailplatform.storage import service as storage_service
from emailplatform.templates import plaintext, rendering

MAX_SUBJECT_CHARS = 998  # the longest line RFC 5322 allows
MAX_SOURCE_CHARS = 1_000_000
UPLOAD_FILENAME = "template.html"
DRAFTS = uuid.UUID("5f0c6b1e-8f0e-4d1a-9a51-6d1f3c2b7a10")  # namespace of the ids drafts are cached under


def create_upload(
    session: Session, runtime: Runtime, tenant_id: uuid.UUID, name: str
) -> tuple[Template, PresignedUpload]:
    """A template with no version yet, and the presigned URL its HTML is PUT to before it is confirmed."""
    new = storage_service.create_upload(
        session, runtime.storage, runtime.settings, tenant_id, "template", UPLOAD_FILENAME
    )
    template = Template(tenant_id=tenant_id, name=_name(name), latest_version=0, upload_file_id=new.file.id)
    session.add(template)
    session.flush()
    return template, new.upload


def confirm_upload(
    session: Session, runtime: Runtime, tenant_id: uuid.UUID, template_id: uuid.UUID, subject: str, text: str | None
) -> TemplateVersion:
    """A new version from the HTML uploaded to the template's upload URL."""
    template = _get_for_update(session, tenant_id, template_id)
    if template.upload_file_id is None:
        raise Invalid(
            "this template was not created by an upload: send new versions with PUT /api/v1/templates/{id}",
            field="template_id",
        )
    html = _read_uploaded_html(runtime, storage_service.get(session, tenant_id, template.upload_file_id))
    return _add_version(session, template, subject, html, text)


def create(
    session: Session, tenant_id: uuid.UUID, name: str, subject: str, html: str, text: str | None
) -> TemplateVersion:
    """A template and its first version in one call."""
    template = Template(tenant_id=tenant_id, name=_name(name), latest_version=0)
    session.add(template)
    session.flush()
    return _add_version(session, template, subject, html, text)


def add_version(
    session: Session, tenant_id: uuid.UUID, template_id: uuid.UUID, subject: str, html: str, text: str | None
) -> TemplateVersion:
    return _add_version(session, _get_for_update(session, tenant_id, template_id), subject, html, text)


def list_templates(session: Session, tenant_id: uuid.UUID, *, cursor: str | None, limit: int, archived: bool = False):
    """A page of the tenant's templates, newest first, and the cursor of the next page; the archived ones
    (`archived`) or the others."""
    stmt = select(Template).where(Template.tenant_id == tenant_id)
    stmt = stmt.where(Template.archived_at.is_not(None) if archived else Template.archived_at.is_(None))
    return paginate(session, stmt, (Template.created_at, Template.id), cursor=cursor, limit=limit, descending=True)


def get(session: Session, tenant_id: uuid.UUID, template_id: uuid.UUID, *, lock: bool = False) -> Template:
    stmt = select(Template).where(Template.id == template_id, Template.tenant_id == tenant_id)
    template = session.scalar(stmt.with_for_update(read=True) if lock else stmt)
    if template is None:
        raise NotFound("no such template", field="template_id")
    return template


def archive(session: Session, tenant_id: uuid.UUID, template_id: uuid.UUID, archived: bool = True) -> Template:
    """Hide the template from lists and from new campaigns (`archived`), or bring it back; its versions, and
    the campaigns sent with them, stay as they were."""
    template = _get_for_update(session, tenant_id, template_id)
    if archived and template.archived_at is None:
        template.archived_at = utcnow()
    elif not archived:
        template.archived_at = None
    session.flush()
    return template


def delete(session: Session, tenant_id: uuid.UUID, template_id: uuid.UUID) -> None:
    """Delete a template no campaign has used, with its versions. A used one is kept for its campaigns' history
    (Conflict): archive it instead."""
    template = _get_for_update(session, tenant_id, template_id)
    used = session.scalar(
        select(func.count())
        .select_from(Transaction)
        .where(Transaction.tenant_id == tenant_id, Transaction.template_id == template.id)
    )
    if used:
        raise Conflict(
            f"the template was used by {used} campaign{'s' if used != 1 else ''} and is kept for their history: "
            f"archive it instead (POST /api/v1/templates/{template.id}/archive)",
            field="template_id",
        )
    session.execute(delete_rows(TemplateVersion).where(TemplateVersion.template_id == template.id))
    session.delete(template)
    session.flush()


def list_versions(session: Session, template: Template) -> list[TemplateVersion]:
    stmt = select(TemplateVersion).where(TemplateVersion.template_id == template.id).order_by(TemplateVersion.version)
    return list(session.scalars(stmt))


def get_version(
    session: Session,
    tenant_id: uuid.UUID,
    template_id: uuid.UUID,
    version: int | None = None,
    *,
    for_campaign: bool = False,
) -> TemplateVersion:
    """A version of the tenant's template, the latest when `version` is None. `for_campaign`: a version to start
    a campaign with, which an archived template is not; the template is share-locked until the commit, so it is
    not deleted meanwhile."""
    template = get(session, tenant_id, template_id, lock=for_campaign)
    if for_campaign and template.archived_at is not None:
        raise Conflict("the template is archived: restore it to start campaigns with it", field="template_id")
    if template.latest_version == 0:
        raise Invalid("the template has no version yet: confirm its upload first", field="template_id")
    number = template.latest_version if version is None else version
    found = session.scalar(
        select(TemplateVersion).where(TemplateVersion.template_id == template.id, TemplateVersion.version == number)
    )
    if found is None:
        raise NotFound(f"the template has no version {number}", field="version")
    return found


def preview(
    session: Session,
    settings: Settings,
    tenant_id: uuid.UUID,
    template_id: uuid.UUID,
    data: dict[str, str],
    version: int | None = None,
) -> rendering.Rendered:
    """A version rendered with `data`, exactly as a campaign would render it for one recipient."""
    found = get_version(session, tenant_id, template_id, version)
    try:
        return rendering.compile_version(found, settings).render(data)
    except rendering.RenderError as exc:
        field = f"data.{exc.placeholder}" if exc.placeholder else "data"
        raise Invalid(exc.reason, field=field) from None


def preview_draft(
    settings: Settings, subject: str, html: str, text: str, data: dict[str, str]
) -> tuple[list[str], rendering.Rendered]:
    """The placeholders of an unsaved draft and the draft rendered as a campaign would render it; a placeholder
    with no value in `data` shows as [name]. Compiled drafts are cached by their content, like saved versions."""
    if not subject.strip() or not html.strip():
        raise Invalid("a preview needs a subject and an HTML body", field="html")
    text_source = text or plaintext.text_from_html(html)
    names = rendering.placeholders({"subject": subject, "html": html, "text": text_source})
    digest = hashlib.sha256("\0".join((subject, html, text_source)).encode()).hexdigest()
    draft = TemplateVersion(id=uuid.uuid5(DRAFTS, digest), subject=subject, html=html, text=text_source)
    values = {name: data.get(name) or f"[{name}]" for name in names}
    try:
        return names, rendering.compile_version(draft, settings).render(values)
    except rendering.RenderError as exc:
        raise Invalid(exc.reason, field=f"data.{exc.placeholder}" if exc.placeholder else "html") from None


def _name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 200:
        raise Invalid("a template name has 1 to 200 characters", field="name")
    return name


def _get_for_update(session: Session, tenant_id: uuid.UUID, template_id: uuid.UUID) -> Template:
    """The template, locked until the transaction ends, so two new versions never take the same number."""
    stmt = select(Template).where(Template.id == template_id, Template.tenant_id == tenant_id).with_for_update()
    template = session.scalar(stmt)
    if template is None:
        raise NotFound("no such template", field="template_id")
    return template


def _read_uploaded_html(runtime: Runtime, file: File) -> str:
    size = storage_service.uploaded_size(runtime.storage, runtime.settings, file, field="html")
    if size > MAX_SOURCE_CHARS * 4:
        raise Invalid(f"the uploaded HTML is larger than the {MAX_SOURCE_CHARS} characters allowed", field="html")
    with runtime.storage.open(file.storage_key) as stream:
        raw = stream.read()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        reason = f"the uploaded HTML is not UTF-8: byte {exc.start + 1} (0x{raw[exc.start]:02x}) cannot be decoded"
        raise Invalid(reason, field="html") from None


def _add_version(session: Session, template: Template, subject: str, html: str, text: str | None) -> TemplateVersion:
    sources = _checked_sources(subject, html, text)
    text_is_generated = not text
    if text_is_generated:
        sources["text"] = plaintext.text_from_html(html)
    names = rendering.placeholders({"subject": sources["subject"], "html": sources["html"]})
    names = sorted(set(names) | set(_text_placeholders(sources["text"], text_is_generated)))
    template.latest_version += 1
    version = TemplateVersion(
        template_id=template.id,
        tenant_id=template.tenant_id,
        version=template.latest_version,
        text_is_generated=text_is_generated,
        placeholders=names,
        **sources,
    )
    session.add(version)
    session.flush()
    return version


def _checked_sources(subject: str, html: str, text: str | None) -> dict[str, str]:
    limits = {"subject": MAX_SUBJECT_CHARS, "html": MAX_SOURCE_CHARS, "text": MAX_SOURCE_CHARS}
    sources = {"subject": subject, "html": html, "text": text or ""}
    for field, source in sources.items():
        if len(source) > limits[field]:
            raise Invalid(f"the {field} is longer than the {limits[field]} characters allowed", field=field)
    for field in ("subject", "html"):
        if not sources[field].strip():
            raise Invalid(f"the {field} is empty", field=field)
    return sources


def _text_placeholders(text: str, generated: bool) -> list[str]:
    try:
        return rendering.placeholders({"text": text})
    except Invalid as exc:
        if not generated:
            raise
        raise Invalid(f"the text derived from the HTML does not compile: {exc.message}", field="html") from None
