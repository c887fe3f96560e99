"""A bounce's own words: its text parts decoded (any charset, quoted-printable or base64, HTML
stripped), without the returned message, and the addresses they name."""

import html
import re
from email.header import decode_header, make_header
from email.message import Message

EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
# Where the returned message starts in the text of a bounce, in every format seen.
RETURNED_MARKER = re.compile(
    r"^\s*(-{2,}\s*|={2,}\s*)?(below this line is a copy|this is a copy of the (message|headers)"
    r"|original message (follows|headers)|original message\s*[:.-]*\s*$|(-{2,}|={2,})\s*original message"
    r"|forwarded message|unsent message below|message headers follow|headers of the original"
    r"|die urspr[uü]ngliche nachricht|le message d'origine|mensaje original|原始邮件|原邮件|元のメッセージ)",
    re.IGNORECASE,
)
NOT_OWN_PARTS = ("message/", "text/rfc822", "image/", "application/")


def payload_bytes(part: Message) -> bytes:
    """A non-multipart part's body, transfer-decoded (b"" when it has none)."""
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def sub_messages(part: Message) -> list[Message]:
    """A multipart or message/* part's sub-messages; [] for a part the stdlib left a string."""
    payload = part.get_payload()
    return [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []


def payload_text(part: Message) -> str:
    """A non-multipart part's body as the stdlib holds it, undecoded."""
    payload = part.get_payload()
    return payload if isinstance(payload, str) else ""


def decoded_text(msg: Message) -> str:
    """All the bounce's own text parts, decoded; never the returned message."""
    if msg.get_content_maintype() == "multipart":
        own = (p for p in sub_messages(msg) if not p.get_content_type().startswith(NOT_OWN_PARTS))
        return "\n".join(decoded_text(p) for p in own)
    if msg.get_content_maintype() != "text":
        return ""
    text = _decode(payload_bytes(msg), msg.get_content_charset())
    return _strip_html(text) if msg.get_content_subtype() == "html" else text


def decoded_subject(msg: Message) -> str:
    """The Subject with its RFC 2047 words decoded (a broken one stays as written)."""
    try:
        return str(make_header(decode_header(str(msg.get("Subject", "")))))
    except (LookupError, UnicodeDecodeError, ValueError):
        return str(msg.get("Subject", ""))


def own_text(msg: Message) -> str:
    """The bounce's words up to where it quotes the returned message inline."""
    lines = decoded_text(msg).splitlines()
    end = next((i for i, line in enumerate(lines) if RETURNED_MARKER.match(line)), len(lines))
    return "\n".join(lines[:end])


def _decode(body: bytes, charset: str | None) -> str:
    for candidate in (charset, "utf-8", "cp1252"):
        if not candidate:
            continue
        try:
            return body.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
    return body.decode("utf-8", "replace")


def _strip_html(text: str) -> str:
    text = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", text)
    text = re.sub(r"(?i)<br\s*/?>|</(p|div|tr|li|h\d)>", "\n", text)
    return html.unescape(re.sub(r"<[^>]*>", " ", text))


def addresses_in(text: str) -> list[str]:
    return [a.lower().strip(".") for a in EMAIL.findall(text)]
