"""The audit log, for admins: who changed what, newest first, filtered as in the API."""

from datetime import UTC, datetime
from urllib.parse import urlencode

from fastapi import APIRouter, Request

from emailplatform import audit_trail as audit
from emailplatform.errors import Invalid
from emailplatform.models import AuditEntry
from emailplatform.pagination import paginate
from emailplatform.ui.deps import Admin, DbDep
from emailplatform.ui.views import UiRoute, render

router = APIRouter(route_class=UiRoute)
PAGE_SIZE = 50
FILTERS = ("actor", "action", "object_type", "object_id", "since", "until")


@router.get("/ui/audit")
def audit_page(request: Request, session: DbDep, me: Admin, cursor: str | None = None):
    filters = {name: request.query_params.get(name, "").strip()[:320] for name in FILTERS}
    stmt = audit.list_query(
        me.tenant_id,
        actor=filters["actor"],
        action=filters["action"],
        object_type=filters["object_type"],
        object_id=filters["object_id"],
        since=_day(filters["since"], "since"),
        until=_day(filters["until"], "until"),
    )
    rows, next_cursor = paginate(session, stmt, (AuditEntry.id,), cursor=cursor, limit=PAGE_SIZE, descending=True)
    more = urlencode({k: v for k, v in filters.items() if v} | {"cursor": next_cursor}) if next_cursor else None
    return render(request, "admin/audit.html", entries=rows, filters=filters, more=more)


def _day(value: str, field: str) -> datetime | None:
    """A date or a time the form gave, in UTC."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    except ValueError:
        raise Invalid(f"{field} is not a date (YYYY-MM-DD) or a time (YYYY-MM-DDTHH:MM)", field=field) from None
