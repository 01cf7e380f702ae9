"""Making a received HTML mail safe to show to an operator (pure functions).

Three layers protect the console: this module removes active content and remote references
server-side; the HTML is served with `default-src 'none'` as its Content-Security-Policy; and it
is shown in an iframe sandboxed without scripts or same-origin rights. Inline `cid:` images are
embedded as data: URIs so they display without any request leaving the frame.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from bs4 import BeautifulSoup, Comment, Tag

# Elements whose whole content is active or pulls something in.
_DROP = {
    "script", "noscript", "iframe", "frame", "frameset", "object", "embed", "applet",
    "link", "meta", "base", "template", "portal", "audio", "video", "source", "track",
}  # fmt: skip
# Elements kept for their content but stripped of their behaviour.
_NEUTRALISE = {"form": "div", "button": "span", "input": None, "select": None, "textarea": None}
_URL_ATTRS = {
    "src", "href", "srcset", "background", "poster", "action", "formaction", "data", "cite",
    "longdesc", "lowsrc", "dynsrc", "xlink:href", "ping", "manifest", "codebase", "archive",
    "usemap", "icon", "profile", "imagesrcset",
}  # fmt: skip
_SAFE_DATA_IMAGE = re.compile(r"^data:image/(png|jpeg|jpg|gif|webp|bmp);base64,", re.I)
_CSS_URL = re.compile(r"url\s*\(\s*(['\"]?)(.*?)\1\s*\)", re.I | re.S)
_CSS_IMPORT = re.compile(r"@import[^;]*;?", re.I)
_CSS_ESCAPE = re.compile(r"\\[0-9a-f]{1,6}\s?|\\.", re.I)
MAX_INLINE_IMAGE = 3 * 1024 * 1024


@dataclass
class SafeHtml:
    html: str
    blocked: list[str] = field(default_factory=list)  # remote URLs that were removed


def _css(text: str, blocked: list[str]) -> str:
    # CSS escapes could spell "url(" in disguise; a mail's CSS never needs them.
    text = _CSS_ESCAPE.sub("", text)

    def url(match: re.Match[str]) -> str:
        target = match.group(2).strip()
        if _SAFE_DATA_IMAGE.match(target):
            return match.group(0)
        blocked.append(target)
        return "none"

    text = _CSS_IMPORT.sub("", text)
    text = _CSS_URL.sub(url, text)
    # Anything url-like that survived (e.g. image-set("x")) goes too.
    return re.sub(r"(image-set|expression|-moz-binding)\s*\(", "none(", text, flags=re.I)


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


def safe_html(html: str, inline: Mapping[str, tuple[str, bytes]] | None = None) -> SafeHtml:
    """HTML with scripts, handlers, forms and remote references removed; cid: images embedded.

    `inline` maps Content-ID (without angle brackets) to (content type, bytes).
    """
    inline = inline or {}
    blocked: list[str] = []
    soup = BeautifulSoup(html, "lxml")
    for comment in soup.find_all(string=lambda s: isinstance(s, Comment)):
        comment.extract()  # conditional comments can hide markup from the parser
    for tag in list(soup.find_all(True)):
        if not isinstance(tag, Tag) or tag.decomposed:
            continue
        name = (tag.name or "").lower()
        if name in _DROP or ":" in name:  # namespaced oddities (v:image, o:p with src)
            for attr in ("src", "href", "data"):
                value = tag.get(attr)
                if isinstance(value, str) and value.strip().lower().startswith(("http", "//")):
                    blocked.append(value.strip())
            if name in _DROP:
                tag.decompose()
                continue
        if name in _NEUTRALISE:
            replacement = _NEUTRALISE[name]
            if replacement is None:
                tag.attrs = {k: v for k, v in tag.attrs.items() if k in ("value", "type")}
            else:
                tag.name = replacement
        for attr in list(tag.attrs):
            key = attr.lower()
            value = tag.attrs[attr]
            text = " ".join(value) if isinstance(value, list) else str(value)
            if key.startswith("on") or key in ("formaction", "action", "http-equiv"):
                del tag.attrs[attr]
            elif key == "style":
                tag.attrs[attr] = _css(text, blocked)
            elif key in _URL_ATTRS or key.endswith(":href"):
                del tag.attrs[attr]
                target = text.strip()
                if key == "src" and target.lower().startswith("cid:"):
                    uri = _cid_uri(target, inline)
                    if uri is not None:
                        tag.attrs["src"] = uri
                        continue
                if key == "src" and _SAFE_DATA_IMAGE.match(target):
                    tag.attrs["src"] = target
                    continue
                if key == "href" and name in ("a", "area"):
                    # Links stay readable but cannot be followed from inside the frame.
                    if target and not target.lower().startswith(
                        ("javascript:", "data:", "vbscript:")
                    ):
                        tag.attrs["title"] = f"Link (not followed): {target}"
                    continue
                if target and not target.startswith("#"):
                    blocked.append(target)
                    if name == "img":
                        tag.attrs["alt"] = f"[remote image blocked: {tag.attrs.get('alt', '')}]"
        if name == "style":
            tag.string = _css(tag.get_text(), blocked)
    body = str(soup)
    return SafeHtml(html=body, blocked=blocked)


def frame_document(safe: SafeHtml) -> str:
    """A complete document for the sandboxed frame."""
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        '<meta name="referrer" content="no-referrer"></head><body>' + safe.html + "</body></html>"
        if not safe.html.lstrip().lower().startswith(("<html", "<!doctype"))
        else safe.html
    )
