"""What the message itself shows receivers: its unsubscribe headers, its links, its images beside its text, its
size and its plain-text part."""

import email
import email.policy
import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from html.parser import HTMLParser

from emailplatform.deliverability.findings import Finding, Severity

GMAIL_CLIPS_BYTES = 102 * 1024  # Gmail shows "[Message clipped]" past this much HTML
SIZE_WARNING_BYTES = 90 * 1024
WORDS_PER_IMAGE = 50  # below this much text per image, filters read a message as an image mail
MIN_TEXT_CHARS = 20
MIN_WORDS = 10  # fewer, beside images (an unsubscribe link is one): an image-only mail
WORD = re.compile(r"\w+")
UNSUBSCRIBE_FOOTER = re.compile(r"\n*--\nUnsubscribe: \S+\s*$")  # what the platform adds (events/tracking.py)


@dataclass
class HtmlFacts:
    links: list[str] = field(default_factory=list)  # every http(s) href, in order, once each
    images: list[str] = field(default_factory=list)  # every img src
    images_without_alt: int = 0
    text: list[str] = field(default_factory=list)  # the visible text


class _Scanner(HTMLParser):
    HIDDEN = {"script", "style", "head", "title"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.facts = HtmlFacts()
        self.hidden = 0

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag in self.HIDDEN:
            self.hidden += 1
        href = (values.get("href") or "").strip()
        if tag == "a" and href.lower().startswith(("http://", "https://")) and href not in self.facts.links:
            self.facts.links.append(href)
        if tag == "img":
            self.facts.images.append((values.get("src") or "").strip())
            self.facts.images_without_alt += not (values.get("alt") or "").strip()

    def handle_endtag(self, tag):
        if tag in self.HIDDEN and self.hidden:
            self.hidden -= 1

    def handle_data(self, data):
        if not self.hidden and data.strip():
            self.facts.text.append(data.strip())


def scan_html(html: str) -> HtmlFacts:
    scanner = _Scanner()
    scanner.feed(html)
    scanner.close()
    return scanner.facts


def parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def body_of(message: EmailMessage, subtype: str) -> str:
    part = message.get_body((subtype,))
    return part.get_content() if part is not None else ""


def list_unsubscribe(message: EmailMessage) -> Finding:
    header = str(message.get("List-Unsubscribe") or "")
    one_click = str(message.get("List-Unsubscribe-Post") or "") == "List-Unsubscribe=One-Click"
    if "<https://" in header and one_click:
        return Finding(
            "list_unsubscribe",
            Severity.PASS,
            "List-Unsubscribe (https and mailto) with one-click "
            "unsubscribe (RFC 8058), as Gmail and Yahoo require of bulk senders",
        )
    if header:
        return Finding(
            "list_unsubscribe",
            Severity.WARNING,
            "List-Unsubscribe is there, but not as an https link "
            "with one-click unsubscribe (RFC 8058), which Gmail and Yahoo require",
            "set EMAILPLATFORM_TRACKING_URL (or the public URL) to an https address",
        )
    return Finding(
        "list_unsubscribe",
        Severity.ERROR,
        "the message has no List-Unsubscribe header",
        "send it through the platform, which adds one to each message",
    )


def http_links(links: list[str]) -> Finding | None:
    plain = [link for link in links if link.lower().startswith("http://")]
    if not plain:
        return None
    return Finding(
        "https_links",
        Severity.WARNING,
        f"{len(plain)} link{'s' if len(plain) != 1 else ''} "
        f"use{'s' if len(plain) == 1 else ''} plain http: {', '.join(plain[:5])}",
        "link to https:// addresses: filters and browsers distrust plain http",
    )


def images(facts: HtmlFacts) -> Finding:
    count, words = len(facts.images), len(WORD.findall(" ".join(facts.text)))
    if not count:
        return Finding("images", Severity.PASS, f"no images; {words} words of text")
    without_alt = (
        (f"; {facts.images_without_alt} image{'s have' if facts.images_without_alt != 1 else ' has'} no alt text")
        if facts.images_without_alt
        else ""
    )
    if words < MIN_WORDS:
        return Finding(
            "images",
            Severity.ERROR,
            f"the message is images ({count}) with next to no text ({words} "
            f"word{'s' if words != 1 else ''}){without_alt}",
            "write the message as text, with images beside it: filters read image-only mail as spam",
        )
    if words < WORDS_PER_IMAGE * count:
        return Finding(
            "images",
            Severity.WARNING,
            f"{count} image{'s' if count != 1 else ''} and only {words} words of text{without_alt}",
            f"write at least {WORDS_PER_IMAGE} words of text for each image, and give each an alt text",
        )
    if facts.images_without_alt:
        return Finding(
            "images",
            Severity.INFO,
            f"{count} images and {words} words of text{without_alt}",
            "give each image an alt text: many readers show none until asked",
        )
    return Finding("images", Severity.PASS, f"{count} image{'s' if count != 1 else ''} and {words} words of text")


def size(raw: bytes, html: str) -> Finding:
    html_bytes = len(html.encode("utf-8"))
    told = f"the message is {len(raw) / 1024:.0f} KB, its HTML {html_bytes / 1024:.0f} KB"
    if html_bytes > GMAIL_CLIPS_BYTES:
        return Finding(
            "size",
            Severity.ERROR,
            f"{told}: Gmail clips HTML above 102 KB, hiding the rest (and the "
            'unsubscribe link) behind "View entire message"',
            "shorten the HTML: inline less CSS, drop comments and unused markup, link to long content",
        )
    if html_bytes > SIZE_WARNING_BYTES:
        return Finding(
            "size",
            Severity.WARNING,
            f"{told}: close to the 102 KB at which Gmail clips it",
            "keep the HTML below 90 KB: a recipient's longer name or data may tip it over",
        )
    return Finding("size", Severity.PASS, told)


def plain_text(message: EmailMessage, html_facts: HtmlFacts) -> Finding:
    text = UNSUBSCRIBE_FOOTER.sub("", body_of(message, "plain")).strip()
    html_words = len(WORD.findall(" ".join(html_facts.text)))
    if not text:
        return Finding(
            "plain_text",
            Severity.ERROR,
            "the message has no plain-text part",
            "give the template a plain-text version (or none: the platform makes one from the HTML)",
        )
    if len(text) < MIN_TEXT_CHARS and html_words >= MIN_TEXT_CHARS:
        return Finding(
            "plain_text",
            Severity.WARNING,
            f"the plain-text part is nearly empty ({len(text)} characters)",
            "write a plain-text version that says what the HTML says",
        )
    return Finding("plain_text", Severity.PASS, f"a plain-text part of {len(WORD.findall(text))} words")
