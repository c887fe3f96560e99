"""The recipient's side: the open pixel, the click redirect and the unsubscribe page, all on signed tokens.

Opens and clicks are the hottest requests of the platform: they check the token, put the event in the
app's EventBuffer and answer, with no database work. The router's lifespan starts and stops that buffer.
"""

import asyncio
import html
from contextlib import asynccontextmanager

import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from emailplatform.deps import SessionDep
from emailplatform.errors import NotFound, RateLimited
from emailplatform.events import tracking
from emailplatform.events.buffer import EventBuffer
from emailplatform.events.service import NewEvent
from emailplatform.openapi import error_responses
from emailplatform.ratelimits import deps as ratelimits

log = structlog.get_logger("emailplatform.events.tracking")

NOT_CACHED = {"Cache-Control": "no-store, no-cache, must-revalidate, private", "Pragma": "no-cache"}
NOT_OURS = "the link is not one this platform made"


@asynccontextmanager
async def lifespan(app: FastAPI):
    buffer = EventBuffer(app.state.runtime)
    buffer.start()
    app.state.tracking_buffer = buffer
    try:
        yield
    finally:
        await asyncio.to_thread(buffer.stop)


router = APIRouter(tags=["tracking"], lifespan=lifespan)


@router.get(
    "/t/o/{token}.gif",
    summary="Open pixel",
    response_class=Response,
    responses={
        200: {
            "description": "A transparent 1×1 GIF.",
            "content": {"image/gif": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def open_pixel(token: str, request: Request) -> Response:
    """A 1×1 GIF, always; a valid token also counts an open of its message."""
    runtime = request.app.state.runtime
    try:
        message_id = tracking.read_open(token, runtime.secret_key)
    except tracking.BadToken:
        log.info("open pixel with a bad token", token=token[:100])
    else:
        if not await ratelimits.tracking_refusal_async(request):  # past the limit the GIF still answers, uncounted
            await _buffer(request, NewEvent(message_id, "opened", details=_visitor(request)))
    return Response(tracking.PIXEL_GIF, media_type="image/gif", headers=NOT_CACHED)


@router.get(
    "/t/c/{token}",
    response_class=RedirectResponse,
    status_code=302,
    responses=error_responses(404),
    summary="Click redirect",
)
async def click(token: str, request: Request) -> RedirectResponse:
    """A 302 to the URL the message linked to, counting a click of its message."""
    runtime = request.app.state.runtime
    try:
        message_id, url = tracking.read_click(token, runtime.secret_key)
    except tracking.BadToken:
        log.info("click with a bad token", token=token[:100])
        raise NotFound(NOT_OURS, field="token") from None
    if not await ratelimits.tracking_refusal_async(
        request
    ):  # past the limit the person still gets to the link, uncounted
        await _buffer(request, NewEvent(message_id, "clicked", details={"url": url} | _visitor(request)))
    return RedirectResponse(url, status_code=302, headers=NOT_CACHED)


@router.get("/u/{token}", summary="Unsubscribe page", response_class=HTMLResponse, responses=error_responses(404))
def unsubscribe_page(token: str, request: Request) -> HTMLResponse:
    """A page with an Unsubscribe button; a GET alone never unsubscribes (link scanners follow GETs)."""
    if refused := ratelimits.tracking_refusal(request):
        return _too_many(refused)
    _unsubscribe_message(request, token)
    return _page("Unsubscribe", "Do you want to stop receiving these emails?", button="Unsubscribe")


@router.post(
    "/u/{token}", summary="Unsubscribe the recipient", response_class=HTMLResponse, responses=error_responses(404)
)
def unsubscribe(token: str, request: Request, session: SessionDep) -> HTMLResponse:
    """Unsubscribe the message's recipient: the page's button, and RFC 8058 one-click (no cookie, no login)."""
    if refused := ratelimits.tracking_refusal(request):
        return _too_many(refused)
    message_id = _unsubscribe_message(request, token)
    if not tracking.unsubscribe(session, message_id, _visitor(request)):
        raise NotFound("the message of this link no longer exists", field="token")
    return _page("Unsubscribed", "You are unsubscribed and will not receive these emails again.")


async def _buffer(request: Request, event: NewEvent) -> None:
    buffer: EventBuffer = request.app.state.tracking_buffer
    if buffer.full() and not await buffer.room():
        log.error("tracking event dropped: the buffer is full and the database refuses writes", type=event.type)
        return
    buffer.add(event)


def _unsubscribe_message(request: Request, token: str):
    try:
        return tracking.read_unsubscribe(token, request.app.state.runtime.secret_key)
    except tracking.BadToken:
        log.info("unsubscribe with a bad token", token=token[:100])
        raise NotFound(NOT_OURS, field="token") from None


def _visitor(request: Request) -> dict:
    return {"user_agent": request.headers.get("user-agent"), "ip": request.client.host if request.client else None}


def _too_many(refused: RateLimited) -> HTMLResponse:
    page = _page("Please try again shortly", refused.message[:1].upper() + refused.message[1:] + ".")
    page.status_code = refused.status_code
    page.headers.update(refused.headers)
    return page


def _page(title: str, text: str, button: str | None = None) -> HTMLResponse:
    form = f'<form method="post"><button type="submit">{html.escape(button)}</button></form>' if button else ""
    body = (
        '<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">'
        f'<meta name="robots" content="noindex"><title>{html.escape(title)}</title></head>'
        '<body style="font-family:sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem">'
        f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>{form}</body></html>"
    )
    return HTMLResponse(body, headers=NOT_CACHED)
