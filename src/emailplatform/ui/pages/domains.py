"""Sending domains: add one, the DNS records to publish, and a check of them through DNS that says what to do."""

import uuid
from typing import Annotated

import idna
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from pydantic import EmailStr, TypeAdapter, ValidationError

from emailplatform.deps import RuntimeDep
from emailplatform.domains import service as domain_service
from emailplatform.errors import AppError, Invalid
from emailplatform.tenants import service as tenant_service
from emailplatform.ui.deps import DbDep, Editor, Viewer
from emailplatform.ui.views import UiRoute, render

router = APIRouter(route_class=UiRoute)


@router.get("/ui/domains")
def domains_page(request: Request, session: DbDep, runtime: RuntimeDep, me: Viewer):
    return _list_page(request, session, runtime, me)


@router.post("/ui/domains")
def add_domain(
    request: Request, session: DbDep, runtime: RuntimeDep, me: Editor, name: Annotated[str, Form(max_length=253)]
):
    try:
        domain = domain_service.register(session, me.tenant_id, name)
    except AppError as exc:
        session.rollback()
        return _list_page(request, session, runtime, me, error=exc, typed=name, status_code=exc.status_code)
    return RedirectResponse(f"/ui/domains/{domain.id}", status_code=303)


@router.post("/ui/domains/default-sender")
def set_default_sender(
    request: Request,
    session: DbDep,
    runtime: RuntimeDep,
    me: Editor,
    email: Annotated[str, Form(max_length=320)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
):
    """The sender of campaigns that name none (an API request without `from`); an empty address removes it."""
    try:
        address = _address(email)
        _, warning = domain_service.set_default_sender(
            session, runtime.settings, me.tenant_id, address, name.strip() or None
        )
    except AppError as exc:
        session.rollback()
        typed = {"email": email, "name": name}
        return _list_page(
            request, session, runtime, me, sender_error=exc, typed_sender=typed, status_code=exc.status_code
        )
    return _list_page(request, session, runtime, me, sender_saved=True, sender_warning=warning)


@router.get("/ui/domains/{domain_id}")
def domain_page(request: Request, session: DbDep, runtime: RuntimeDep, me: Viewer, domain_id: uuid.UUID):
    return _domain_page(request, runtime, domain_service.get(session, me.tenant_id, domain_id), checked=False)


@router.post("/ui/domains/{domain_id}/verify")
def verify_domain(request: Request, session: DbDep, runtime: RuntimeDep, me: Editor, domain_id: uuid.UUID):
    settings = runtime.settings
    expected = domain_service.expected_records(session, me.tenant_id, domain_id, settings)
    session.commit()  # the lookup holds no transaction
    answers = domain_service.look_up(expected, settings)
    domain = domain_service.verify(session, me.tenant_id, domain_id, settings, expected, answers)
    return _domain_page(request, runtime, domain, checked=True)


@router.post("/ui/domains/{domain_id}/delete")
def delete_domain(session: DbDep, me: Editor, domain_id: uuid.UUID):
    domain_service.delete(session, me.tenant_id, domain_id)
    return RedirectResponse("/ui/domains", status_code=303)


def _list_page(
    request: Request,
    session,
    runtime,
    me,
    *,
    error=None,
    typed: str = "",
    status_code: int = 200,
    sender_error=None,
    typed_sender: dict | None = None,
    sender_saved: bool = False,
    sender_warning: str | None = None,
):
    sender = tenant_service.default_sender(session, me.tenant_id)
    return render(
        request,
        "settings/domains.html",
        status_code=status_code,
        domains=[(d, idna.decode(d.name)) for d in domain_service.list_domains(session, me.tenant_id)],
        unverified_allowed=domain_service.unverified_domains_allowed(runtime.settings),
        error=error,
        typed=typed,
        sender=typed_sender or {"email": sender[0] if sender else "", "name": (sender[1] or "") if sender else ""},
        sender_error=sender_error,
        sender_saved=sender_saved,
        sender_warning=sender_warning,
    )


def _address(email: str) -> str | None:
    """The typed address checked as the API checks it (None when left empty)."""
    if not email.strip():
        return None
    try:
        return str(TypeAdapter(EmailStr).validate_python(email.strip()))
    except ValidationError:
        raise Invalid(f"{email.strip()!r} is not an email address", field="email") from None


def _domain_page(request: Request, runtime, domain, *, checked: bool):
    records = sorted(domain_service.records(domain, runtime.settings), key=lambda record: not record.required)
    return render(
        request,
        "settings/domain.html",
        domain=domain,
        unicode_name=idna.decode(domain.name),
        records=records,
        checked=checked,
        unverified_allowed=domain_service.unverified_domains_allowed(runtime.settings),
    )
