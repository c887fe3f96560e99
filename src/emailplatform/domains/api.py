import uuid

import idna
from fastapi import APIRouter

from emailplatform.config import Settings
from emailplatform.deps import RuntimeDep, SessionDep
from emailplatform.domains import service
from emailplatform.domains.schemas import DnsRecordOut, DomainCreate, DomainOut
from emailplatform.models import SendingDomain
from emailplatform.openapi import error_responses
from emailplatform.tenants.auth import TenantDep, needs

router = APIRouter(
    prefix="/api/v1/domains",
    tags=["sending domains"],
    responses=error_responses(401, 422),
    dependencies=[needs("domains")],
)


@router.post(
    "",
    response_model=DomainOut,
    status_code=201,
    responses=error_responses(409),
    summary="Register a sending domain",
)
def register_domain(body: DomainCreate, session: SessionDep, runtime: RuntimeDep, tenant_id: TenantDep):
    """Register the domain of your From addresses: the answer lists the DNS records to publish (DKIM and SPF required;
    DMARC and a return path recommended). Then verify it."""
    return _domain_out(service.register(session, tenant_id, body.name), runtime.settings)


@router.get("", summary="List sending domains", response_model=list[DomainOut])
def list_domains(session: SessionDep, runtime: RuntimeDep, tenant_id: TenantDep):
    """The tenant's sending domains with the DNS records each needs and what the last check found."""
    return [_domain_out(domain, runtime.settings) for domain in service.list_domains(session, tenant_id)]


@router.get("/{domain_id}", summary="Get a sending domain", response_model=DomainOut, responses=error_responses(404))
def get_domain(domain_id: uuid.UUID, session: SessionDep, runtime: RuntimeDep, tenant_id: TenantDep):
    """A domain with its DNS records and their status."""
    return _domain_out(service.get(session, tenant_id, domain_id), runtime.settings)


@router.delete("/{domain_id}", summary="Delete a sending domain", status_code=204, responses=error_responses(404))
def delete_domain(domain_id: uuid.UUID, session: SessionDep, tenant_id: TenantDep):
    """Forget the domain, its DKIM key and its checks; registering it again starts over with a new key."""
    service.delete(session, tenant_id, domain_id)


@router.post(
    "/{domain_id}/verify",
    response_model=DomainOut,
    responses=error_responses(404),
    summary="Verify a sending domain",
)
def verify_domain(domain_id: uuid.UUID, session: SessionDep, runtime: RuntimeDep, tenant_id: TenantDep):
    """Look up the domain's DNS records now; `verified` is true once the required ones are right, and `problems` says
    what to fix when not."""
    settings = runtime.settings
    expected = service.expected_records(session, tenant_id, domain_id, settings)
    session.commit()  # the lookup holds no transaction
    answers = service.look_up(expected, settings)
    return _domain_out(service.verify(session, tenant_id, domain_id, settings, expected, answers), settings)


def _domain_out(domain: SendingDomain, settings: Settings) -> DomainOut:
    records = service.records(domain, settings)
    ordered = sorted(records, key=lambda record: not record.required)
    return DomainOut(
        id=domain.id,
        name=domain.name,
        unicode_name=idna.decode(domain.name),
        dkim_selector=domain.dkim_selector,
        verified=domain.verified_at is not None,
        verified_at=domain.verified_at,
        last_checked_at=domain.last_checked_at,
        created_at=domain.created_at,
        problems=[record.message for record in ordered if record.message],
        records=[DnsRecordOut(**vars(record) | {"found": list(record.found)}) for record in records],
    )
