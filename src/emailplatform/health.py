"""Liveness and readiness. /healthz answers while the process runs (a load balancer's or an orchestrator's
liveness probe: restart me if not); /readyz says whether what it needs answers too (send me traffic or not):
the database, the storage and the workers this server runs (its own, or those of the `serve` command that
started it: `serve --api-workers N`)."""

import os

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from emailplatform.runtime import Runtime

router = APIRouter(tags=["health"])
STORAGE_PROBE_KEY = "readyz-probe"  # never written: asking for its size reaches the store and finds nothing


@router.get("/healthz", summary="Liveness: the process answers")
def healthz():
    """Answers as long as the process serves requests; it does not look at the database. `process` is the id of
    the API process that answered (`serve --api-workers N` runs several)."""
    return {"status": "ok", "process": os.getpid()}


@router.get("/readyz", summary="Readiness: the database, storage and worker answer")
def readyz(request: Request):
    """200 when every check is `ok`, else 503 with what failed; each check names its part. `worker_restarts`, once
    a worker was restarted, is a count, not a check; `process` is the id of the API process that answered."""
    checks = readiness(request.app.state.runtime, getattr(request.app.state, "worker", None))
    ready = all(value == "ok" for key, value in checks.items() if key != "worker_restarts")
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks, "process": os.getpid()},
        status_code=200 if ready else 503,
        headers={} if ready else {"Retry-After": "5"},
    )


def readiness(runtime: Runtime, worker) -> dict[str, str]:
    checks = {"database": _check(runtime.db.ping), "storage": _check(lambda: runtime.storage.size(STORAGE_PROBE_KEY))}
    if worker is not None:
        checks["worker"] = "ok" if worker.alive else "stopped"
        if worker.restarts:
            checks["worker_restarts"] = str(worker.restarts)
    return checks


def _check(probe) -> str:
    try:
        probe()
    except Exception as exc:  # whatever it is, the part does not answer; say what it said
        return f"unavailable: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")
    return "ok"
