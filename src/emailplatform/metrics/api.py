import hmac
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from emailplatform.deps import RuntimeDep
from emailplatform.errors import Unauthorized
from emailplatform.openapi import error_responses

router = APIRouter(tags=["health"])


@router.get(
    "/metrics",
    response_class=Response,
    responses=error_responses(401) | {200: {"content": {CONTENT_TYPE_LATEST: {}}}},
    summary="Prometheus metrics",
)
def metrics(request: Request, runtime: RuntimeDep, authorization: Annotated[str | None, Header()] = None):
    """Prometheus metrics: this process's HTTP requests; the deployment's jobs and campaigns."""
    token = runtime.settings.metrics_token
    if token and not hmac.compare_digest((authorization or "").encode(), f"Bearer {token}".encode()):
        raise Unauthorized("/metrics needs the metrics token: Authorization: Bearer <token>", field="Authorization")
    return Response(generate_latest(request.app.state.metrics), media_type=CONTENT_TYPE_LATEST)
