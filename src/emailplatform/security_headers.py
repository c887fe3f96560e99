"""ASGI middleware: the headers that keep browsers from misusing our answers.

Every answer: `X-Content-Type-Options: nosniff` and `Referrer-Policy: same-origin` (tracking and upload links
carry tokens in their paths; no other site sees them). Every HTML page but the API docs (whose Swagger UI runs
inline scripts) also gets a Content-Security-Policy: scripts only from our own files (no inline script or
handler runs, so an injected one does nothing), no framing by any site, forms only to us. Inline styles stay
allowed: email previews are sandboxed `srcdoc` frames, which inherit the page's policy, and email HTML is
styled inline.
"""

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: https:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
DOCS_PREFIX = "/docs"


class SecurityHeaders:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        docs = scope["path"].startswith(DOCS_PREFIX)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
                if headers.get("content-type", "").startswith("text/html") and not docs:
                    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
                    headers.setdefault("X-Frame-Options", "DENY")
            await send(message)

        await self.app(scope, receive, send_with_headers)
