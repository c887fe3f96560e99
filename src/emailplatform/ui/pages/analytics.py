from fastapi import APIRouter, Request
from fastapi.responses import Response

from emailplatform.analytics import service as analytics
from emailplatform.ui.deps import DbDep, Viewer
from emailplatform.ui.views import UiRoute, render

router = APIRouter(route_class=UiRoute)
PERIODS = (7, 30, 90)


@router.get("/ui/analytics")
def analytics_page(request: Request, session: DbDep, me: Viewer, days: int = 30):
    days = days if days in PERIODS else 30
    return render(
        request, "analytics.html", ov=analytics.overview(session, me.tenant_id, days), periods=PERIODS, days=days,
        campaigns=analytics.recent_campaigns(session, me.tenant_id, 25),
    )


@router.get("/ui/analytics/campaigns.csv")
def export_campaigns(session: DbDep, me: Viewer, days: int = 30):
    days = days if days in PERIODS else 30
    body = analytics.campaigns_csv(session, me.tenant_id, days)
    headers = {"Content-Disposition": f'attachment; filename="campaigns-last-{days}-days.csv"'}
    return Response(body, media_type="text/csv; charset=utf-8", headers=headers)
