"""MIME assembly at thousands of messages a second: the headers every message of a batch shares are
encoded once, and each recipient's message is filled in with byte joins and the C quoted-printable encoder.

A message is multipart/alternative: text/plain, then text/html, both UTF-8 and quoted-printable,
CRLF line endings, every line at most 78 characters except an unbreakable header word; with attachments,
that alternative is the first part of a multipart/mixed, each attachment a base64 part after it.
"""

import base64
import binascii
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.charset import Charset
from email.header import Header
from email.utils import encode_rfc2231, format_datetime, formataddr, parseaddr
from functools import lru_cache

CRLF = b"\r\n"
MAX_LINE = 78
MAX_SMTP_LINE = 998
OWN_HEADERS = frozenset(
    name.lower()
    for name in (
        "From",
        "To",
        "Reply-To",
        "Subject",
        "Date",
        "Message-ID",
        "MIME-Version",
        "Content-Type",
        "Content-Transfer-Encoding",
    )
)
HEADER_NAME = re.compile(r"[!-9;-~]+")
PRINTABLE_ASCII = re.compile(r"[ -~]*")
LINE_BREAKS = re.compile(r"\r\n?|\n")
UTF8 = Charset("utf-8")
CONTENT_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}")


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    content: bytes


def make_message_id(message_uuid: uuid.UUID, from_email: str) -> str:
    """The Message-ID header of a message: `<{uuid hex}@{domain of the sender}>`."""
    domain = from_email.rpartition("@")[2].encode("idna").decode("ascii")
    return f"<{message_uuid.hex}@{domain.lower()}>"


class MessageSkeleton:
    """What every message of a batch shares, encoded once; `build` fills in one recipient's message."""

    def __init__(
        self,
        from_email: str,
        from_name: str | None,
        reply_to: str | None,
        extra_headers: dict[str, str] | None = None,
        attachments: list[Attachment] | None = None,
    ):
        self.boundary = "=_" + secrets.token_hex(16)  # "=_" never occurs in quoted-printable text
        self.shared_headers = _shared_headers(from_email, from_name, reply_to, extra_headers or {})
        alternative = f'Content-Type: multipart/alternative;\r\n boundary="{self.boundary}"\r\n\r\n'
        self.top_content_type = b"MIME-Version: 1.0\r\n" + alternative.encode("ascii")
        delimiter = f"--{self.boundary}\r\n".encode("ascii")
        part_headers = b'; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
        self.text_part_start = delimiter + b"Content-Type: text/plain" + part_headers
        self.html_part_start = CRLF + delimiter + b"Content-Type: text/html" + part_headers
        self.end = f"\r\n--{self.boundary}--\r\n".encode("ascii")
        if attachments:
            mixed = "=_" + secrets.token_hex(16)  # base64 never holds "=_" either
            self.top_content_type = (
                f'MIME-Version: 1.0\r\nContent-Type: multipart/mixed;\r\n boundary="{mixed}"\r\n\r\n'
                f"--{mixed}\r\n{alternative}"
            ).encode("ascii")
            parts = [f"--{mixed}\r\n".encode("ascii") + _attachment_part(a) for a in attachments]
            self.end += b"".join(parts) + f"--{mixed}--\r\n".encode("ascii")

    def build(
        self, *, to: str, subject: str, html: str, text: str, message_id: str, headers: dict[str, str] | None = None
    ) -> bytes:
        """One recipient's message as bytes, ready for SMTP DATA (before dot-stuffing); `headers` are this
        message's own (List-Unsubscribe…), beside the skeleton's extra headers."""
        if "\r" in message_id or "\n" in message_id:
            raise ValueError("a Message-ID is one line")
        return b"".join(
            (
                self.shared_headers,
                _to_header(to),
                _subject_header(subject),
                _date_header(),
                b"Message-ID: ",
                message_id.encode("ascii"),
                CRLF,
                _extra_headers(headers) if headers else b"",
                self.top_content_type,
                self.text_part_start,
                quoted_printable(text),
                self.html_part_start,
                quoted_printable(html),
                self.end,
            )
        )


def quoted_printable(body: str) -> bytes:
    """A body as quoted-printable UTF-8 with CRLF line endings; lines at most 76 characters, and
    no line begins with "From " (mbox readers would mangle it)."""
    if "\r" in body:
        body = body.replace("\r\n", "\n").replace("\r", "\n")
    encoded = binascii.b2a_qp(body.encode("utf-8"), quotetabs=False, istext=True, header=False)
    encoded = encoded.replace(b"\n", CRLF)
    if b"From " in encoded:
        encoded = encoded.replace(b"\r\nFrom ", b"\r\n=46rom ")
        if encoded.startswith(b"From "):
            encoded = b"=46" + encoded[1:]
    return encoded


def _attachment_part(attachment: Attachment) -> bytes:
    """One attachment's part: its type, its file name (RFC 2231 encoded when not ASCII), its content in base64."""
    if not CONTENT_TYPE.fullmatch(attachment.content_type):
        raise ValueError(f"{attachment.content_type!r} is not a content type (type/subtype)")
    name = _one_line(attachment.filename).replace("\\", "_").replace('"', "_")
    if name.isascii():
        quoted = f'"{name}"'
        disposition = f"filename={quoted}"
    else:
        quoted = f'"{UTF8.header_encode(name)}"'
        disposition = f"filename*={encode_rfc2231(name, 'utf-8')}"
    head = (
        f"Content-Type: {attachment.content_type}; name={quoted}\r\n"
        f"Content-Disposition: attachment;\r\n {disposition}\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    )
    body = base64.encodebytes(attachment.content).replace(b"\n", CRLF)
    return head.encode("ascii") + body + CRLF


def _shared_headers(from_email: str, from_name: str | None, reply_to: str | None, extra: dict[str, str]) -> bytes:
    lines = [_address_header("From", from_name, from_email)]
    if reply_to:
        name, address = parseaddr(_one_line(reply_to))
        if "@" not in address:
            raise ValueError(f"reply_to is not an email address: {reply_to!r}")
        lines.append(_address_header("Reply-To", name, address))
    lines.append(_extra_headers(extra))
    return b"".join(lines)


def _extra_headers(extra: dict[str, str]) -> bytes:
    lines = []
    for name, value in extra.items():
        if not HEADER_NAME.fullmatch(name) or name.lower() in OWN_HEADERS:
            raise ValueError(f"{name!r} cannot be an extra header")
        value = _one_line(value)
        if value.isascii():  # structured headers (List-Unsubscribe…) must never become encoded words
            lines.append(_fold_ascii(f"{name}: {value}") or f"{name}: {value}\r\n".encode("ascii"))
        else:
            lines.append(_encoded_header(name, value))
    return b"".join(lines)


def _address_header(header: str, display_name: str | None, address: str) -> bytes:
    """`Name <address>`: the name quoted when it has to be, or RFC 2047 encoded when not ASCII."""
    address = _ascii_domain(address)
    display_name = _one_line(display_name or "")
    if not display_name:
        return f"{header}: {address}\r\n".encode("ascii")
    if PRINTABLE_ASCII.fullmatch(display_name) and "=?" not in display_name:
        line = f"{header}: {formataddr((display_name, address))}"
        folded = _fold_ascii(line)
        if folded is not None:
            return folded
    # One encoded word, however long: Python's email parser reads a space into a name between words.
    name_line = f"{header}: {UTF8.header_encode(display_name)}"
    if len(name_line) > MAX_SMTP_LINE:
        raise ValueError(f"the {header} name is too long")
    separator = " " if len(name_line) + len(address) + 3 <= MAX_LINE else "\r\n "
    return f"{name_line}{separator}<{address}>\r\n".encode("ascii")


def _ascii_domain(address: str) -> str:
    if address.isascii():
        return address
    local, _, domain = address.rpartition("@")
    return f"{local}@{domain.encode('idna').decode('ascii')}"


def _one_line(value: str) -> str:
    return " ".join(LINE_BREAKS.split(value)).strip()


def _to_header(to: str) -> bytes:
    """A recipient's address; an international domain in its ASCII form, an international mailbox
    name in UTF-8 (RFC 6532: the transport then asks the server for SMTPUTF8)."""
    if "\r" in to or "\n" in to:
        raise ValueError("a recipient address is one line")
    return b"To: " + _ascii_domain(to).encode("utf-8") + CRLF


def _subject_header(subject: str) -> bytes:
    subject = _one_line(subject)
    if PRINTABLE_ASCII.fullmatch(subject) and "=?" not in subject:
        if len(subject) <= MAX_LINE - len("Subject: "):
            return b"Subject: " + subject.encode("ascii") + CRLF
        folded = _fold_ascii("Subject: " + subject)
        if folded is not None:
            return folded
    return _encoded_header("Subject", subject)


def _fold_ascii(line: str) -> bytes | None:
    """A header line folded before spaces: lines of at most 78 characters where the words allow, a
    longer word on a line of its own; None when a line would pass the 998 characters SMTP carries."""
    lines = []
    cut_from = line.find(" ", line.index(": ") + 2)  # the first word stays beside the header's name
    while len(line) > MAX_LINE and cut_from > 0:
        cut = line.rfind(" ", cut_from, MAX_LINE + 1)
        cut = cut if cut > 0 else cut_from
        lines.append(line[:cut])
        line = line[cut:]
        cut_from = line.find(" ", len(line) - len(line.lstrip(" ")))
    lines.append(line)
    if any(len(part) > MAX_SMTP_LINE for part in lines):
        return None
    return "\r\n".join(lines).encode("ascii") + CRLF


@lru_cache(maxsize=1024)
def _encoded_header(name: str, value: str) -> bytes:
    """RFC 2047 encoded words, folded; many recipients of a batch share a subject, hence the cache."""
    encoded = Header(value, "utf-8", header_name=name).encode(linesep="\r\n")
    return f"{name}: {encoded}\r\n".encode("ascii")


_date_cache: tuple[int, bytes] = (0, b"")


def _date_header() -> bytes:
    global _date_cache
    second = int(time.time())
    if _date_cache[0] != second:
        now = datetime.fromtimestamp(second, UTC)
        _date_cache = (second, b"Date: " + format_datetime(now).encode("ascii") + CRLF)
    return _date_cache[1]
