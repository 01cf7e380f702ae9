"""HTML mail body -> readable plain text (what an operator would see, as lines).

lxml (libxml2) parses; one walk over its tree writes the lines. The walk also notes where the
sending client's quote markup starts (Gmail's ``gmail_quote``, Outlook's ``divRplyFwdMsg``,
Apple Mail's ``<blockquote type="cite">``...), so that quoting can cut there.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Literal

from lxml import etree

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
# The markup clients put around the message they quote: class, id or attribute -> client.
_QUOTE_CLASSES = {
    "gmail_quote": "Gmail gmail_quote",
    "yahoo_quoted": "Yahoo yahoo_quoted",
    "moz-cite-prefix": "Thunderbird moz-cite-prefix",
    "protonmail_quote": "ProtonMail protonmail_quote",
    "zmail_extra": "Zoho zmail_extra",
    "outlookmessageheader": "Outlook OutlookMessageHeader",
}
_QUOTE_IDS = {
    "divrplyfwdmsg": "Outlook divRplyFwdMsg",
    "appendonsend": "Outlook appendonsend",
    "olk_src_body_section": "Outlook for Mac OLK_SRC_BODY_SECTION",
    "zwchr": "Zimbra zwchr",
}
_ZIMBRA_MARKERS = frozenset({"__QUOTED_TEXT__", "__DIVIDER__"})
# The div Outlook 2007-2016 for Windows draws above its header block, and Windows Mail's
# (talon/html_quotations.py cut_microsoft_quote lists the same styles).
_OUTLOOK_RULES = (
    "border-top:solid#e1e1e11.0pt",
    "border-top:solid#b5c4df1.0pt",
    "border-top-color:rgb(229,229,229);border-top-width:1px;border-top-style:solid",
)
# lxml.etree's parser, not lxml.html's: that one looks up a Python class for every element.
_PARSER = etree.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True)


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
            joined = "".join(self.current)
            line = " ".join(joined.split())  # str.split's blanks are re's \s, in C
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
        if node.text:
            _content(node.text, out, pre)
        for child in node:
            if isinstance(child.tag, str):
                _element(child, out, pre)
            if child.tail:  # most tails are None: no call
                _content(child.tail, out, pre)
    finally:
        out.nesting -= 1


def _content(s: str | None, out: _Lines, pre: bool) -> None:
    if s:
        if pre:
            _pre_text(s, out)
        else:
            out.text(s)


def _element(child: etree._Element, out: _Lines, pre: bool) -> None:
    name = child.tag
    if name in _DROP:
        return
    if len(child.attrib):
        if _hidden(child):
            return
        markup = _quote_markup(child) if out.quote is not None else None
        if markup:
            out.quote_starts(markup)
    if name == "br":
        if out.has_text:
            out.newline()
        else:
            # <div><br></div>: an empty line, as Gmail and Outlook write them.
            out.clear()
            out.blank_line()
    elif name == "img":
        alt = child.get("alt")
        if alt and alt.strip():
            out.text(f"[{alt.strip()}]")
    elif name == "hr":
        out.blank()
        out.raw_line("---")
        out.blank()
    elif name == "blockquote":
        _nested(child, out, "depth", pre)
    elif name == "a":
        _link(child, out, pre)
    elif name == "li":
        out.newline()
        out.text("- ")
        _walk(child, out, pre)
        out.newline()
    elif name in ("td", "th"):
        if out.has_text:
            out.text(" | ")
        _walk(child, out, pre)
    elif name == "pre":
        _nested(child, out, "pre", True)
    else:
        _block(child, out, pre)


def _block(child: etree._Element, out: _Lines, pre: bool) -> None:
    name = child.tag
    if name in _PARAGRAPH:
        out.blank()
        _walk(child, out, pre)
        out.blank()
    elif name in _BLOCK:
        out.newline()
        _walk(child, out, pre)
        out.newline()
    else:
        _walk(child, out, pre)


def _hidden(el: etree._Element) -> bool:
    if "hidden" in el.attrib:
        return True
    style = el.get("style")
    if not style:
        return False
    low = style.lower()  # the regex only where it can match: IGNORECASE search is slow
    return ("none" in low or "hidden" in low) and _HIDDEN.search(low) is not None


def _quote_markup(el: etree._Element) -> str | None:
    """The client whose quote starts at this element, if its markup says so."""
    classes = el.get("class")
    if classes:
        low = classes.lower()  # Yahoo prefixes its classes: "ydp9b1f0a55yahoo_quoted"
        for name, markup in _QUOTE_CLASSES.items():
            if name in low:
                return markup
    ident = el.get("id")
    if ident and ident.lower() in _QUOTE_IDS:
        return _QUOTE_IDS[ident.lower()]
    if el.tag == "blockquote" and (el.get("type") or "").lower() == "cite":
        return 'Apple Mail / Thunderbird <blockquote type="cite">'
    if el.get("data-marker") in _ZIMBRA_MARKERS:
        return "Zimbra data-marker"
    style = el.get("style")
    if style and el.tag == "div" and "border-top" in style:
        flat = style.lower().replace(" ", "")
        if any(rule in flat for rule in _OUTLOOK_RULES):
            return "Outlook header rule (border-top)"
    return None


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
