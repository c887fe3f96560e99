"""The suppression list: per tenant, the addresses never sent to again."""

import uuid

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from emailplatform.models import Suppression, utcnow


def add(
    session: Session, tenant_id: uuid.UUID, email: str, reason: str, *, details: str | None = None,
    message_id: uuid.UUID | None = None,
) -> None:
    """Suppress an address; an address already suppressed keeps its first reason."""
    dialect_insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        dialect_insert(Suppression)
        .values(id=uuid.uuid4(), tenant_id=tenant_id, email=email.lower(), reason=reason, details=details,
                message_id=message_id, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["tenant_id", "email"])
    )


def suppressed(session: Session, tenant_id: uuid.UUID, emails: list[str]) -> set[str]:
    """Which of these addresses (compared lowercased) are suppressed for the tenant."""
    if not emails:
        return set()
    lowered = {e.lower() for e in emails}
    found = set(
        session.scalars(select(Suppression.email).where(Suppression.tenant_id == tenant_id, Suppression.email.in_(lowered)))
    )
    return {e for e in emails if e.lower() in found}
