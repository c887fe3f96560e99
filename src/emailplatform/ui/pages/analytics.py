"""Analytics: rates over time, per campaign, and breakdowns (bounce reasons, clicked links, recipient domains)
of one campaign or of a period's campaigns; each exported as CSV safe to open in a spreadsheet."""

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response

from emailplatform.analytics import service as analytics
from emailplatform.deps import get_runtime
from emailplatform.errors import Invalid, NotFound
from emailplatform.ui.deps import ReplicaDbDep, Viewer
from emailplatform.ui.views import UiRoute, render

router = APIRouter(route_class=UiRoute)
PERIODS = (7, 30, 90)
CAMPAIGNS_SHOWN = 25


@router.get("/ui/analytics")
def analytics_page(request: Request, session: ReplicaDbDep, me: Viewer, days: int = 30, campaign: str = ""):
    days = _period(days)
    where = analytics.scope(session, me.tenant_id, days, _campaign_id(campaign))
    recent = analytics.recent_campaigns(session, me.tenant_id, CAMPAIGNS_SHOWN)
    return render(
        request,
        "analytics.html",
        periods=PERIODS,
        days=days,
        ov=analytics.overview(session, me.tenant_id, days, transport=get_runtime(request).settings.transport),
        campaigns=recent,
        where=where,
        reasons=analytics.bounce_reasons(session, where),
        links=analytics.top_links(session, where),
        domains=analytics.by_recipient_domain(session, where),
        scope_query=f"days={days}" + (f"&campaign={where.campaign.id}" if where.campaign else ""),
    )


@router.get("/ui/analytics/campaigns.csv")
def export_campaigns(session: ReplicaDbDep, me: Viewer, days: int = 30):
    days = _period(days)
    body = analytics.campaigns_csv(session, me.tenant_id, days)
    return _csv(body, f"campaigns-last-{days}-days.csv")


@router.get("/ui/analytics/{kind}.csv")
def export_breakdown(session: ReplicaDbDep, me: Viewer, kind: str, days: int = 30, campaign: str = ""):
    if kind not in analytics.BREAKDOWNS:
        raise NotFound("there is no such export", field="kind")
    days = _period(days)
    where = analytics.scope(session, me.tenant_id, days, _campaign_id(campaign))
    of = f"campaign-{where.campaign.id}" if where.campaign else f"last-{days}-days"
    return _csv(analytics.breakdown_csv(session, where, kind), f"{kind}-{of}.csv")


def _csv(body: str, filename: str) -> Response:
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(body, media_type="text/csv; charset=utf-8", headers=headers)


def _period(days: int) -> int:
    return days if days in PERIODS else 30


def _campaign_id(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        raise Invalid("choose a campaign from the list", field="campaign") from None
