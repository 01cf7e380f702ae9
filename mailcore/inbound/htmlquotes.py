"""The markup mail clients put around the message they quote in an HTML reply.

`quote_markup` names the client whose quote starts at an element, from the element's tag and
attributes; htmltext's walk asks it of every element with attributes, so that quoting can cut
the reply where the quoted message starts. Each marker says where its markup is documented.

Clients that quote in a plain ``<blockquote>`` under an attribution line (Yandex, Naver; QQ
Mail under its ``------------------ 原始邮件 ------------------`` block) have no markup of
their own to look for: their history is found in the text, as ``>`` lines under a header.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["quote_markup"]

# class (a substring of the lowercased class attribute) -> client.
_QUOTE_CLASSES = {
    # Gmail: <div class="gmail_quote"> around the attribution and the quote (talon
    # html_quotations.cut_gmail_quote; Proton Mail's BLOCKQUOTE_SELECTORS).
    "gmail_quote": "Gmail gmail_quote",
    # Yahoo: <div class="yahoo_quoted">, prefixed by the webmail ("ydp5c3e9a12yahoo_quoted")
    # (talon cut_yahoo_quote; Proton Mail's BLOCKQUOTE_SELECTORS).
    "yahoo_quoted": "Yahoo yahoo_quoted",
    # Yahoo Mail for iOS: <blockquote class="iosymail"> (Proton Mail for Android,
    # ExtractMessageBodyWithoutQuote's quoteDescriptors).
    "iosymail": "Yahoo Mail for iOS iosymail",
    # Thunderbird: <div class="moz-cite-prefix"> holds the attribution above
    # <blockquote type="cite"> (Proton Mail's BLOCKQUOTE_SELECTORS; Infomaniak Mail's
    # quoteDescriptors, "Mozilla Thunderbird").
    "moz-cite-prefix": "Thunderbird moz-cite-prefix",
    # ProtonMail: <div class="protonmail_quote"> (Proton Mail's own BLOCKQUOTE_SELECTORS).
    "protonmail_quote": "ProtonMail protonmail_quote",
    # Zoho Mail: <div class="zmail_extra"> (Proton Mail's selectors, "zoho").
    "zmail_extra": "Zoho zmail_extra",
    # Outlook and Hotmail: <div class="OutlookMessageHeader"> (a webmail's MAIL_QUOTE_SELECTORS,
    # "Outlook and Hotmail").
    "outlookmessageheader": "Outlook OutlookMessageHeader",
    # mail.ru: <div class="mail-quote-collapse"><blockquote data-o-mail-quote-node ...> with
    # the attribution inside ("Понедельник, 21 сентября 2026, 09:54 +10:00 от …:"); mail.ru's
    # reader script (patron.Utils.Message.prepareQuotes) folds exactly that class, and its HTML
    # filter keeps the classes mail-quote-collapse and mailru-blockquote.
    "mail-quote-collapse": "mail.ru mail-quote-collapse",
}
# id (lowercased; matched at its end, as Gmail and Outlook prefix the ids of the HTML they
# quote: "gmail-m_4228553645585852321isReplyContent", "x_divRplyFwdMsg") -> client.
_QUOTE_IDS = {
    # Outlook desktop and Outlook on the web: <div id="divRplyFwdMsg"> holds the header block,
    # <div id="appendonsend"> comes before it (Proton Mail's selectors; Outlook replies in
    # public mailing-list archives; a helpdesk's QUOTE_MARKERS list both).
    "divrplyfwdmsg": "Outlook divRplyFwdMsg",
    "appendonsend": "Outlook appendonsend",
    # Outlook for iOS/Android and the new Outlook: <div id="mail-editor-reference-message-
    # container" class="ms-outlook-mobile-reference-message"> around the rule and header block
    # (Outlook replies in public mailing-list archives, e.g. amd-gfx, qemu-devel).
    "mail-editor-reference-message-container": "Outlook mail-editor-reference-message-container",
    # Outlook for Mac: <span id="OLK_SRC_BODY_SECTION"> (the same QUOTE_MARKERS list).
    "olk_src_body_section": "Outlook for Mac OLK_SRC_BODY_SECTION",
    # Zimbra: <hr id="zwchr" data-marker="__DIVIDER__"> (talon cut_zimbra_quote; Zimbra
    # replies in public archives).
    "zwchr": "Zimbra zwchr",
    # NetEase (163.com, 126.com) and QQ Mail/Foxmail: <blockquote id="isReplyContent"> under
    # an "At 2024-03-06 04:43:30, "Name" <addr> wrote:" line, <div id="isForwardContent">
    # around a forward (Proton Mail's BLOCKQUOTE_SELECTORS: blockquote[id=isReplyContent],
    # div[id=isForwardContent]; NetEase replies in public mailing-list archives).
    "isreplycontent": "NetEase / QQ Mail isReplyContent",
    "isforwardcontent": "NetEase / QQ Mail isForwardContent",
}
# Zimbra marks its divider and the quoted text (talon cut_zimbra_quote).
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
    if len(attrs) == 1 and tag != "div" and "style" in attrs:
        return None  # most elements: a style, which marks a quote on a div only
    classes = attrs.get("class")
    if classes:
        low = classes.lower()
        for name, markup in _QUOTE_CLASSES.items():
            if name in low:
                return markup
    ident = attrs.get("id")
    if ident:
        low = ident.lower()
        for name, markup in _QUOTE_IDS.items():
            if low.endswith(name):
                return markup
    if tag == "blockquote" and (attrs.get("type") or "").lower() == "cite":
        # Apple Mail and Thunderbird (Infomaniak Mail's quoteDescriptors, "macOS and iOS mail
        # client"; Proton Mail's BLOCKQUOTE_SELECTORS).
        return 'Apple Mail / Thunderbird <blockquote type="cite">'
    if attrs.get("data-marker") in _ZIMBRA_MARKERS:
        return "Zimbra data-marker"
    style = attrs.get("style")
    if style and tag == "div" and "border-top" in style:
        flat = style.lower().replace(" ", "")
        if any(rule in flat for rule in _OUTLOOK_RULES):
            return "Outlook header rule (border-top)"
    return None
