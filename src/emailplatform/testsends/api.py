import uuid

from fastapi import APIRouter

from emailplatform.deps import ReadSessionDep, RuntimeDep
from emailplatform.openapi import error_responses
from emailplatform.tenants.auth import TenantDep, needs
from emailplatform.testsends import service
from emailplatform.testsends.schemas import CampaignTest, NewCampaignTest, SeedResultOut, SeedSendOut, TemplateTest

router = APIRouter(
    tags=["test sends"], responses=error_responses(401, 403, 404, 422), dependencies=[needs("campaigns")]
)


def _answer(results: list[service.SeedResult]) -> SeedSendOut:
    return SeedSendOut(sent=service.accepted(results), results=[SeedResultOut.model_validate(r) for r in results])


@router.post("/api/v1/templates/{template_id}/test", response_model=SeedSendOut, summary="Send a template as a test")
def send_template_test(
    template_id: uuid.UUID, body: TemplateTest, session: ReadSessionDep, runtime: RuntimeDep, tenant_id: TenantDep
):
    """Send the template (its latest version, or `version`), rendered with `data`, to up to 10 seed addresses.
    Each test is marked (a `[TEST] ` subject and an `X-Emailplatform-Test: true` header), signed and sent as a
    campaign's message is, and recorded nowhere: no message, event, count or webhook; links are not tracked."""
    sender = (str(body.sender.email), body.sender.name) if body.sender else None
    results = service.send_template_test(
        session,
        runtime,
        tenant_id,
        template_id,
        to=[str(a) for a in body.to],
        data=body.data,
        version=body.version,
        sender=sender,
        reply_to=str(body.reply_to) if body.reply_to else None,
    )
    return _answer(results)


@router.post(
    "/api/v1/email/campaigns/test",
    response_model=SeedSendOut,
    summary="Send a campaign not yet created as a test",
)
def send_new_campaign_test(body: NewCampaignTest, session: ReadSessionDep, runtime: RuntimeDep, tenant_id: TenantDep):
    """What a campaign request with this template, recipients file and sender would send, to up to 10 seed
    addresses: the first seed gets the first good row's data, the next the next row's (or those of `rows`).
    Marked as a test, and recorded nowhere, as a template's test is."""
    results = service.send_new_campaign_test(
        session, runtime, tenant_id, body, to=[str(a) for a in body.to], rows=body.rows
    )
    return _answer(results)


@router.post(
    "/api/v1/email/campaigns/{transaction_id}/test",
    response_model=SeedSendOut,
    summary="Send a campaign as a test",
    responses=error_responses(409, descriptions={409: "The campaign was released already: it is sending or ended."}),
)
def send_campaign_test(
    transaction_id: uuid.UUID, body: CampaignTest, session: ReadSessionDep, runtime: RuntimeDep, tenant_id: TenantDep
):
    """Send a campaign that is not yet released (ACCEPT, PROCESSING or SCHEDULED) to up to 10 seed addresses, the
    first with its file's first good row's data, the next with the next row's (or those of `rows`); marked as tests
    and not counted in the campaign, its analytics or its webhooks."""
    results = service.send_campaign_test(
        session, runtime, tenant_id, transaction_id, to=[str(a) for a in body.to], rows=body.rows
    )
    return _answer(results)
