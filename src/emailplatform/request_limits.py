"""ASGI middleware that bounds what a request may make the server read, before any route runs.

- A body is counted while it is read: past its path's limit the request gets a 413 in the error shape at once,
  and the rest of the body is never read (a `Content-Length` over the limit is refused before the first byte).
  The limit is `request_max_bytes` everywhere, the upload limit on presigned upload URLs, and SNS's own
  256 KiB on the SES events endpoint.
- A request to /api/v1 that carries a body but no credential at all (no API key or token header, no client
  certificate on its TLS connection or in the trusted proxy's header) is refused with 401 before its body is
  read: FastAPI parses a route's body before the key check runs. A wrong key still costs the key check, on a
  body no larger than the limit above.
"""

import json

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emailplatform.errors import AppError, TooLarge, Unauthorized
from emailplatform.events.sns import MAX_MESSAGE_BYTES

API_PREFIX = "/api/v1/"
UPLOAD_PREFIX = "/uploads/"
SES_EVENTS_PATH = "/api/v1/events/ses"
PUBLIC_API_PATHS = frozenset({SES_EVENTS_PATH})  # the /api/v1 routes that need no API key
CREDENTIAL_HEADERS = ("x-api-key", "authorization")
UPLOAD_SLACK_BYTES = 64 * 1024  # the storage refuses an upload over its URL's own limit first, naming the file


class RequestLimits:
    def __init__(self, app: ASGIApp, *, max_bytes: int, upload_max_bytes: int, certificate_header: str = ""):
        self.app = app
        self.max_bytes = max_bytes
        self.upload_max_bytes = upload_max_bytes
        self.credential_headers = CREDENTIAL_HEADERS + ((certificate_header.lower(),) if certificate_header else ())

    def limit(self, path: str) -> int:
        if path.startswith(UPLOAD_PREFIX):
            return self.upload_max_bytes + UPLOAD_SLACK_BYTES
        if path == SES_EVENTS_PATH:
            return MAX_MESSAGE_BYTES
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers, path = Headers(scope=scope), scope["path"]
        limit = self.limit(path)
        declared = headers.get("content-length", "")
        has_body = (declared not in ("", "0")) or "transfer-encoding" in headers
        needs_credential = path.startswith(API_PREFIX) and path not in PUBLIC_API_PATHS
        if has_body and needs_credential and not self._credential(scope, headers):
            return await _answer(
                send,
                Unauthorized(
                    "an API key is required: the X-API-Key header, or Authorization: Bearer <key>", field="X-API-Key"
                ),
            )
        if declared.isdigit() and int(declared) > limit:
            return await _answer(send, _too_large(limit))

        received, refused, started = 0, False, False

        async def counted_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    if not started:
                        await _answer(send, _too_large(limit))
                    return {"type": "http.disconnect"}  # the app stops reading; its answer is dropped
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, counted_receive, guarded_send)

    def _credential(self, scope: Scope, headers: Headers) -> bool:
        tls = scope.get("extensions", {}).get("tls") or {}
        return bool(tls.get("client_cert_chain")) or any(name in headers for name in self.credential_headers)


def _too_large(limit: int) -> TooLarge:
    return TooLarge(f"the request body is larger than the {limit} bytes allowed", field="body")


async def _answer(send: Send, error: AppError) -> None:
    body = json.dumps(error.to_dict()).encode()
    await send(
        {
            "type": "http.response.start",
            "status": error.status_code,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
