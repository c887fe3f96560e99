"""Open pixel, click redirect and unsubscribe: signed tokens, and the decoration of each rendered message.

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
import html as html_lib
import re
import uuid
from functools import lru_cache

from sqlalchemy.orm import Session

from emailplatform.config import Settings
from emailplatform.events import service as event_service
from emailplatform.models import Message

MAC_BYTES = 16
ID_BYTES = 16
OPEN, CLICK, UNSUBSCRIBE = b"o", b"c", b"u"
OPEN_PATH, CLICK_PATH, UNSUBSCRIBE_PATH = "/t/o/", "/t/c/", "/u/"
PIXEL_GIF = base64.b64decode(b"R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")

# An <a> start tag up to its href value (double-, single- or unquoted); the attributes before href are
# matched whole, so an "href=" inside another attribute's value is never taken for the link.
_LINK = re.compile(
    r"""(<a(?:\s+(?!href\s*=)[^\s"'>/=]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'>]+))?)*\s+href\s*=\s*)"""
    r"""(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""",
    re.IGNORECASE,
)
_TRACKED_SCHEME = re.compile(r"\s*https?://", re.IGNORECASE)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


class BadToken(ValueError):
    """A token this deployment did not make, or not of the kind asked for."""


@lru_cache(maxsize=8)
def _key(secret: str) -> bytes:
    return hmac.digest(secret.encode(), b"emailplatform tracking tokens", hashlib.sha256)


def _mac(secret: str, kind: bytes, payload: bytes) -> bytes:
    return hmac.digest(_key(secret), kind + payload, hashlib.sha256)[:MAC_BYTES]


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


# --- decorating a message ----------------------------------------------------------------------------


def base_url(settings: Settings) -> str:
    """Where open, click and unsubscribe links point: the tracking URL, else the public URL."""
    return (settings.tracking_url or settings.public_url).rstrip("/")


def unsubscribe_url(token: str, base_url: str) -> str:
    """The unsubscribe page of a message's unsubscribe token (GET shows a button; POST, RFC 8058 one-click,
    unsubscribes)."""
    return f"{base_url}{UNSUBSCRIBE_PATH}{token}"


def unsubscribe_headers(token: str, base_url: str, mailto_domain: str) -> dict[str, str]:
    """`List-Unsubscribe` (https and mailto) and RFC 8058's `List-Unsubscribe-Post` for one message."""
    return {
        "List-Unsubscribe": f"<{unsubscribe_url(token, base_url)}>, <mailto:unsubscribe+{token}@{mailto_domain}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def decorate_html(
    html: str, unsubscribe: str, message_id: uuid.UUID, base_url: str, secret: str, track: bool
) -> str:
    """A rendered HTML body with its unsubscribe link `unsubscribe` (a footer when the template placed none)
    and, when tracking, every http(s) link through the click redirect and an open pixel before </body>."""
    tail = "" if unsubscribe in html else _html_footer(unsubscribe)
    if track:
        html = _LINK.sub(_link_rewriter(message_id, base_url, secret), html)
        tail += f'<img src="{base_url}{OPEN_PATH}{open_token(message_id, secret)}.gif" width="1" height="1" alt="" style="display:block;border:0;width:1px;height:1px">'
    if not tail:
        return html
    body_end = _last_body_end(html)
    return html + tail if body_end is None else html[:body_end] + tail + html[body_end:]


def decorate_text(text: str, unsubscribe: str) -> str:
    """A rendered text body with its unsubscribe link `unsubscribe`: a footer when the template placed none."""
    if unsubscribe in text:
        return text
    return f"{text.rstrip()}\n\n--\nUnsubscribe: {unsubscribe}\n"


def _html_footer(url: str) -> str:
    return (
        '<p style="font-size:12px;line-height:16px;color:#6b7280;text-align:center;margin:24px 0 0">'
        f'<a href="{url}" style="color:#6b7280">Unsubscribe</a></p>'
    )


def _last_body_end(html: str) -> int | None:
    start = max(html.rfind("</body"), html.rfind("</BODY"))
    if start != -1 and _BODY_END.match(html, start):
        return start
    last = None
    for last in _BODY_END.finditer(html):  # any other spelling, </Body…: rare, one pass
        pass
    return last.start() if last else None


def _link_rewriter(message_id: uuid.UUID, base_url: str, secret: str):
    own_links = (base_url + UNSUBSCRIBE_PATH, base_url + "/t/")
    click_base = base_url + CLICK_PATH

    def rewrite(match: re.Match) -> str:
        quoted = match[2] if match[2] is not None else match[3]
        value = quoted if quoted is not None else match[4]
        if not _TRACKED_SCHEME.match(value):
            return match[0]
        url = html_lib.unescape(value).strip() if "&" in value else value.strip()
        if url.startswith(own_links):
            return match[0]
        return f'{match[1]}"{click_base}{click_token(message_id, url, secret)}"'

    return rewrite


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
