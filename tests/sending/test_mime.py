"""The MIME builder's messages, read by Python's email parser and by a strict reading of the RFCs,
agree with each other and with what was put in."""

import email
import email.policy
import re
import uuid
from email.header import decode_header, make_header
from email.utils import parseaddr, parsedate_to_datetime

import pytest

from emailplatform.sending.mime import MessageSkeleton, make_message_id

FROM = "news@example.com"
UNSUBSCRIBE = "<https://example.com/unsubscribe/" + "a1" * 60 + ">, <mailto:unsubscribe@example.com?subject=u>"
LONG_LINE = "word=value " * 150
CASES = {
    "ascii": dict(
        name="Example Shop",
        subject="Your order has shipped",
        text="Hello Bob,\nyour order has shipped.\n",
        html="<p>Hello <b>Bob</b></p>",
    ),
    "accents": dict(
        name="Zoë Ünïcode, Ltd.",
        subject="Réunion de l'équipe — résumé",
        text="Café, crème brûlée\r\nà bientôt\n",
        html="<p>Café, crème brûlée</p>",
    ),
    "emoji and CJK, long": dict(
        name="日本語の差出人 🎉 " * 8,
        subject="お知らせ 🎉 新しい機能のご案内です。" * 6,
        text="こんにちは 🎉\n" * 30 + "最後の行",
        html="<p>" + "新しい機能 🚀 " * 80 + "</p>",
    ),
    "long ascii subject": dict(
        name='Bob "the" Builder, of the department of names that go on and on and on',
        subject="A subject that goes on " * 10,
        text=LONG_LINE,
        html=f"<p>{LONG_LINE}</p>",
    ),
    "unbreakable ascii subject": dict(
        name=None,
        subject="x" * 120,
        text="x" * 2000,
        html="<p>" + "y" * 2000 + "</p>",
    ),
    "lookalikes of encodings": dict(
        name="=?utf-8?q?not_encoded?=",
        subject="Prices =?utf-8?q?x?= and = signs 100% =3D",
        text="a = b\n=\n=3D\n=?utf-8?q?x?=\n",
        html='<a href="https://x.example/?a=1&b=2">=</a>',
    ),
    "dots, From and spaces": dict(
        name="Dot",
        subject="  leading and trailing spaces  ",
        text=".\n..\n.hidden\nFrom the start\n\tFrom tab\ntrailing spaces   \ntrailing tab\t\n.",
        html="From here\n.\n<p>x</p>  \n",
    ),
}


def build(case: dict, **overrides) -> tuple[bytes, dict]:
    values = (
        dict(
            to="bob@example.org",
            subject=case["subject"],
            html=case["html"],
            text=case["text"],
            message_id=make_message_id(uuid.uuid4(), FROM),
        )
        | overrides
    )
    skeleton = MessageSkeleton(
        FROM,
        case["name"],
        "Help Desk <help@example.com>",
        {"X-Campaign": "spring sale", "List-Unsubscribe": UNSUBSCRIBE},
    )
    return skeleton.build(**values), values


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_parser_and_strict_reading_agree_with_the_input(case):
    raw, values = build(case)
    strict = strict_read(raw)
    parsed = email.message_from_bytes(raw, policy=email.policy.default)

    subject = " ".join(case["subject"].split(" ")).strip()
    assert strict.headers["Subject"] == str(parsed["Subject"]) == subject
    assert strict.headers["To"] == str(parsed["To"]) == "bob@example.org"
    assert strict.headers["Message-ID"] == str(parsed["Message-ID"]) == values["message_id"]
    assert strict.headers["X-Campaign"] == str(parsed["X-Campaign"]) == "spring sale"
    assert strict.headers["List-Unsubscribe"] == str(parsed["List-Unsubscribe"]) == UNSUBSCRIBE
    assert strict.headers["MIME-Version"] == "1.0"
    assert strict.headers["From"] == ((case["name"] or "").strip(), FROM)
    sender = parsed["From"].addresses[0]
    assert (sender.display_name, sender.addr_spec) == ((case["name"] or "").strip(), FROM)
    reply_to = parsed["Reply-To"].addresses[0]
    assert (
        strict.headers["Reply-To"] == (reply_to.display_name, reply_to.addr_spec) == ("Help Desk", "help@example.com")
    )
    assert parsedate_to_datetime(strict.headers["Date"]) == parsed["Date"].datetime
    assert parsed["Date"].datetime.utcoffset() is not None

    assert parsed.get_content_type() == "multipart/alternative"
    plain, html = parsed.iter_parts()
    assert [plain.get_content_type(), html.get_content_type()] == ["text/plain", "text/html"]
    assert strict.parts == [("text/plain", crlf(case["text"])), ("text/html", crlf(case["html"]))]
    assert plain.get_content() == crlf(case["text"])
    assert html.get_content() == crlf(case["html"])
    assert not parsed.defects and not plain.defects and not html.defects


def test_header_injection_stays_in_its_header():
    raw, _ = build(CASES["ascii"], subject="Hi\r\nBcc: everyone@example.com\nX-Evil: 1")
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"] == "Hi Bcc: everyone@example.com X-Evil: 1"
    assert parsed["Bcc"] is None and parsed["X-Evil"] is None
    with pytest.raises(ValueError):
        build(CASES["ascii"], to="bob@example.org\r\nBcc: everyone@example.com")


def test_international_recipient_domain_is_sent_in_its_ascii_form():
    raw, _ = build(CASES["accents"], to="zoe@bücher.example")
    assert strict_read(raw).headers["To"] == "zoe@xn--bcher-kva.example"


def test_extra_headers_cannot_replace_the_messages_own():
    for name in ("Subject", "content-type", "Bad Name:"):
        with pytest.raises(ValueError):
            MessageSkeleton(FROM, None, None, {name: "x"})


def test_message_id_names_the_message_and_the_sending_domain():
    message_uuid = uuid.uuid4()
    assert make_message_id(message_uuid, "News@Mail.Example.com") == f"<{message_uuid.hex}@mail.example.com>"


def crlf(text: str) -> str:
    return re.sub(r"\r\n|\r|\n", "\r\n", text)


class StrictMessage:
    def __init__(self, headers: dict[str, str], parts: list[tuple[str, str]]):
        self.headers = headers
        self.parts = parts


def strict_read(raw: bytes) -> StrictMessage:
    """A reading that checks what RFC 5322, 2045-2047 require, with none of the email package's leniency."""
    assert b"\r" not in raw.replace(b"\r\n", b"") and b"\n" not in raw.replace(b"\r\n", b""), "bare CR or LF"
    assert raw.isascii(), "8-bit data in a 7-bit message"
    head, body = raw.split(b"\r\n\r\n", 1)
    header_lines = head.decode("ascii").split("\r\n")
    long_lines = [line for line in header_lines if len(line) > 78]
    assert all(len(line) <= 998 for line in header_lines)
    unbreakable = [line if line.startswith(" ") else line.partition(": ")[2] for line in long_lines]
    assert all(" " not in words.strip() for words in unbreakable), f"could have been folded: {long_lines}"
    headers = {}
    for field in re.split(r"\r\n(?![ \t])", head.decode("ascii")):
        name, colon, value = field.partition(":")
        assert colon and re.fullmatch(r"[!-9;-~]+", name), field
        assert name not in headers, f"{name} twice"
        unfolded = value.replace("\r\n", "").strip()
        headers[name] = _decoded_address(unfolded) if name in ("From", "Reply-To") else _decoded(unfolded)
    boundary = re.fullmatch(r'multipart/alternative; ?boundary="(=_[0-9a-f]+)"', headers["Content-Type"]).group(1)
    return StrictMessage(headers, _strict_parts(body, boundary.encode()))


def _decoded(value: str) -> str:
    return str(make_header(decode_header(value))) if "=?" in value else value


def _decoded_address(value: str) -> tuple[str, str]:
    """(name, address): RFC 2047 words are decoded after the address is parsed, never before."""
    name, address = parseaddr(value)
    return _decoded(name), address


def _strict_parts(body: bytes, boundary: bytes) -> list[tuple[str, str]]:
    assert body.endswith(b"\r\n--" + boundary + b"--\r\n")
    assert body.startswith(b"--" + boundary + b"\r\n")
    chunks = (b"\r\n" + body).split(b"\r\n--" + boundary)
    assert chunks[0] == b"" and chunks[-1] == b"--\r\n"
    parts = []
    for chunk in chunks[1:-1]:
        head, content = chunk.removeprefix(b"\r\n").split(b"\r\n\r\n", 1)
        fields = dict(line.split(": ", 1) for line in head.decode("ascii").split("\r\n"))
        assert fields["Content-Transfer-Encoding"] == "quoted-printable"
        content_type, charset = fields["Content-Type"].split("; ")
        assert charset == 'charset="utf-8"'
        parts.append((content_type, _strict_qp(content).decode("utf-8")))
    return parts


def _strict_qp(encoded: bytes) -> bytes:
    """RFC 2045 6.7: lines of at most 76 characters, "=" only before two upper-case hex digits or a line
    break, no white space at a line's end, and no line an SMTP or mbox reader could take for its own."""
    for line in encoded.split(b"\r\n"):
        assert len(line) <= 76, line
        assert not line.endswith((b" ", b"\t")), line
        assert re.fullmatch(rb"(?:[^=]|=[0-9A-F]{2})*=?", line), line
        assert line != b"." and not line.startswith(b"From "), line
    unwrapped = encoded.replace(b"=\r\n", b"")
    return re.sub(rb"=([0-9A-F]{2})", lambda m: bytes([int(m.group(1), 16)]), unwrapped)
