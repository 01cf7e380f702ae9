"""Making a received HTML mail safe to show to an operator (pure functions).

Three layers protect the console: this module rebuilds the mail's HTML from an allowlist; the
HTML is served with `default-src 'none'` as its Content-Security-Policy; and it is shown in an
iframe sandboxed without scripts or same-origin rights. This first layer must be inert on its
own: the mail is parsed with html5lib (the HTML5 parsing algorithm browsers use, so markup that
would mutate between two parsers, mXSS, is seen as the browser sees it), and the tree is written
out by our own serializer, which emits only allowlisted HTML elements and attributes, escapes
every text and attribute value, and never emits foreign content (svg, math) nor a raw-text
element other than a stylesheet stripped of `<`. Re-parsing the output therefore cannot produce
an element or attribute outside the allowlist, whatever the parser. Inline `cid:` images are
embedded as data: URIs so they display without any request leaving the frame.
"""

from __future__ import annotations

import base64
import functools
import html as htmllib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree

import html5lib
from flask_babel import get_locale
from flask_babel import gettext as _
from html5lib import treebuilders

log = logging.getLogger(__name__)

# Mail HTML past this many characters is cut before parsing: html5lib is pure Python (about
# 1.5 s per MB of ordinary mail, 8 s per MB of hostile <a>x<a>x... on the CI machine) and no
# operator reads further.
MAX_HTML_CHARS = 512 * 1024
# Elements nested deeper than this make the mail show as plain text: the HTML5 tree algorithm
# scans the stack of open elements, so deep nesting is quadratic (250 KB of <div> took 450 s).
# Chromium itself flattens the DOM past 512 levels; real mails stay under 60.
MAX_HTML_DEPTH = 256
MAX_INLINE_IMAGE = 3 * 1024 * 1024

_HTML_NS = "{http://www.w3.org/1999/xhtml}"

# HTML elements written out as they are (with allowlisted attributes only).
_KEEP = frozenset(
    {
        "a", "abbr", "acronym", "address", "article", "aside", "b", "bdi", "bdo", "big",
        "blockquote", "br", "caption", "center", "cite", "code", "col", "colgroup", "dd", "del",
        "details", "dfn", "div", "dl", "dt", "em", "fieldset", "figcaption", "figure", "font",
        "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "i", "img", "ins", "kbd",
        "label", "legend", "li", "main", "mark", "nav", "ol", "p", "pre", "q", "rp", "rt",
        "ruby", "s", "samp", "section", "small", "span", "strike", "strong", "style", "sub",
        "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "time", "tr", "tt",
        "u", "ul", "var", "wbr", "input",
    }
)  # fmt: skip
# Elements kept for their content under a harmless name (their behaviour or parsing mode goes).
_RENAME = {
    "body": "div", "form": "div", "button": "span", "select": "span", "option": "div",
    "optgroup": "div", "datalist": "div", "textarea": "pre", "xmp": "pre", "plaintext": "pre",
    "listing": "pre", "dialog": "div", "marquee": "div", "blink": "span", "nobr": "span",
    "output": "span", "meter": "span", "progress": "span", "search": "div", "menu": "ul",
    "dir": "ul",
}  # fmt: skip
# Elements dropped with their whole content: it runs, loads, or is not meant to be shown.
_DROP = frozenset(
    {
        "script", "noscript", "iframe", "frame", "frameset", "object", "embed", "applet",
        "link", "meta", "base", "template", "portal", "audio", "video", "source", "track",
        "title", "noembed", "noframes", "param", "area", "canvas", "slot", "head-title",
        "fencedframe", "image", "math", "svg", "selectedcontent",
    }
)  # fmt: skip
# Any other HTML element (custom elements, Office's o:p...) is unwrapped: its content stays.
_VOID = frozenset({"br", "col", "hr", "img", "input", "wbr"})
_ATTRS = frozenset(
    {
        "abbr", "align", "alt", "bgcolor", "border", "cellpadding", "cellspacing", "class",
        "clear", "color", "cols", "colspan", "datetime", "dir", "face", "frame", "headers",
        "height", "hspace", "id", "lang", "nowrap", "open", "reversed", "rows", "rowspan",
        "rules", "scope", "size", "span", "start", "style", "summary", "title", "valign",
        "value", "vspace", "width",
    }
)  # fmt: skip
_INPUT_TYPES = frozenset({"text", "checkbox", "radio", "submit", "reset", "button", "hidden"})
_LIST_TYPES = frozenset({"1", "a", "A", "i", "I", "disc", "circle", "square"})
# Attributes whose value makes the browser fetch something (or go somewhere).
_URL_ATTRS = frozenset(
    {
        "src", "href", "srcset", "background", "poster", "action", "formaction", "data", "cite",
        "longdesc", "lowsrc", "dynsrc", "ping", "manifest", "codebase", "archive", "usemap",
        "icon", "profile", "imagesrcset", "srcdoc",
    }
)  # fmt: skip
_NOT_A_LOAD = frozenset({"action", "formaction"})  # a dead form is not a remote reference
_SAFE_DATA_IMAGE = re.compile(
    r"data:image/(png|jpeg|jpg|gif|webp|bmp);base64,[A-Za-z0-9+/=\s]*", re.I
)
_CSS_URL = re.compile(r"url\s*\(\s*(['\"]?)(.*?)\1\s*\)", re.I | re.S)
_CSS_IMPORT = re.compile(r"@import[^;]*;?", re.I)
_CSS_ESCAPE = re.compile(r"\\[0-9a-f]{1,6}\s?|\\.", re.I | re.S)
# Whatever could still fetch after url() was handled: an unterminated url( (CSS closes it at
# the end of the sheet), src(), image("x"), image-set("x"), old IE and Mozilla hooks.
_CSS_FETCH = re.compile(
    r"[\w-]*(?:url|src|image|image-set|cross-fade|element|expression|binding)\s*\(", re.I
)
_UNSAFE_LINK = re.compile(r"^(javascript|data|vbscript):", re.I)


class _TooDeep(Exception):
    """The document nests elements past MAX_HTML_DEPTH."""


_EtreeBuilder: Any = treebuilders.getTreeBuilder("etree")


class _BoundedTreeBuilder(_EtreeBuilder):
    """html5lib's ElementTree builder, refusing to open elements past MAX_HTML_DEPTH.

    Every element the tree algorithm opens (parsed, implied or reconstructed) goes through
    these two methods, so the stack the algorithm scans never exceeds the limit."""

    def insertElementNormal(self, token: Any) -> Any:  # noqa: N802 - html5lib's naming
        if len(self.openElements) >= MAX_HTML_DEPTH:
            raise _TooDeep
        return super().insertElementNormal(token)

    def insertElementTable(self, token: Any) -> Any:  # noqa: N802 - html5lib's naming
        if len(self.openElements) >= MAX_HTML_DEPTH:
            raise _TooDeep
        return super().insertElementTable(token)


@dataclass
class SafeHtml:
    html: str
    blocked: list[str] = field(default_factory=list)  # remote URLs that were removed


def _css(text: str, blocked: list[str]) -> str:
    """CSS with every remote reference replaced by `none` (the removed targets go to blocked)."""
    # CSS escapes could spell "url(" in disguise; a mail's CSS never needs them.
    text = _CSS_ESCAPE.sub("", text.replace("\x00", ""))
    kept: list[str] = []

    def url(match: re.Match[str]) -> str:
        target = match.group(2).strip()
        if _SAFE_DATA_IMAGE.fullmatch(target):
            kept.append("url(" + "".join(target.split()) + ")")
            return f"\x00{len(kept) - 1}\x00"
        blocked.append(target)
        return "none"

    text = _CSS_IMPORT.sub("", text)
    text = _CSS_URL.sub(url, text)
    text = _CSS_FETCH.sub("none(", text)
    return re.sub("\x00([0-9]+)\x00", lambda m: kept[int(m.group(1))], text)


def _cid_uri(target: str, inline: Mapping[str, tuple[str, bytes]]) -> str | None:
    cid = target[4:].strip("<>").strip()
    found = inline.get(cid) or inline.get(cid.lower())
    if found is None:
        return None
    ctype, data = found
    if (
        not ctype.lower().startswith("image/")
        or "svg" in ctype.lower()
        or len(data) > MAX_INLINE_IMAGE
    ):
        return None
    return f"data:{ctype.lower()};base64,{base64.b64encode(data).decode('ascii')}"


def _attr_name(key: str) -> str:
    # html5lib writes foreign attributes as {namespace}local (xlink:href).
    return key.rsplit("}", 1)[-1].lower()


def _record_urls(element: ElementTree.Element, blocked: list[str]) -> None:
    """Note the remote references of a subtree that is dropped whole."""
    for node in element.iter():
        if not isinstance(node.tag, str):
            continue
        local = node.tag.rsplit("}", 1)[-1].lower()
        for key, value in node.attrib.items():
            name = _attr_name(key)
            if name == "href" and local in ("a", "area"):
                continue
            if name in _URL_ATTRS and name not in _NOT_A_LOAD:
                target = value.strip()
                if target and not target.startswith("#"):
                    blocked.append(target)


def _attributes(
    name: str,
    attrib: Mapping[str, str],
    inline: Mapping[str, tuple[str, bytes]],
    blocked: list[str],
) -> dict[str, str]:
    """The allowlisted attributes of an element, URLs neutralised and styles cleaned."""
    out: dict[str, str] = {}
    for key, raw in attrib.items():
        attr = _attr_name(key)
        value = raw.strip()
        if attr == "style":
            out["style"] = _css(raw, blocked)
        elif attr == "type":
            if name == "input" and value.lower() in _INPUT_TYPES:
                out["type"] = value.lower()
            elif name in ("ol", "ul", "li") and value in _LIST_TYPES:
                out["type"] = value
        elif attr == "src" and name == "img" and value.lower().startswith("cid:"):
            uri = _cid_uri(value, inline)
            if uri is not None:
                out["src"] = uri
        elif attr == "src" and name == "img" and _SAFE_DATA_IMAGE.fullmatch(value):
            out["src"] = value
        elif attr == "href" and name == "a":
            # Links stay readable but cannot be followed.
            if value and not _UNSAFE_LINK.match(re.sub(r"[\x00-\x20]+", "", value)):
                out["title"] = _notes()[0] % {"url": value}
        elif attr in _URL_ATTRS:
            if value and not value.startswith("#") and attr not in _NOT_A_LOAD:
                blocked.append(value)
                if name == "img" and attr == "src":
                    out["alt"] = _notes()[1] % {"alt": attrib.get("alt", "")}
        elif attr in _ATTRS and attr not in out:
            out[attr] = raw
    if name == "input":
        out["disabled"] = ""
    return out


def _notes() -> tuple[str, str]:
    """The notes on links and remote images, in the reader's language: looked up once per
    language, not once per element (a hostile mail may hold a hundred thousand links)."""
    return _notes_in(str(get_locale() or ""))


@functools.lru_cache(maxsize=16)
def _notes_in(_language: str) -> tuple[str, str]:
    return _("Link (not followed): %(url)s"), _("[remote image blocked: %(alt)s]")


def _start_tag(name: str, attrs: Mapping[str, str]) -> str:
    parts = [name]
    for key, value in attrs.items():
        parts.append(f'{key}="{htmllib.escape(value, quote=True)}"')
    return "<" + " ".join(parts) + ">"


def _serialize(root: ElementTree.Element, inline: Mapping[str, tuple[str, bytes]]) -> SafeHtml:
    """Write the tree out through the allowlist; iterative, so any depth is fine."""
    blocked: list[str] = []
    out: list[str] = []
    # Work items: an element to write, or a literal string (closing tag, escaped tail).
    stack: list[ElementTree.Element | str] = [root]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
            continue
        if item.tail:
            stack.append(htmllib.escape(item.tail, quote=False))
        if not isinstance(item.tag, str):  # a comment: conditional ones hide markup
            continue
        namespace, _, local = item.tag.rpartition("}")
        if namespace + "}" != _HTML_NS or local in _DROP:
            _record_urls(item, blocked)
            continue
        name = _RENAME.get(local, local)
        text = item.text or ""
        if local == "style":
            # Raw text in HTML: no "<" may remain, so "</style" cannot end it early.
            out.append("<style>" + _css(text, blocked).replace("<", "") + "</style>")
            continue
        if name in _KEEP:
            out.append(_start_tag(name, _attributes(local, item.attrib, inline, blocked)))
            if name in _VOID:
                text = ""
            else:
                stack.append(f"</{name}>")
                if name == "pre" and text.startswith("\n"):
                    text = "\n" + text  # the parser eats one newline after <pre>
        elif local not in ("html", "head"):
            _record_urls_of_unwrapped(item, blocked)
        stack.extend(reversed(list(item)))
        if text:
            out.append(htmllib.escape(text, quote=False))
    return SafeHtml(html="".join(out), blocked=blocked)


def _record_urls_of_unwrapped(element: ElementTree.Element, blocked: list[str]) -> None:
    for key, value in element.attrib.items():
        name = _attr_name(key)
        target = value.strip()
        if name in _URL_ATTRS and name not in _NOT_A_LOAD and target and target[0] != "#":
            blocked.append(target)


def _as_text(html: str) -> SafeHtml:
    """The fallback for a document too deep to parse: its text, escaped, nothing else."""
    text = htmllib.unescape(re.sub(r"<[^>]*>?", " ", html))
    escaped = htmllib.escape(re.sub(r"[ \t]+", " ", text), quote=False)
    return SafeHtml(html=f'<pre style="white-space:pre-wrap">{escaped}</pre>')


def safe_html(html: str, inline: Mapping[str, tuple[str, bytes]] | None = None) -> SafeHtml:
    """HTML with scripts, handlers, forms and remote references removed; cid: images embedded.

    `inline` maps Content-ID (without angle brackets) to (content type, bytes). The result is
    a fragment for the body of a document (see frame_document). Past MAX_HTML_CHARS the HTML
    is cut; nested past MAX_HTML_DEPTH it is shown as text.
    """
    if len(html) > MAX_HTML_CHARS:
        log.info("mail HTML of %d characters cut to %d", len(html), MAX_HTML_CHARS)
        html = html[:MAX_HTML_CHARS]
    try:
        root = html5lib.HTMLParser(tree=_BoundedTreeBuilder).parse(html)
    except _TooDeep:
        log.info("mail HTML nests deeper than %d elements: shown as text", MAX_HTML_DEPTH)
        return _as_text(html)
    return _serialize(root, inline or {})


def frame_document(safe: SafeHtml) -> str:
    """A complete document for the sandboxed frame."""
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        '<meta name="referrer" content="no-referrer"></head><body>' + safe.html + "</body></html>"
    )
