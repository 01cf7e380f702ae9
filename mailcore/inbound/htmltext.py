"""HTML mail body -> readable plain text (what an operator would see, as lines).

lxml (libxml2) parses; one walk over its tree writes the lines. The walk also notes where the
sending client's quote markup starts (Gmail's ``gmail_quote``, Outlook's ``divRplyFwdMsg``,
Apple Mail's ``<blockquote type="cite">``...), so that quoting can cut there.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from lxml import etree

from mailcore.inbound.htmlquotes import quote_markup

logger = logging.getLogger(__name__)

_DROP = frozenset(
    {"script", "style", "head", "title", "meta", "link", "noscript", "template", "svg", "object"}
)
# Elements that start and end a line.
_BLOCK = frozenset(
    {
        "address", "article", "aside", "center", "dd", "details", "dialog", "div", "dl", "dt",
        "fieldset", "figcaption", "figure", "footer", "form", "header", "main", "nav", "section",
        "summary", "tr", "caption", "body", "html", "tbody", "thead", "tfoot",
    }
)  # fmt: skip
# Elements separated from their neighbours by a blank line.
_PARAGRAPH = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table", "pre", "hr"})
_HIDDEN = re.compile(r"display\s*+:\s*+none|visibility\s*+:\s*+hidden", re.IGNORECASE)
# Quote prefixes stop growing here: 10,000 nested <blockquote> would write "> " 10,000 times on
# every line (a few KB of HTML turned into GB of text).
_MAX_QUOTE_DEPTH = 20
# Elements nested deeper than this are read as plain text: the walk recurses (one frame a
# level) and must stay clear of the interpreter's recursion limit.
_MAX_NESTING = 200
# lxml.etree's parser, not lxml.html's: that one looks up a Python class for every element.
_PARSER = etree.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True)


def _is_one_spaced(text: str) -> bool:
    """Whether `text` is already its words joined by single spaces: every blank str.split
    knows but the space is unprintable, so a printable text holds spaces only (half the cost
    of splitting and joining it)."""
    return text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " "


@dataclass
class QuoteStart:
    """Filled by `html_to_text`: the first line of the quoted message and the markup found."""

    line: int | None = None
    markup: str = ""

    def cut(self) -> tuple[int, str] | None:
        return None if self.line is None else (self.line, self.markup)


class _Lines:
    """Accumulates inline text into lines, with blockquote depth as ``> `` prefixes."""

    def __init__(self, quote: QuoteStart | None) -> None:
        self.lines: list[str] = []
        self.current: list[str] = []
        self.depth = 0
        self.line_depth = 0
        self.pre = 0  # inside <pre>: keep spaces and empty lines
        self.has_text = False  # the current line holds more than blanks
        self.nesting = 0  # elements entered by _walk
        self.quote = quote  # None once the quote start is known (or not wanted)

    @property
    def prefix(self) -> str:
        return "> " * min(self.line_depth, _MAX_QUOTE_DEPTH)

    def clear(self) -> None:
        self.current = []
        self.has_text = False

    def text(self, s: str) -> None:
        if not self.current:
            self.line_depth = self.depth
        self.current.append(s)
        # Known as each piece arrives: joining the line at every <td> or <br> is quadratic.
        if not self.has_text and s and not s.isspace():
            self.has_text = True

    def newline(self) -> None:
        if self.current and self.pre:
            self.lines.append(self.prefix + "".join(self.current).rstrip())
            self.clear()
        elif self.current:
            current = self.current
            joined = current[0] if len(current) == 1 else "".join(current)
            line = joined if _is_one_spaced(joined) else " ".join(joined.split())
            self.clear()
            if line:
                self.lines.append(self.prefix + line)
            elif "\xa0" in joined:
                # <div>&nbsp;</div> is how webmails write an empty line.
                self.blank_line()

    def blank_line(self) -> None:
        if self.lines and self.lines[-1].strip(" >"):
            self.lines.append(">" * min(self.depth, _MAX_QUOTE_DEPTH) if self.depth else "")

    def raw_line(self, line: str) -> None:
        self.lines.append("> " * min(self.depth, _MAX_QUOTE_DEPTH) + line)

    def blank(self) -> None:
        self.newline()
        self.blank_line()

    def quote_starts(self, markup: str) -> None:
        if self.quote is not None:
            self.newline()
            self.quote.line, self.quote.markup = len(self.lines), markup
            self.quote = None


def html_to_text(html: str, *, quote_start: QuoteStart | None = None) -> str:
    """Readable text: scripts and styles dropped, blocks on their own lines, blockquotes as
    ``> `` lines, links as ``text (url)``, list items as ``- item``, table cells separated by
    `` | ``. Never raises on malformed HTML. `quote_start`, if given, receives the line where
    the quote markup of the sending client starts."""
    root = _parse(html)
    out = _Lines(quote_start)
    if root is not None:
        _walk(root, out, pre=False)
    out.newline()
    while out.lines and not out.lines[-1].strip(" >"):
        out.lines.pop()
    if quote_start is not None and (quote_start.line or 0) >= len(out.lines):
        quote_start.line = None  # the quote markup held no text (or there was none)
    return "\n".join(out.lines)


def _parse(html: str) -> etree._Element | None:
    data = html.encode("utf-8", "replace")
    if not data.strip():
        return None
    try:
        root: etree._Element | None = etree.fromstring(data, parser=_PARSER)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        logger.debug("lxml found no document in an HTML body", exc_info=True)
        return None
    return root


def _walk(node: etree._Element, out: _Lines, pre: bool) -> None:
    if out.nesting >= _MAX_NESTING:
        out.text(" ".join(node.itertext()))  # libxml2 walks descendants without recursing
        return
    out.nesting += 1
    try:
        text = node.text  # each read of .text or .tail decodes libxml2's UTF-8 anew
        if text:
            _content(text, out, pre)
        for child in node:
            if isinstance(child.tag, str):
                _element(child, out, pre)
            tail = child.tail
            if tail and (out.current or pre or not tail.isspace() or "\xa0" in tail):
                _content(tail, out, pre)  # not the newlines between blocks: see _content
    finally:
        out.nesting -= 1


def _content(s: str, out: _Lines, pre: bool) -> None:
    if pre:
        _pre_text(s, out)
    elif out.current or not s.isspace() or "\xa0" in s:
        # Blanks opening a line would be dropped with it: the newlines between blocks.
        out.text(s)


def _element(child: etree._Element, out: _Lines, pre: bool) -> None:
    name = child.tag
    if name in _DROP:
        return
    items = child.items()  # one call into lxml (no attribute proxy), then dict lookups
    if items:
        attrs = dict(items)
        if _hidden(attrs):
            return
        markup = quote_markup(name, attrs) if out.quote is not None else None
        if markup:
            out.quote_starts(markup)
    special = _SPECIAL.get(name)
    if special is not None:
        special(child, out, pre)
    elif name in _PARAGRAPH:
        out.blank()
        _walk(child, out, pre)
        out.blank()
    elif name in _BLOCK:
        out.newline()
        _walk(child, out, pre)
        out.newline()
    else:
        _walk(child, out, pre)


def _br(child: etree._Element, out: _Lines, pre: bool) -> None:
    if out.has_text:
        out.newline()
    else:
        # <div><br></div>: an empty line, as Gmail and Outlook write them.
        out.clear()
        out.blank_line()


def _img(child: etree._Element, out: _Lines, pre: bool) -> None:
    alt = child.get("alt")
    if alt and alt.strip():
        out.text(f"[{alt.strip()}]")


def _hr(child: etree._Element, out: _Lines, pre: bool) -> None:
    out.blank()
    out.raw_line("---")
    out.blank()


def _li(child: etree._Element, out: _Lines, pre: bool) -> None:
    out.newline()
    out.text("- ")
    _walk(child, out, pre)
    out.newline()


def _cell(child: etree._Element, out: _Lines, pre: bool) -> None:
    if out.has_text:
        out.text(" | ")
    _walk(child, out, pre)


def _hidden(attrs: dict[str, str]) -> bool:
    if "hidden" in attrs:
        return True
    style = attrs.get("style")
    if not style:
        return False
    low = style.lower()  # the regex only where it can match: IGNORECASE search is slow
    return ("none" in low or "hidden" in low) and _HIDDEN.search(low) is not None


def _pre_text(s: str, out: _Lines) -> None:
    for i, part in enumerate(s.split("\n")):
        if i:
            # Keep preformatted spacing: every line break is a line, empty ones included.
            line = "".join(out.current)
            out.clear()
            out.lines.append("> " * min(out.depth, _MAX_QUOTE_DEPTH) + line.rstrip())
        if part:
            out.text(part)


def _nested(node: etree._Element, out: _Lines, level: Literal["depth", "pre"], pre: bool) -> None:
    """A block set apart by blank lines, one `level` deeper inside (a quote, preformatted)."""
    out.blank()
    setattr(out, level, getattr(out, level) + 1)
    _walk(node, out, pre)
    out.newline()
    setattr(out, level, getattr(out, level) - 1)
    out.blank()


def _link(a: etree._Element, out: _Lines, pre: bool) -> None:
    start = len(out.current)
    _walk(a, out, pre)
    text = " ".join("".join(out.current[start:]).split())
    href = (a.get("href") or "").strip()
    if not href or href.startswith("#") or href.lower().startswith("javascript:"):
        return
    shown = href[7:] if href.lower().startswith("mailto:") else href
    if not text:
        out.text(shown)
    elif shown.rstrip("/") != text.rstrip("/").strip("<>"):  # "<a@b.c>" links to a@b.c
        out.text(f" ({shown})")


# Elements written otherwise than as a block or inline run: name -> writer.
_SPECIAL: dict[str, Callable[[etree._Element, _Lines, bool], None]] = {
    "br": _br,
    "img": _img,
    "hr": _hr,
    "blockquote": lambda child, out, pre: _nested(child, out, "depth", pre),
    "a": _link,
    "li": _li,
    "td": _cell,
    "th": _cell,
    "pre": lambda child, out, pre: _nested(child, out, "pre", True),
}
