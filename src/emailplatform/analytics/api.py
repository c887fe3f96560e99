"""Analytics through the API: what the dashboard and the analytics page show, as JSON, and every list also as
CSV (safe to open in a spreadsheet) with `format=csv` or `Accept: text/csv`.

A period is the last `days` days (UTC, 1 to 366). The breakdowns cover one campaign (`transaction_id`) or the
campaigns of the period, as the UI's do."""

import uuid
from collections.abc import Callable
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from emailplatform.analytics import service as analytics
from emailplatform.analytics.schemas import (
    BounceReasonOut,
    CampaignStatsOut,
    CountsOut,
    DayOut,
    LinkOut,
    OverviewOut,
    RatesOut,
    RecipientDomainOut,
)
from emailplatform.deps import ReplicaSessionDep
from emailplatform.openapi import Responses, error_responses
from emailplatform.pagination import Page, paginate_by_offset
from emailplatform.tenants.auth import TenantDep, needs

router = APIRouter(
    prefix="/api/v1/analytics",
    tags=["analytics"],
    responses=error_responses(401, 422),
    dependencies=[needs("analytics")],
)

Days = Annotated[int, Query(ge=1, le=366, description="The period: the last this many days (UTC).")]
Format = Annotated[
    Literal["json", "csv"] | None,
    Query(description="csv: every row as CSV; default: JSON, or CSV when the Accept header asks for text/csv."),
]
CampaignId = Annotated[uuid.UUID | None, Query(description="One campaign instead of the period's campaigns.")]
CSV_TOO: Responses = {200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "JSON, or CSV."}}
OF_A_CAMPAIGN = CSV_TOO | error_responses(404, descriptions={404: "`transaction_id` names no campaign of this tenant."})


@router.get("/overview", response_model=OverviewOut, summary="Counts and rates over a period", responses=CSV_TOO)
def overview(
    request: Request,
    session: ReplicaSessionDep,
    tenant_id: TenantDep,
    days: Days = 30,
    format: Format = None,
    tag: Annotated[str | None, Query(max_length=64, description="Only the transactional emails with this tag.")] = None,
):
    """The dashboard's figures: the period's messages (sent, delivered, bounced, complained, opened, clicked)
    and their rates, in total and day by day, of campaigns and transactional emails. CSV: one row a day."""
    ov = analytics.overview(session, tenant_id, days, tag=tag)
    if _wants_csv(request, format):
        return _csv(analytics.overview_csv(ov), f"overview-last-{days}-days.csv")
    return OverviewOut(
        days=ov.days,
        campaigns=ov.campaigns,
        totals=_counts(ov.totals),
        rates=_rates(ov.totals),
        per_day=[DayOut(date=day, counts=_counts(c), rates=_rates(c)) for day, c in ov.per_day],
    )


@router.get(
    "/campaigns", response_model=Page[CampaignStatsOut], summary="Counts and rates per campaign", responses=CSV_TOO
)
def campaigns(
    request: Request,
    session: ReplicaSessionDep,
    tenant_id: TenantDep,
    days: Days = 30,
    format: Format = None,
    limit: int = 50,
    cursor: str | None = None,
):
    """The campaigns created in the period, newest first, each with its counts and rates. CSV: every campaign
    of the period (no pages), as the UI's export."""
    if _wants_csv(request, format):
        return _csv(analytics.campaigns_csv(session, tenant_id, days), f"campaigns-last-{days}-days.csv")
    rows, next_cursor = analytics.campaigns_page(session, tenant_id, days, cursor=cursor, limit=limit)
    return Page(items=[_campaign(t, c) for t, c in rows], next_cursor=next_cursor)


@router.get(
    "/bounce-reasons", response_model=Page[BounceReasonOut], summary="Bounces by reason", responses=OF_A_CAMPAIGN
)
def bounce_reasons(
    request: Request,
    session: ReplicaSessionDep,
    tenant_id: TenantDep,
    days: Days = 30,
    transaction_id: CampaignId = None,
    format: Format = None,
    limit: int = 50,
    cursor: str | None = None,
):
    """Bounces by their reason, the most frequent first."""
    where = analytics.scope(session, tenant_id, days, transaction_id)
    return _breakdown(request, session, where, format, limit, cursor, "bounce-reasons", _bounce_reasons)


@router.get("/links", response_model=Page[LinkOut], summary="Clicked links", responses=OF_A_CAMPAIGN)
def links(
    request: Request,
    session: ReplicaSessionDep,
    tenant_id: TenantDep,
    days: Days = 30,
    transaction_id: CampaignId = None,
    format: Format = None,
    limit: int = 50,
    cursor: str | None = None,
):
    """The links recipients clicked: clicks and the messages that clicked, the most clicked first."""
    where = analytics.scope(session, tenant_id, days, transaction_id)
    return _breakdown(request, session, where, format, limit, cursor, "links", _links)


@router.get(
    "/domains", response_model=Page[RecipientDomainOut], summary="Results per recipient domain", responses=OF_A_CAMPAIGN
)
def domains(
    request: Request,
    session: ReplicaSessionDep,
    tenant_id: TenantDep,
    days: Days = 30,
    transaction_id: CampaignId = None,
    format: Format = None,
    limit: int = 50,
    cursor: str | None = None,
):
    """Messages by the domain of their address with their counts and rates, the biggest domain first."""
    where = analytics.scope(session, tenant_id, days, transaction_id)
    return _breakdown(request, session, where, format, limit, cursor, "domains", _domains)


def _breakdown(
    request: Request,
    session,
    where: analytics.Scope,
    format: str | None,
    limit: int,
    cursor: str | None,
    kind: str,
    rows: Callable,
):
    """A breakdown as CSV (every row), or a page of it: `rows(session, where, offset, count)`."""
    if _wants_csv(request, format):
        of = f"campaign-{where.campaign.id}" if where.campaign else f"last-{where.days}-days"
        return _csv(analytics.breakdown_csv(session, where, kind), f"{kind}-{of}.csv")
    page, next_cursor = paginate_by_offset(
        lambda offset, count: rows(session, where, offset, count), cursor=cursor, limit=limit
    )
    return Page(items=page, next_cursor=next_cursor)


def _bounce_reasons(session, where: analytics.Scope, offset: int, count: int) -> list[BounceReasonOut]:
    return [BounceReasonOut(reason=r, bounces=n) for r, n in analytics.bounce_reasons(session, where, count, offset)]


def _links(session, where: analytics.Scope, offset: int, count: int) -> list[LinkOut]:
    found = analytics.top_links(session, where, count, offset)
    return [LinkOut(url=url, clicks=clicks, messages_clicked=messages) for url, clicks, messages in found]


def _domains(session, where: analytics.Scope, offset: int, count: int) -> list[RecipientDomainOut]:
    found = analytics.by_recipient_domain(session, where, count, offset)
    return [RecipientDomainOut(domain=domain, counts=_counts(c), rates=_rates(c)) for domain, c in found]


def _wants_csv(request: Request, format: str | None) -> bool:
    if format is not None:
        return format == "csv"
    return "text/csv" in request.headers.get("accept", "")


def _csv(body: str, filename: str) -> Response:
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(body, media_type="text/csv; charset=utf-8", headers=headers)


def _counts(c: analytics.Counts) -> CountsOut:
    return CountsOut.model_validate(c)


def _rates(c: analytics.Counts) -> RatesOut:
    return RatesOut(**{outcome: c.rate(outcome) for outcome in analytics.OUTCOMES[1:]})


def _campaign(transaction, counts: analytics.Counts) -> CampaignStatsOut:
    return CampaignStatsOut(
        transaction_id=transaction.id,
        name=transaction.name,
        status=transaction.status,
        created_at=transaction.created_at,
        send_at=transaction.send_at,
        from_email=transaction.from_email,
        counts=_counts(counts),
        rates=_rates(counts),
    )
