from fastapi import APIRouter, Request

from emailplatform.analytics import service as analytics
from emailplatform.deps import get_runtime
from emailplatform.ui.deps import ReplicaDbDep, Viewer
from emailplatform.ui.views import UiRoute, render

router = APIRouter(route_class=UiRoute)


@router.get("/ui/")
def dashboard(request: Request, session: ReplicaDbDep, me: Viewer):
    transport = get_runtime(request).settings.transport
    week = analytics.overview(session, me.tenant_id, 7, transport=transport)
    return render(
        request,
        "dashboard.html",
        campaigns=analytics.recent_campaigns(session, me.tenant_id, 10),
        today=week.per_day[-1][1].sent,
        week=week,
        month=analytics.overview(session, me.tenant_id, 30, transport=transport),
    )
