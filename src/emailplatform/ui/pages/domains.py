"""Sending domains: add one, the DNS records to publish, and a check of them through DNS that says what to do."""

import uuid
from typing import Annotated

import idna
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from emailplatform.deps import RuntimeDep
from emailplatform.domains import service as domain_service
from emailplatform.errors import AppError
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


@router.get("/ui/domains/{domain_id}")
def domain_page(request: Request, session: DbDep, runtime: RuntimeDep, me: Viewer, domain_id: uuid.UUID):
    return _domain_page(request, runtime, domain_service.get(session, me.tenant_id, domain_id), checked=False)


@router.post("/ui/domains/{domain_id}/verify")
def verify_domain(request: Request, session: DbDep, runtime: RuntimeDep, me: Editor, domain_id: uuid.UUID):
    domain = domain_service.verify(session, me.tenant_id, domain_id, runtime.settings)
    return _domain_page(request, runtime, domain, checked=True)


@router.post("/ui/domains/{domain_id}/delete")
def delete_domain(session: DbDep, me: Editor, domain_id: uuid.UUID):
    domain_service.delete(session, me.tenant_id, domain_id)
    return RedirectResponse("/ui/domains", status_code=303)


def _list_page(request: Request, session, runtime, me, *, error=None, typed: str = "", status_code: int = 200):
    return render(
        request, "settings/domains.html", status_code=status_code,
        domains=[(d, idna.decode(d.name)) for d in domain_service.list_domains(session, me.tenant_id)],
        unverified_allowed=domain_service.unverified_domains_allowed(runtime.settings), error=error, typed=typed,
    )


def _domain_page(request: Request, runtime, domain, *, checked: bool):
    records = sorted(domain_service.records(domain, runtime.settings), key=lambda record: not record.required)
    return render(
        request, "settings/domain.html", domain=domain, unicode_name=idna.decode(domain.name), records=records,
        checked=checked, unverified_allowed=domain_service.unverified_domains_allowed(runtime.settings),
    )
