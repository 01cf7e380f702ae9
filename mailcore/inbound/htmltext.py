"""HTML mail body -> readable plain text (what an operator would see, as lines)."""

from __future__ import annotations

import logging
import re
from typing import Literal

from bs4 import BeautifulSoup, Comment, NavigableString, Tag
from bs4.element import CData, Declaration, Doctype, ProcessingInstruction

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
_SKIPPED_STRINGS = (Comment, CData, Declaration, Doctype, ProcessingInstruction)
_SPACES = re.compile(r"\s+")
_HIDDEN = re.compile(r"display\s*+:\s*+none|visibility\s*+:\s*+hidden", re.IGNORECASE)
# Quote prefixes stop growing here: 10,000 nested <blockquote> would write "> " 10,000 times on
# every line (a few KB of HTML turned into GB of text).
_MAX_QUOTE_DEPTH = 20
# Elements nested deeper than this are read as plain text: the walk recurses (two or three
# frames a level) and must stay clear of the interpreter's recursion limit.
_MAX_NESTING = 200


class _Lines:
    """Accumulates inline text into lines, with blockquote depth as ``> `` prefixes."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.current: list[str] = []
        self.depth = 0
        self.line_depth = 0
        self.pre = 0  # inside <pre>: keep spaces and empty lines
        self.has_text = False  # the current line holds more than blanks
        self.nesting = 0  # elements entered by _walk

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
        if not self.has_text and not s.isspace() and s:
            self.has_text = True

    def newline(self) -> None:
        if self.current and self.pre:
            self.lines.append(self.prefix + "".join(self.current).rstrip())
            self.clear()
        elif self.current:
            joined = "".join(self.current)
            line = _SPACES.sub(" ", joined).strip()
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


def html_to_text(html: str) -> str:
    """Readable text: scripts and styles dropped, blocks on their own lines, blockquotes as
    ``> `` lines, links as ``text (url)``, list items as ``- item``, table cells separated by
    `` | ``. Never raises on malformed HTML."""
    try:
        soup = BeautifulSoup(html, "lxml")
    except Exception:  # noqa: BLE001 - lxml may refuse exotic input; html.parser never does
        logger.debug("lxml failed on HTML body, falling back to html.parser", exc_info=True)
        soup = BeautifulSoup(html, "html.parser")
    out = _Lines()
    _walk(soup, out, pre=False)
    out.newline()
    while out.lines and not out.lines[-1].strip(" >"):
        out.lines.pop()
    return "\n".join(out.lines)


def _walk(node: Tag, out: _Lines, pre: bool) -> None:
    if out.nesting >= _MAX_NESTING:
        out.text(" ".join(node.stripped_strings))  # bs4 walks descendants without recursing
        return
    out.nesting += 1
    try:
        _walk_children(node, out, pre)
    finally:
        out.nesting -= 1


def _walk_children(node: Tag, out: _Lines, pre: bool) -> None:
    for child in node.children:
        if isinstance(child, NavigableString):
            if isinstance(child, _SKIPPED_STRINGS):
                continue
            if pre:
                _pre_text(str(child), out)
            else:
                out.text(str(child))
            continue
        if not isinstance(child, Tag):
            continue
        name = child.name
        if name in _DROP:
            continue
        style = child.get("style")
        if isinstance(style, str) and _HIDDEN.search(style):
            continue
        if child.has_attr("hidden"):
            continue
        if name == "br":
            if out.has_text:
                out.newline()
            else:
                # <div><br></div>: an empty line, as Gmail and Outlook write them.
                out.clear()
                out.blank_line()
            continue
        if name == "img":
            alt = child.get("alt")
            if isinstance(alt, str) and alt.strip():
                out.text(f"[{alt.strip()}]")
            continue
        if name == "hr":
            out.blank()
            out.raw_line("---")
            out.blank()
            continue
        if name == "blockquote":
            _nested(child, out, "depth", pre)
            continue
        if name == "a":
            _link(child, out, pre)
            continue
        if name == "li":
            out.newline()
            out.text("- ")
            _walk(child, out, pre)
            out.newline()
            continue
        if name in ("td", "th"):
            if out.has_text:
                out.text(" | ")
            _walk(child, out, pre)
            continue
        if name == "pre":
            _nested(child, out, "pre", True)
            continue
        if name in _PARAGRAPH:
            out.blank()
            _walk(child, out, pre)
            out.blank()
            continue
        if name in _BLOCK:
            out.newline()
            _walk(child, out, pre)
            out.newline()
            continue
        _walk(child, out, pre)


def _pre_text(s: str, out: _Lines) -> None:
    for i, part in enumerate(s.split("\n")):
        if i:
            # Keep preformatted spacing: every line break is a line, empty ones included.
            line = "".join(out.current)
            out.clear()
            out.lines.append("> " * min(out.depth, _MAX_QUOTE_DEPTH) + line.rstrip())
        if part:
            out.text(part)


def _nested(node: Tag, out: _Lines, level: Literal["depth", "pre"], pre: bool) -> None:
    """A block set apart by blank lines, one `level` deeper inside (a quote, preformatted)."""
    out.blank()
    setattr(out, level, getattr(out, level) + 1)
    _walk(node, out, pre)
    out.newline()
    setattr(out, level, getattr(out, level) - 1)
    out.blank()


def _link(a: Tag, out: _Lines, pre: bool) -> None:
    start = len(out.current)
    _walk(a, out, pre)
    text = _SPACES.sub(" ", "".join(out.current[start:])).strip()
    href = a.get("href")
    if not isinstance(href, str):
        return
    href = href.strip()
    if not href or href.startswith("#") or href.lower().startswith("javascript:"):
        return
    shown = href[7:] if href.lower().startswith("mailto:") else href
    if not text:
        out.text(shown)
    elif shown.rstrip("/") != text.rstrip("/"):
        out.text(f" ({shown})")
