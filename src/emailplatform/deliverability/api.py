import uuid

from fastapi import APIRouter

from emailplatform.deliverability import service
from emailplatform.deliverability.schemas import DeliverabilityReport, NewCampaignCheck, TemplateCheck
from emailplatform.deps import ReadSessionDep, RuntimeDep
from emailplatform.openapi import error_responses
from emailplatform.tenants.auth import TenantDep, needs

router = APIRouter(  # a check composes and looks: it changes nothing
    tags=["deliverability"], responses=error_responses(401, 403, 404, 422), dependencies=[needs("campaigns", "read")]
)


def _answer(report: service.Report) -> DeliverabilityReport:
    return DeliverabilityReport.model_validate(
        {
            "subject": report.subject,
            "from": report.from_email,
            "to": report.to,
            "row_number": report.row_number,
            "size_bytes": report.size_bytes,
            "verdict": report.worst,
            "spam": report.spam,
            "findings": report.findings,
        },
        from_attributes=True,
    )


@router.post(
    "/api/v1/templates/{template_id}/check",
    response_model=DeliverabilityReport,
    response_model_by_alias=True,
    summary="Check a template's deliverability",
)
def check_template(
    template_id: uuid.UUID, body: TemplateCheck, session: ReadSessionDep, runtime: RuntimeDep, tenant_id: TenantDep
):
    """The template (its latest version, or `version`) rendered with `data` and composed as a campaign's message is,
    then looked at as receivers look at it: SpamAssassin's score and rules hit, the sender's DKIM, SPF and DMARC,
    List-Unsubscribe, broken or plain-http links, images beside text, size (Gmail clips HTML above 102 KB) and the
    plain-text part. Each finding says what to do. Nothing is sent or recorded; spamd not reachable is a `skipped`
    finding, not an error."""
    sender = (str(body.sender.email), body.sender.name) if body.sender else None
    return _answer(
        service.check_template(
            session, runtime, tenant_id, template_id, data=body.data, version=body.version, sender=sender
        )
    )


@router.post(
    "/api/v1/email/campaigns/deliverability-check",
    response_model=DeliverabilityReport,
    response_model_by_alias=True,
    summary="Check the deliverability of a campaign not yet created",
)
def check_new_campaign(body: NewCampaignCheck, session: ReadSessionDep, runtime: RuntimeDep, tenant_id: TenantDep):
    """What a campaign request with this template, recipients file and sender would send its first good row, looked
    at as the template check looks at a template."""
    return _answer(service.check_new_campaign(session, runtime, tenant_id, body))


@router.post(
    "/api/v1/email/campaigns/{transaction_id}/check",
    response_model=DeliverabilityReport,
    response_model_by_alias=True,
    summary="Check a campaign's deliverability",
)
def check_campaign(transaction_id: uuid.UUID, session: ReadSessionDep, runtime: RuntimeDep, tenant_id: TenantDep):
    """The campaign's message to the first good row of its file, looked at as the template check looks at a
    template: SpamAssassin, DKIM/SPF/DMARC, List-Unsubscribe, links, images, size, plain text."""
    return _answer(service.check_campaign(session, runtime, tenant_id, transaction_id))
