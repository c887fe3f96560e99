"""Sending domains: register one (with a DKIM key), list the DNS records it must publish, check them
through DNS, and answer whether a tenant may send from an address and with which DKIM key."""

import ipaddress
import re
import uuid
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

import idna
from sqlalchemy import select
from sqlalchemy.orm import Session

from emailplatform.config import Settings
from emailplatform.db import get_for_tenant
from emailplatform.domains import dns
from emailplatform.domains.dkim import DkimSigner, generate_key
from emailplatform.errors import Conflict, Invalid
from emailplatform.models import SendingDomain, Tenant, utcnow
from emailplatform.tenants import service as tenant_service

RETURN_PATH_LABEL = "bounces"
SES_SPF_INCLUDE = "amazonses.com"
REQUIRED_KINDS = ("dkim", "spf")
MAX_NAME = 253 - len("ep000000._domainkey.")  # the DKIM record's name must fit DNS's 253 characters too
LDH_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


class CheckStatus(StrEnum):
    PENDING = "pending"  # never checked
    VERIFIED = "verified"
    MISSING = "missing"  # no such record
    MISMATCH = "mismatch"  # a record is there, not the one asked for
    UNREACHABLE = "unreachable"  # DNS did not answer: nothing is known


@dataclass(frozen=True)
class DnsRecord:
    """A record the domain's owner publishes, and what the last check found of it."""

    kind: str  # dkim | spf | dmarc | return_path
    type: str  # TXT | CNAME | MX
    name: str
    value: str
    required: bool
    priority: int | None = None
    status: str = CheckStatus.PENDING
    found: tuple[str, ...] = ()
    message: str | None = None


def normalize_name(name: str) -> str:
    """A domain name in its lowercase IDNA (ASCII) form; Invalid if it is not a public DNS name."""
    name = name.strip().rstrip(".").lower()
    if not name:
        raise Invalid("a domain name is required, e.g. example.com", field="name")
    if _is_ip_address(name):
        raise Invalid(f"{name!r} is an IP address; a sending domain is a DNS name, e.g. example.com", field="name")
    try:
        ascii_name = idna.encode(name, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise Invalid(f"{name!r} is not a valid domain name: {exc}", field="name") from None
    labels = ascii_name.split(".")
    if len(labels) < 2 or labels[-1].isdigit():
        raise Invalid(f"{name!r} is not a full domain name with a top-level domain, e.g. example.com", field="name")
    if len(ascii_name) > MAX_NAME:
        raise Invalid(
            f"a sending domain has at most {MAX_NAME} characters (its DKIM record's name must fit DNS)", field="name"
        )
    if not all(LDH_LABEL.fullmatch(label) for label in labels):
        raise Invalid(
            f"{name!r} is not a valid domain name: labels are 1 to 63 letters, digits or inner hyphens",
            field="name",
        )
    return ascii_name


def register(session: Session, tenant_id: uuid.UUID, name: str) -> SendingDomain:
    name = normalize_name(name)
    if _find(session, tenant_id, name) is not None:
        raise Conflict(f"the domain {name} is registered already", field="name")
    private_key, public_key = generate_key()
    domain = SendingDomain(
        tenant_id=tenant_id,
        name=name,
        dkim_selector=f"ep{utcnow():%Y%m}",
        dkim_private_key=private_key,
        dkim_public_key=public_key,
    )
    session.add(domain)
    session.flush()
    return domain


def list_domains(session: Session, tenant_id: uuid.UUID) -> list[SendingDomain]:
    stmt = select(SendingDomain).where(SendingDomain.tenant_id == tenant_id).order_by(SendingDomain.name)
    return list(session.scalars(stmt))


def get(session: Session, tenant_id: uuid.UUID, domain_id: uuid.UUID) -> SendingDomain:
    return get_for_tenant(session, SendingDomain, domain_id, tenant_id, field="domain_id", what="sending domain")


def delete(session: Session, tenant_id: uuid.UUID, domain_id: uuid.UUID) -> None:
    session.delete(get(session, tenant_id, domain_id))
    session.flush()


def records(domain: SendingDomain, settings: Settings) -> list[DnsRecord]:
    """The records to publish, each with what the last check found."""
    checks = domain.record_checks or {}
    return [
        DnsRecord(**vars(record) | _stored_check(checks.get(record.kind)))
        for record in _expected_records(domain, settings)
    ]


def expected_records(
    session: Session, tenant_id: uuid.UUID, domain_id: uuid.UUID, settings: Settings
) -> list[DnsRecord]:
    """The records a verification looks up; the caller ends its transaction before the lookup (DNS can take
    seconds: no transaction, on SQLite the write lock, is held meanwhile)."""
    return _expected_records(get(session, tenant_id, domain_id), settings)


def look_up(expected: list[DnsRecord], settings: Settings) -> list[dns.Answer]:
    resolver = dns.make_resolver(settings.dns_nameservers, settings.dns_timeout_seconds)
    return dns.lookup_all(resolver, [(record.name, record.type) for record in expected])


def verify(
    session: Session,
    tenant_id: uuid.UUID,
    domain_id: uuid.UUID,
    settings: Settings,
    expected: list[DnsRecord],
    answers: list[dns.Answer],
) -> SendingDomain:
    """Keep what the lookup of every record found. The domain is verified while its DKIM and SPF records are
    right; a DNS failure leaves the verification as it was."""
    domain = get(session, tenant_id, domain_id)  # again: it may have been deleted during the lookup
    checked = [_check(record, answer, settings) for record, answer in zip(expected, answers)]
    domain.record_checks = {
        record.kind: {"status": record.status, "found": list(record.found), "message": record.message}
        for record in checked
    }
    required = [record for record in checked if record.required]
    if all(record.status == CheckStatus.VERIFIED for record in required):
        domain.verified_at = domain.verified_at or utcnow()
    elif not any(record.status == CheckStatus.UNREACHABLE for record in required):
        domain.verified_at = None
    domain.last_checked_at = utcnow()
    session.flush()
    return domain


def signer_for(session: Session, tenant_id: uuid.UUID, from_email: str) -> DkimSigner | None:
    """The DKIM signer of the sender's domain; None unless it is a verified domain of the tenant."""
    domain = _find(session, tenant_id, _domain_of(from_email))
    if domain is None or domain.verified_at is None:
        return None
    return DkimSigner(domain.name, domain.dkim_selector, domain.dkim_private_key)


def check_sender(session: Session, tenant_id: uuid.UUID, from_email: str, settings: Settings) -> str | None:
    """None when the sender's domain is a verified domain of the tenant. Otherwise a warning to show when the
    deployment allows sending from unverified domains, and Invalid (field from.email) when it does not."""
    name = _domain_of(from_email)
    domain = _find(session, tenant_id, name)
    if domain is not None and domain.verified_at is not None:
        return None
    if domain is None:
        state, todo = "is not a registered sending domain", "register it with POST /api/v1/domains, publish"
    else:
        state, todo = "is not verified", "publish"
    if not unverified_domains_allowed(settings):
        raise Invalid(
            f"the sender's domain {name} {state}: {todo} the DNS records it lists, then check them with "
            f"POST /api/v1/domains/{{id}}/verify",
            field="from.email",
        )
    return (
        f"the sender's domain {name} {state}: messages go out without a DKIM signature and may be refused or "
        f"filed as spam; this deployment allows it (EMAILPLATFORM_ALLOW_UNVERIFIED_DOMAINS)"
    )


def set_default_sender(
    session: Session, settings: Settings, tenant_id: uuid.UUID, email: str | None, name: str | None = None
) -> tuple[Tenant, str | None]:
    """The sender of the tenant's campaigns that name none (None: every campaign names its own), checked as a
    campaign's sender is; and the warning a campaign from it would get (an unverified domain)."""
    try:
        warning = check_sender(session, tenant_id, email, settings) if email else None
    except Invalid as exc:
        raise Invalid(exc.message, field="default_sender.email") from None
    tenant = tenant_service.get_tenant(session, tenant_id)
    tenant.default_from_email = email
    tenant.default_from_name = (name or None) if email else None
    session.flush()
    return tenant, warning


def unverified_domains_allowed(settings: Settings) -> bool:
    if settings.allow_unverified_domains is None:
        return settings.is_sqlite
    return settings.allow_unverified_domains


def spf_mechanism(settings: Settings) -> str:
    """What a sending domain's SPF record must hold to let us send: `include:` of a domain whose SPF lists
    the addresses we send from, or (a deployment known only by its IP address) that address."""
    default = SES_SPF_INCLUDE if settings.transport == "ses" else settings.bounce_domain
    host = settings.spf_include or default or _public_host(settings)
    if _is_ip_address(host):
        return f"ip{ipaddress.ip_address(host.strip('[]')).version}:{host.strip('[]')}"
    return f"include:{host.lower()}"


def _expected_records(domain: SendingDomain, settings: Settings) -> list[DnsRecord]:
    return [
        DnsRecord(
            "dkim",
            "TXT",
            f"{domain.dkim_selector}._domainkey.{domain.name}",
            f"v=DKIM1; k=rsa; p={domain.dkim_public_key}",
            required=True,
        ),
        DnsRecord("spf", "TXT", domain.name, f"v=spf1 {spf_mechanism(settings)} ~all", required=True),
        DnsRecord(
            "dmarc", "TXT", f"_dmarc.{domain.name}", f"v=DMARC1; p=none; rua=mailto:dmarc@{domain.name}", required=False
        ),
        _return_path_record(domain, settings),
    ]


def _return_path_record(domain: SendingDomain, settings: Settings) -> DnsRecord:
    """The bounce host under the sender's domain: a CNAME to the VERP bounce domain, or (without one) an MX
    to this deployment, whose inbound listener receives the bounces."""
    name = f"{RETURN_PATH_LABEL}.{domain.name}"
    if settings.bounce_domain:
        return DnsRecord("return_path", "CNAME", name, settings.bounce_domain.lower(), required=False)
    return DnsRecord("return_path", "MX", name, _public_host(settings), required=False, priority=10)


def _check(record: DnsRecord, answer: dns.Answer, settings: Settings) -> DnsRecord:
    if answer.error:
        return _checked(record, CheckStatus.UNREACHABLE, answer.values, answer.error)
    status, message = CHECKS[record.kind](record, answer.values, settings)
    return _checked(record, status, answer.values, message)


def _checked(record: DnsRecord, status: str, found: list[str], message: str | None) -> DnsRecord:
    return DnsRecord(**vars(record) | {"status": status, "found": tuple(found), "message": message})


def _check_dkim(record: DnsRecord, found: list[str], _settings: Settings) -> tuple[str, str | None]:
    if not found:
        return CheckStatus.MISSING, f"no TXT record at {record.name}: publish {record.value!r}"
    expected_key = _tags(record.value)["p"]
    if any(_tags(text).get("p", "").replace(" ", "") == expected_key for text in found):
        return CheckStatus.VERIFIED, None
    return CheckStatus.MISMATCH, f"the TXT record at {record.name} does not hold this domain's DKIM key (p=…)"


def _check_spf(record: DnsRecord, found: list[str], settings: Settings) -> tuple[str, str | None]:
    spf = [text for text in found if text.lower().split(" ", 1)[0] == "v=spf1"]
    mechanism = spf_mechanism(settings)
    if not spf:
        return CheckStatus.MISSING, f"no SPF record (TXT v=spf1) at {record.name}: publish {record.value!r}"
    if len(spf) > 1:
        return (
            CheckStatus.MISMATCH,
            f"{record.name} has {len(spf)} SPF records; receivers reject that: merge them into one",
        )
    terms = {term.lstrip("+") for term in spf[0].lower().split()}
    if mechanism in terms or mechanism.replace("include:", "redirect=") in terms:
        return CheckStatus.VERIFIED, None
    return CheckStatus.MISMATCH, f"the SPF record of {record.name} lacks {mechanism}: add it before the all at its end"


def _check_dmarc(record: DnsRecord, found: list[str], _settings: Settings) -> tuple[str, str | None]:
    dmarc = [text for text in found if text.replace(" ", "").upper().startswith("V=DMARC1")]
    if not dmarc:
        return CheckStatus.MISSING, f"no DMARC record at {record.name}: publish {record.value!r}"
    if len(dmarc) > 1:
        return CheckStatus.MISMATCH, f"{record.name} has {len(dmarc)} DMARC records: receivers ignore them all"
    return CheckStatus.VERIFIED, None


def _check_return_path(record: DnsRecord, found: list[str], _settings: Settings) -> tuple[str, str | None]:
    targets = [text.split()[-1] for text in found]
    if record.value in targets:
        return CheckStatus.VERIFIED, None
    if not found:
        return CheckStatus.MISSING, f"no {record.type} record at {record.name}: publish {record.value!r}"
    return CheckStatus.MISMATCH, f"the {record.type} record at {record.name} does not point to {record.value}"


CHECKS = {"dkim": _check_dkim, "spf": _check_spf, "dmarc": _check_dmarc, "return_path": _check_return_path}


def _stored_check(check: dict | None) -> dict:
    if not check:
        return {}
    return {"status": check["status"], "found": tuple(check["found"]), "message": check["message"]}


def _tags(text: str) -> dict[str, str]:
    """The tag=value pairs of a DKIM record."""
    pairs = (part.split("=", 1) for part in text.split(";") if "=" in part)
    return {tag.strip().lower(): value.strip() for tag, value in pairs}


def _find(session: Session, tenant_id: uuid.UUID, name: str) -> SendingDomain | None:
    return session.scalar(select(SendingDomain).where(SendingDomain.tenant_id == tenant_id, SendingDomain.name == name))


def _domain_of(email: str) -> str:
    domain = email.rpartition("@")[2]
    try:
        return normalize_name(domain)
    except Invalid:
        return domain.strip().lower()


def _is_ip_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def _public_host(settings: Settings) -> str:
    return (urlsplit(settings.public_url).hostname or "localhost").lower()
