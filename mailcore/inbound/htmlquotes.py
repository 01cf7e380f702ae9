"""The markup mail clients put around the message they quote in an HTML reply.

`quote_markup` names the client whose quote starts at an element, from the element's tag and
attributes; htmltext's walk asks it of every element with attributes, so that quoting can cut
the reply where the quoted message starts. Each marker cites where its markup is documented.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["quote_markup"]

# class (a substring of the lowercased class attribute) -> client.
_QUOTE_CLASSES = {
    "gmail_quote": "Gmail gmail_quote",
    "yahoo_quoted": "Yahoo yahoo_quoted",
    "moz-cite-prefix": "Thunderbird moz-cite-prefix",
    "protonmail_quote": "ProtonMail protonmail_quote",
    "zmail_extra": "Zoho zmail_extra",
    "outlookmessageheader": "Outlook OutlookMessageHeader",
}
# id (lowercased, whole) -> client.
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


def quote_markup(tag: str, attrs: Mapping[str, str]) -> str | None:
    """The client whose quote starts at the element `tag` with `attrs`, if its markup says so."""
    classes = attrs.get("class")
    if classes:
        low = classes.lower()  # Yahoo prefixes its classes: "ydp9b1f0a55yahoo_quoted"
        for name, markup in _QUOTE_CLASSES.items():
            if name in low:
                return markup
    ident = attrs.get("id")
    if ident and ident.lower() in _QUOTE_IDS:
        return _QUOTE_IDS[ident.lower()]
    if tag == "blockquote" and (attrs.get("type") or "").lower() == "cite":
        return 'Apple Mail / Thunderbird <blockquote type="cite">'
    if attrs.get("data-marker") in _ZIMBRA_MARKERS:
        return "Zimbra data-marker"
    style = attrs.get("style")
    if style and tag == "div" and "border-top" in style:
        flat = style.lower().replace(" ", "")
        if any(rule in flat for rule in _OUTLOOK_RULES):
            return "Outlook header rule (border-top)"
    return None
