"""A plain-text template derived from an HTML template's source, for versions given without text.

Jinja tags are text to an HTML parser, so they pass through untouched and the result is a template too.
Links become "text (url)", paragraphs and <br> line breaks; <head>, <style> and <script> are dropped.
(html2text, the usual package, is GPL; the standard library's parser is enough here.)
"""

import re
from html.parser import HTMLParser

_DROPPED = {"head", "style", "script", "title", "template", "noscript"}
_PARAGRAPHS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table", "blockquote", "pre", "hr"}
_LINES = {"div", "tr", "li", "section", "article", "header", "footer", "address", "dl", "dt", "dd"}
_SPACES = re.compile(r"[ \t\r\n\f]+")
_BLANK_LINES = re.compile(r"\n{3,}")


class _TextWriter(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.dropped_depth = 0
        self.pending_newlines = 0
        self.links: list[tuple[str, int]] = []  # (href, where its text starts in out)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROPPED:
            self.dropped_depth += 1
        elif tag == "br":
            self._write("\n")
        elif tag == "img":
            self._write(dict(attrs).get("alt") or "")
        elif tag == "a":
            self.links.append((dict(attrs).get("href") or "", len(self.out)))
        elif tag in _PARAGRAPHS or tag in _LINES:
            self._break(tag)
            if tag == "li":
                self._write("- ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _DROPPED:
            self.handle_starttag(tag, attrs)
            if tag == "a":
                self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROPPED:
            self.dropped_depth = max(self.dropped_depth - 1, 0)
        elif tag == "a" and self.links:
            href, start = self.links.pop()
            text = "".join(self.out[start:]).strip()
            if href and not href.startswith("#") and href != text:
                self._write(f" ({href})" if text else href)
        elif tag in _PARAGRAPHS or tag in _LINES:
            self._break(tag)
        elif tag in ("td", "th"):
            self._write(" ")

    def handle_data(self, data: str) -> None:
        if self.dropped_depth or (self.pending_newlines and data.isspace()):
            return
        self._write(_SPACES.sub(" ", data))

    def _break(self, tag: str) -> None:
        """Blocks end lines; two blocks in a row make one break, the larger of the two."""
        self.pending_newlines = max(self.pending_newlines, 2 if tag in _PARAGRAPHS else 1)

    def _write(self, text: str) -> None:
        if self.pending_newlines and self.out:
            self.out.append("\n" * self.pending_newlines)
        self.pending_newlines = 0
        self.out.append(text)

    def text(self) -> str:
        lines = (line.strip() for line in "".join(self.out).split("\n"))
        return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip() + "\n"


def text_from_html(html: str) -> str:
    writer = _TextWriter()
    writer.feed(html)
    writer.close()
    return writer.text()
