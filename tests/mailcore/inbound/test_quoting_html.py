"""HTML-only replies: the quote is cut where the sending client's markup says it starts."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailcore.inbound.extract import extract
from mailcore.inbound.htmltext import QuoteStart, html_to_text
from mailcore.inbound.quoting import ReplyConfidence

ANSWER = "<div>Plate: AB-123</div><div>Owner: Jane</div>"
QUOTES = {
    "Gmail": '<div class="gmail_quote gmail_quote_container"><div dir="ltr" class="gmail_attr">'
    "On Mon, Mar 4, 2024 at 5:02 PM Desk &lt;desk@example.com&gt; wrote:<br></div>"
    '<blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex">Plate?</blockquote></div>',
    "Outlook": '<hr style="display:inline-block;width:98%"><div id="divRplyFwdMsg" dir="ltr">'
    "<b>From:</b> Desk<br><b>Sent:</b> Monday<br><b>To:</b> Jane</div><div>Plate?</div>",
    "Apple Mail": '<div><br><blockquote type="cite"><div>On 4 Mar 2024, at 17:02, Desk '
    "wrote:</div><div>Plate?</div></blockquote></div>",
    "Thunderbird": '<div class="moz-cite-prefix">Am 04.03.24 um 17:02 schrieb Desk:<br></div>'
    '<blockquote type="cite">Plate?</blockquote>',
    "Yahoo": '<div class="yahoo_quoted"><div>On Monday, 4 March 2024, Desk wrote:</div>'
    "<div>Plate?</div></div>",
    "ProtonMail": '<div class="protonmail_quote">------- Original Message -------<br>Plate?</div>',
    "Zimbra": '<hr id="zwchr" data-marker="__DIVIDER__"><div data-marker="__HEADERS__">'
    '<b>De: </b>Desk<br></div><div data-marker="__QUOTED_TEXT__">Plate?</div>',
    "Outlook 2016 (border-top rule)": '<div><div style="border:none;border-top:solid #E1E1E1'
    ' 1.0pt;padding:3.0pt 0cm 0cm 0cm"><p class="MsoNormal"><b>From:</b> Desk<br><b>Sent:</b>'
    " Monday<br><b>To:</b> Jane</p></div></div><p>Plate?</p>",
    "Yahoo (prefixed class)": '<div class="ydp5c3e9a12yahoo_quoted" id="ydp5c3e9a12yahoo_quoted_1">'
    "<div>On Thursday, March 4, 2024 at 11:30:41 AM EDT, Desk &lt;d@example.com&gt; wrote:</div>"
    "<div>Plate?</div></div>",
    "Zoho": '<div class="zmail_extra"><div>---- On Mon, 04 Mar 2024 17:02:00 +0100 '
    "<b>Desk</b> wrote ----</div><blockquote>Plate?</blockquote></div>",
}


def _html_mail(html: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "jane@customer.example"
    msg["To"] = "fleet@example.com"
    msg["Subject"] = "Re: plate"
    msg.set_content(f"<html><body>{html}</body></html>", subtype="html")
    return msg.as_bytes()


@pytest.mark.parametrize("client", sorted(QUOTES))
def test_html_reply_is_cut_at_the_quote_markup(client: str) -> None:
    result = extract(_html_mail(ANSWER + QUOTES[client]))
    assert result.text == "Plate: AB-123\nOwner: Jane"
    assert "Plate?" in result.quoted
    assert result.payload == {"plate": "AB-123", "owner": "Jane"}
    assert result.reply_confidence == ReplyConfidence.CERTAIN


def test_quote_start_is_the_line_of_the_markup() -> None:
    quote = QuoteStart()
    text = html_to_text(ANSWER + QUOTES["Gmail"], quote_start=quote)
    assert quote.cut() is not None
    line, markup = quote.cut() or (0, "")
    assert text.splitlines()[line].startswith("On Mon, Mar 4")
    assert "gmail_quote" in markup


def test_a_gmail_forward_inside_gmail_quote_is_read_as_a_forward() -> None:
    html = (
        '<div>Please handle</div><div class="gmail_quote"><div>---------- Forwarded message'
        " ---------<br>From: <b>Jane</b> &lt;jane@customer.example&gt;<br>Date: Mon, Mar 4, 2024"
        "<br>Subject: Plate<br>To: &lt;fleet@example.com&gt;<br></div><br><div>Plate: AB-123"
        "</div></div>"
    )
    result = extract(_html_mail(html))
    assert result.text == "Please handle"
    assert result.forwarded is not None
    assert result.forwarded.text == "Plate: AB-123"


def test_a_bare_forward_takes_its_payload_from_the_forwarded_message() -> None:
    msg = EmailMessage()
    msg["From"] = "boss@example.com"
    msg["Subject"] = "Fwd: plate"
    msg.set_content(
        "---------- Forwarded message ---------\nFrom: Jane <jane@customer.example>\n"
        "Date: Mon, Mar 4, 2024 at 5:02 PM\nSubject: plate\n\nPlate: AB-123\nOwner: Jane\n"
    )
    result = extract(msg.as_bytes())
    assert result.text == ""
    assert result.payload == {"plate": "AB-123", "owner": "Jane"}
    assert result.forwarded is not None and result.forwarded.subject == "plate"
    assert result.to_json()["forwarded"]["from"] == "Jane <jane@customer.example>"


def test_flowed_text_part_keeps_the_bottom_posted_answer() -> None:
    msg = EmailMessage()
    msg["From"] = "jane@customer.example"
    msg.set_content(
        "On 4 Mar 2024, Desk <d@example.com> wrote:\n> Which plate? \n> Thanks\nPlate: \nAB-123\n"
    )
    msg.set_param("format", "flowed")
    result = extract(msg.as_bytes())
    assert result.text == "Plate: AB-123"
    assert result.quoted.startswith("On 4 Mar 2024")


FORWARDS = {
    "Apple Mail (forward quoted in a blockquote)": (
        '<blockquote type="cite"><div>Begin forwarded message:</div><br>'
        '<div><b>From: </b>Jane Roe &lt;<a href="mailto:jane@customer.example">'
        "jane@customer.example</a>&gt;</div><div><b>Subject: </b><b>Plate</b></div>"
        "<div><b>Date: </b>March 4, 2024 at 17:02:25 GMT+1</div><br>"
        "<div>Plate: AB-123</div></blockquote>"
    ),
    "Thunderbird (header table)": (
        '<div class="moz-forward-container">-------- Forwarded Message --------'
        '<table class="moz-email-headers-table"><tr><th>Subject: </th><td>Plate</td></tr>'
        "<tr><th>Date: </th><td>Mon, 4 Mar 2024 17:02:27 +0100</td></tr><tr><th>From: </th>"
        '<td>Jane Roe <a href="mailto:jane@customer.example">&lt;jane@customer.example&gt;</a>'
        "</td></tr></table><br><div>Plate: AB-123</div></div>"
    ),
    "mail.ru": (
        "-------- Пересылаемое сообщение --------<br>От кого: Jane Roe"
        " &lt;jane@customer.example&gt;<br>Дата: Понедельник, 4 марта 2024, 17:02 +03:00<br>"
        'Тема: Plate<br><br><div class="js-helper"><div>Plate: AB-123</div></div>'
    ),
}


@pytest.mark.parametrize("client", sorted(FORWARDS))
def test_html_forwards_are_structured(client: str) -> None:
    result = extract(_html_mail("<div>FYI</div>" + FORWARDS[client]))
    assert result.text == "FYI"
    assert result.forwarded is not None
    assert result.forwarded.sender == "Jane Roe <jane@customer.example>"
    assert result.forwarded.subject == "Plate"
    assert result.forwarded.date.startswith(("March 4", "Mon, 4 Mar", "Понедельник"))
    assert result.forwarded.text == "Plate: AB-123"


_PIECES = st.sampled_from(
    ['<div class="gmail_quote">', "</div>", '<blockquote type="cite">', "</blockquote>", "<p>",
     "</p>", "<br>", '<div id="divRplyFwdMsg">', '<hr id="zwchr">', "text", "On Mon wrote:",
     "From: a@b.c", "<", ">", "&amp;", '<div style="border-top:solid #E1E1E1 1.0pt">', " "]
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.lists(_PIECES, max_size=40).map("".join))
def test_quote_start_on_tag_soup(html: str) -> None:
    quote = QuoteStart()
    text = html_to_text(html, quote_start=quote)
    cut = quote.cut()
    assert cut is None or 0 <= cut[0] < len(text.splitlines())
    assert text == html_to_text(html)  # noting the quote changes nothing in the text
