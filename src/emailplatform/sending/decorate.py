"""What the platform adds to each rendered message: its unsubscribe link and List-Unsubscribe headers, the click
redirect of its links and the open pixel (when the campaign tracks), and its VERP return path. The tokens inside
are made by events/tracking.py and events/bounces/verp.py, which read them back."""

import html as html_lib
import re
import uuid

from emailplatform.config import Settings
from emailplatform.events import bounces, tracking

# An <a> start tag up to its href value (double-, single- or unquoted); the attributes before href are
# matched whole, so an "href=" inside another attribute's value is never taken for the link.
_LINK = re.compile(
    r"""(<a(?:\s+(?!href\s*=)[^\s"'>/=]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'>]+))?)*\s+href\s*=\s*)"""
    r"""(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""",
    re.IGNORECASE,
)
_TRACKED_SCHEME = re.compile(r"\s*https?://", re.IGNORECASE)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


def base_url(settings: Settings) -> str:
    """Where open, click and unsubscribe links point: the tracking URL, else the public URL."""
    return (settings.tracking_url or settings.public_url).rstrip("/")


def unsubscribe_headers(token: str, base_url: str, mailto_domain: str) -> dict[str, str]:
    """`List-Unsubscribe` (https and mailto) and RFC 8058's `List-Unsubscribe-Post` for one message."""
    return {
        "List-Unsubscribe": (
            f"<{tracking.unsubscribe_url(token, base_url)}>, <mailto:unsubscribe+{token}@{mailto_domain}>"
        ),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def decorate_html(html: str, unsubscribe: str, message_id: uuid.UUID, base_url: str, secret: str, track: bool) -> str:
    """A rendered HTML body with its unsubscribe link `unsubscribe` (a footer when the template placed none)
    and, when tracking, every http(s) link through the click redirect and an open pixel before </body>."""
    tail = "" if unsubscribe in html else _html_footer(unsubscribe)
    if track:
        html = _LINK.sub(_link_rewriter(message_id, base_url, secret), html)
        pixel = f"{base_url}{tracking.OPEN_PATH}{tracking.open_token(message_id, secret)}.gif"
        tail += f'<img src="{pixel}" width="1" height="1" alt="" style="display:block;border:0;width:1px;height:1px">'
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
    ends = list(_BODY_END.finditer(html))  # any other spelling, </Body…: rare, one pass
    return ends[-1].start() if ends else None


def _link_rewriter(message_id: uuid.UUID, base_url: str, secret: str):
    own_links = (base_url + tracking.UNSUBSCRIBE_PATH, base_url + "/t/")
    click_base = base_url + tracking.CLICK_PATH

    def rewrite(match: re.Match) -> str:
        quoted = match[2] if match[2] is not None else match[3]
        value = quoted if quoted is not None else match[4]
        if not _TRACKED_SCHEME.match(value):
            return match[0]
        url = html_lib.unescape(value).strip() if "&" in value else value.strip()
        if url.startswith(own_links):
            return match[0]
        return f'{match[1]}"{click_base}{tracking.click_token(message_id, url, secret)}"'

    return rewrite


def return_path(message_id: uuid.UUID, from_email: str, settings: Settings) -> str:
    """The envelope sender of a message: `bounces+<id>@<bounce domain, or the sender's>`."""
    domain = settings.bounce_domain or from_email.rpartition("@")[2]
    return f"{bounces.verp_local_part(message_id)}@{domain.encode('idna').decode('ascii').lower()}"
