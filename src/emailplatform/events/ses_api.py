"""`POST /api/v1/events/ses`: the HTTP(S) subscription of the SNS topic an SES configuration set publishes to.
The SNS signature is the authentication (see sns.py); no API key. What becomes of a record is ses.py's."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from emailplatform.deps import RuntimeDep, SessionDep
from emailplatform.events import ses, sns
from emailplatform.events.schemas import SnsReceived
from emailplatform.openapi import error_responses
from emailplatform.tenants.auth import public

router = APIRouter(tags=["events"])


def get_verifier(request: Request, runtime: RuntimeDep) -> sns.SnsVerifier:
    """The app's verifier, made once: its certificate cache serves every request."""
    if getattr(request.app.state, "sns_verifier", None) is None:
        request.app.state.sns_verifier = sns.SnsVerifier.from_settings(runtime.settings)
    return request.app.state.sns_verifier


VerifierDep = Annotated[sns.SnsVerifier, Depends(get_verifier)]


async def raw_body(request: Request) -> bytes:
    return await request.body()


def verified_message(body: Annotated[bytes, Depends(raw_body)], verifier: VerifierDep) -> sns.SnsMessage:
    """The request's SNS message, parsed and verified before anything else of the request runs."""
    message = sns.parse(body)
    verifier.verify(message)
    return message


@router.post(
    "/api/v1/events/ses",
    response_model=SnsReceived,
    responses=error_responses(400, 403, 422, 503),
    summary="Receive SES events (SNS)",
    dependencies=[public("the SNS signature")],
)
def receive_ses_notification(
    message: Annotated[sns.SnsMessage, Depends(verified_message)], verifier: VerifierDep, session: SessionDep
):
    """SNS delivers SES events here; the SNS signature authenticates it (no API key)."""
    return {"type": message.type, "recorded": ses.receive(session, verifier, message)}
