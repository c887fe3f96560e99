"""The suppression list: per tenant, the addresses never sent to again (hard bounces, complaints,
unsubscribes, and those added by hand)."""

import uuid

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from emailplatform.address_hashing import address_hash
from emailplatform.errors import NotFound
from emailplatform.models import Suppression, TenantErasures, utcnow
from emailplatform.pagination import paginate


def add(
    session: Session,
    tenant_id: uuid.UUID,
    email: str,
    reason: str,
    *,
    details: str | None = None,
    message_id: uuid.UUID | None = None,
) -> None:
    """Suppress an address; an address already suppressed keeps its first reason."""
    dialect_insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        dialect_insert(Suppression)
        .values(
            id=uuid.uuid4(),
            tenant_id=tenant_id,
            email=email.lower(),
            reason=reason,
            details=details,
            message_id=message_id,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["tenant_id", "email"])
    )


def suppressed(session: Session, tenant_id: uuid.UUID, emails: list[str]) -> set[str]:
    """Which of these addresses (compared lowercased) are suppressed for the tenant."""
    if not emails:
        return set()
    forms = _stored_forms(session, tenant_id, emails)
    wanted = {form for pair in forms.values() for form in pair}
    found = set(
        session.scalars(
            select(Suppression.email).where(Suppression.tenant_id == tenant_id, Suppression.email.in_(wanted))
        )
    )
    return {e for e, pair in forms.items() if found.intersection(pair)}


def _stored_forms(session: Session, tenant_id: uuid.UUID, emails: list[str]) -> dict[str, tuple[str, ...]]:
    """An address is on the list as itself, lowercased, or as its hash once its owner was erased (looked for only
    when the tenant has erased anyone: one primary-key read)."""
    erased = session.scalar(select(TenantErasures.tenant_id).where(TenantErasures.tenant_id == tenant_id))
    return {e: (e.lower(), address_hash(tenant_id, e)) if erased else (e.lower(),) for e in emails}


def get(session: Session, tenant_id: uuid.UUID, email: str) -> Suppression:
    found = session.scalar(
        select(Suppression).where(Suppression.tenant_id == tenant_id, Suppression.email == email.lower())
    )
    if found is None:
        raise NotFound(f"{email} is not on the suppression list", field="email")
    return found


def add_manual(
    session: Session, tenant_id: uuid.UUID, email: str, reason: str, details: str | None = None
) -> tuple[Suppression, bool]:
    """Suppress an address by hand; an address already suppressed stays as it was. The entry, and
    whether it is new."""
    existed = bool(suppressed(session, tenant_id, [email]))
    add(session, tenant_id, email, reason, details=details)
    return get(session, tenant_id, email), not existed


def remove(session: Session, tenant_id: uuid.UUID, email: str) -> None:
    """Send to an address again."""
    session.delete(get(session, tenant_id, email))
    session.flush()


def page_of_suppressions(
    session: Session,
    tenant_id: uuid.UUID,
    *,
    reason: str | None = None,
    search: str | None = None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Suppression], str | None]:
    """The tenant's suppressed addresses, newest first, of one reason and containing `search`; and the next
    page's cursor."""
    stmt = select(Suppression).where(Suppression.tenant_id == tenant_id)
    if reason:
        stmt = stmt.where(Suppression.reason == reason)
    if search:
        stmt = stmt.where(Suppression.email.contains(search.lower(), autoescape=True))
    keys = (Suppression.created_at, Suppression.id)
    return paginate(session, stmt, keys, cursor=cursor, limit=limit, descending=True)
