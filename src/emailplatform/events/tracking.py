"""Open pixel, click redirect and unsubscribe: signed tokens, made for each message (sending/decorate.py puts
them in it) and read back when a recipient follows one.

A token is the base64url of `payload + MAC`, where the MAC is the first 16 bytes of HMAC-SHA256, keyed with
a key derived from the deployment's secret, over the token's kind and its payload. An open or unsubscribe
token's payload is the message id (43 characters in all, short enough for a mailto local part); a click
token's is the message id and the exact URL the message linked to, so the redirect only ever goes where
the message itself pointed. Nothing but the deployment can make one, and the message is found by the id
inside, so no tenant can name another's messages.
"""

import base64
import binascii
import hashlib
import hmac
import uuid
from functools import lru_cache

from sqlalchemy.orm import Session

from emailplatform.events import service as event_service
from emailplatform.models import Message

MAC_BYTES = 16
ID_BYTES = 16
OPEN, CLICK, UNSUBSCRIBE = b"o", b"c", b"u"
OPEN_PATH, CLICK_PATH, UNSUBSCRIBE_PATH = "/t/o/", "/t/c/", "/u/"
PIXEL_GIF = base64.b64decode(b"R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


class BadToken(ValueError):
    """A token this deployment did not make, or not of the kind asked for."""


@lru_cache(maxsize=8)
def _key(secret: str) -> bytes:
    return hmac.digest(secret.encode(), b"emailplatform tracking tokens", hashlib.sha256)


@lru_cache(maxsize=8)
def _keyed(secret: str) -> hmac.HMAC:
    return hmac.new(_key(secret), digestmod=hashlib.sha256)


def _mac(secret: str, kind: bytes, payload: bytes) -> bytes:
    # A copy of the keyed HMAC: hmac.digest() lets go of the GIL for every token, and the sending event loop,
    # beside its database thread, then waits a switch interval (5 ms) to get it back.
    mac = _keyed(secret).copy()
    mac.update(kind + payload)
    return mac.digest()[:MAC_BYTES]


def make_token(kind: bytes, payload: bytes, secret: str) -> str:
    return base64.urlsafe_b64encode(payload + _mac(secret, kind, payload)).rstrip(b"=").decode("ascii")


def read_token(kind: bytes, token: str, secret: str) -> bytes:
    """The payload of a token of this kind; BadToken if it was not made here for that kind."""
    try:
        raw = base64.b64decode(token + "=" * (-len(token) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise BadToken("the token is not one this platform made") from None
    payload, mac = raw[:-MAC_BYTES], raw[-MAC_BYTES:]
    if len(payload) < ID_BYTES or not hmac.compare_digest(mac, _mac(secret, kind, payload)):
        raise BadToken("the token is not one this platform made")
    return payload


def open_token(message_id: uuid.UUID, secret: str) -> str:
    return make_token(OPEN, message_id.bytes, secret)


def click_token(message_id: uuid.UUID, url: str, secret: str) -> str:
    return make_token(CLICK, message_id.bytes + url.encode("utf-8"), secret)


def unsubscribe_token(message_id: uuid.UUID, secret: str) -> str:
    return make_token(UNSUBSCRIBE, message_id.bytes, secret)


def read_open(token: str, secret: str) -> uuid.UUID:
    return _message_id(read_token(OPEN, token, secret), exact=True)


def read_click(token: str, secret: str) -> tuple[uuid.UUID, str]:
    payload = read_token(CLICK, token, secret)
    try:
        url = payload[ID_BYTES:].decode("utf-8")
    except UnicodeDecodeError:
        raise BadToken("the token is not one this platform made") from None
    return _message_id(payload, exact=False), url


def read_unsubscribe(token: str, secret: str) -> uuid.UUID:
    """The message an unsubscribe token (from the link or the `unsubscribe+TOKEN@` mailto) names."""
    return _message_id(read_token(UNSUBSCRIBE, token, secret), exact=True)


def _message_id(payload: bytes, *, exact: bool) -> uuid.UUID:
    if exact and len(payload) != ID_BYTES:
        raise BadToken("the token is not one this platform made")
    return uuid.UUID(bytes=payload[:ID_BYTES])


def unsubscribe_url(token: str, base_url: str) -> str:
    """The unsubscribe page of a message's unsubscribe token (GET shows a button; POST, RFC 8058 one-click,
    unsubscribes)."""
    return f"{base_url}{UNSUBSCRIBE_PATH}{token}"


# --- recording what a recipient did --------------------------------------------------------------------


def unsubscribe(session: Session, message_id: uuid.UUID, details: dict) -> bool:
    """Record an "unsubscribed" event for the message (its address is then suppressed); False when there
    is no such message. A second unsubscribe of the same message changes nothing."""
    if session.get(Message, message_id) is None:
        return False
    event_service.record(
        session,
        event_service.NewEvent(message_id, "unsubscribed", details=details, dedup_key=f"unsubscribe:{message_id}"),
    )
    return True
