"""The HTML allowlist of outbound mail, and the cleaning that enforces it.

Templates are written by users and filled with data from outside, so both are untrusted.
What reaches a recipient's HTML is limited to:

- ``ALLOWED_TAGS``: text structure Markdown produces (paragraphs, headings, lists, tables,
  code, quotes, links, images, emphasis) and nothing that runs, loads frames, submits forms
  or restyles the page (no ``script``, ``style``, ``iframe``, ``form``, ``object``...);
- ``ALLOWED_ATTRIBUTES``: per tag, only descriptive attributes (``href``, ``src``, ``alt``,
  ``title``, table alignment and spans, list ``start``, code ``class`` for the language);
  never event handlers (``on*``) nor ``style``;
- ``ALLOWED_PROTOCOLS``: links and images may only point to ``http``, ``https`` or
  ``mailto`` (or be relative); ``javascript:``, ``data:``, ``vbscript:``... are removed.

Elements in ``DROP_WITH_CONTENT`` disappear with their content (a stripped ``<script>``
would otherwise leave its code behind as text); other disallowed tags are removed and
their text kept. Everything removed is reported, so an author sees why.
"""

from __future__ import annotations

import html
import re
import threading
from collections.abc import Iterable
from html.parser import HTMLParser
from urllib.parse import urlsplit

import bleach

ALLOWED_TAGS: frozenset[str] = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "del", "div", "dl",
        "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li",
        "ol", "p", "pre", "s", "small", "span", "strong", "sub", "sup", "table", "tbody",
        "td", "tfoot", "th", "thead", "tr", "u", "ul",
    }
)  # fmt: skip

ALLOWED_ATTRIBUTES: dict[str, frozenset[str]] = {
    "a": frozenset({"href", "title"}),
    "abbr": frozenset({"title"}),
    "img": frozenset({"src", "alt", "title", "width", "height"}),
    "th": frozenset({"align", "colspan", "rowspan"}),
    "td": frozenset({"align", "colspan", "rowspan"}),
    "ol": frozenset({"start"}),
    "code": frozenset({"class"}),
}

ALLOWED_PROTOCOLS: frozenset[str] = frozenset({"http", "https", "mailto"})

# Attributes holding a URL: their value must use an allowed protocol.
URL_ATTRIBUTES: frozenset[str] = frozenset({"href", "src"})

DROP_WITH_CONTENT: frozenset[str] = frozenset(
    {"script", "style", "iframe", "object", "embed", "noscript", "template", "svg", "math"}
)

_DROP_RE = re.compile(
    r"<(" + "|".join(sorted(DROP_WITH_CONTENT)) + r")\b[^<>]*+>.*?(?:</\1\s*>|\Z)",
    re.IGNORECASE | re.DOTALL,
)
# Every pattern here is linear on any text: no part of a match can rescan what another start
# already covered ("[^<>]" stops at the next tag, "[^\]\n]" at the line's end).
# A tag as written in Markdown source; `<https://x>` and `<a@b.c>` autolinks do not match.
_TAG_RE = re.compile(r"<!--.*?(?:-->|\Z)|</?[A-Za-z][A-Za-z0-9-]*+(?:\s[^<>]*+)?/?>", re.DOTALL)
# Markdown inline link/image targets: ](target) and reference definitions: [x]: target
_MD_LINK_RE = re.compile(r"(\]\(\s*<?)([^)\s>]*)")
_MD_REF_RE = re.compile(r"^([ \t]{0,3}\[[^\]\n]++\]:[ \t]*+<?)(\S+?)(>?)(?=\s|$)", re.MULTILINE)


def is_safe_url(url: str) -> bool:
    """True for relative URLs and absolute ones whose scheme is in ALLOWED_PROTOCOLS."""
    # Browsers ignore control characters and whitespace inside a scheme ("java\tscript:").
    compact = re.sub(r"[\x00-\x20\x7f]+", "", html.unescape(url))
    if ":" not in compact.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]:
        return True
    try:
        scheme = urlsplit(compact).scheme.lower()
    except ValueError:
        return False
    return scheme in ALLOWED_PROTOCOLS


class _Auditor(HTMLParser):
    """Lists what cleaning will remove, in words an author understands."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.removed: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.removed.append(f"<{tag}> element removed")
            return
        allowed = ALLOWED_ATTRIBUTES.get(tag, frozenset())
        for name, value in attrs:
            if name not in allowed:
                self.removed.append(f"{name!r} attribute removed from <{tag}>")
            elif name in URL_ATTRIBUTES and value is not None and not is_safe_url(value):
                self.removed.append(f"unsafe link {_shorten(value)!r} removed from <{tag}>")

    def handle_comment(self, data: str) -> None:
        self.removed.append("HTML comment removed")


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Cleaners(threading.local):
    """bleach Cleaners are costly to build and not thread-safe: one per thread."""

    def __init__(self) -> None:
        self.cleaner = bleach.Cleaner(
            tags=ALLOWED_TAGS,
            attributes=_check_attribute,
            protocols=ALLOWED_PROTOCOLS,
            strip=True,
            strip_comments=True,
        )


def _check_attribute(tag: str, name: str, value: str) -> bool:
    if name not in ALLOWED_ATTRIBUTES.get(tag, ()):
        return False
    return name not in URL_ATTRIBUTES or is_safe_url(value)


_cleaners = _Cleaners()


def clean_html(fragment: str) -> tuple[str, list[str]]:
    """The fragment reduced to the allowlist, and what was removed (one line per removal)."""
    auditor = _Auditor()
    auditor.feed(fragment)
    auditor.close()
    removed = list(auditor.removed)
    fragment = _DROP_RE.sub("", fragment)
    return _cleaners.cleaner.clean(fragment), removed


def strip_markup(markdown: str) -> tuple[str, list[str]]:
    """Markdown source fit for text/plain: HTML tags and unsafe link targets removed.

    The text keeps its Markdown (readable as is); inline HTML would only be noise there, and
    a ``javascript:`` target must not survive in any part.
    """
    removed: list[str] = []

    def drop_url(match: re.Match[str]) -> str:
        if is_safe_url(match.group(2)):
            return match.group(0)
        removed.append(f"unsafe link {_shorten(match.group(2))!r} removed")
        return match.group(1)

    text = _DROP_RE.sub("", markdown)
    text = _TAG_RE.sub("", text)
    text = _MD_LINK_RE.sub(drop_url, text)
    text = _MD_REF_RE.sub(drop_url, text)
    return text, removed


def escape(value: str) -> str:
    """A value as inert HTML text (quotes included, so it is safe in attributes too)."""
    return html.escape(value, quote=True)


def dedupe(items: Iterable[str]) -> list[str]:
    """Items in first-seen order, once each."""
    return list(dict.fromkeys(items))
