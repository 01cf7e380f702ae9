"""Each mail client's HTML reply (tests/fixtures/html_quotes/) is cut where its quote starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailcore.inbound.extract import extract
from mailcore.inbound.htmlquotes import quote_markup
from mailcore.inbound.quoting import ReplyConfidence
from tests.mailcore.inbound.test_quoting_html import _html_mail

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "html_quotes"
# fixture -> the markup the cut names (None: the client has none, its quote header is text).
CLIENTS = {
    "gmail": "Gmail gmail_quote",
    "outlook": "Outlook appendonsend",
    "outlook_mobile": "Outlook mail-editor-reference-message-container",
    "apple_mail": 'Apple Mail / Thunderbird <blockquote type="cite">',
    "thunderbird": "Thunderbird moz-cite-prefix",
    "yahoo": "Yahoo yahoo_quoted",
    "yahoo_ios": "Yahoo Mail for iOS iosymail",
    "protonmail": "ProtonMail protonmail_quote",
    "zimbra": "Zimbra zwchr",
    "mailru": "mail.ru mail-quote-collapse",
    "netease": "NetEase / QQ Mail isReplyContent",
    "qq_mail": None,
}


def test_every_fixture_has_a_client() -> None:
    assert {p.stem for p in FIXTURES.glob("*.html")} == set(CLIENTS)


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_the_reply_is_cut_at_the_clients_quote(client: str) -> None:
    html = (FIXTURES / f"{client}.html").read_text(encoding="utf-8")
    result = extract(_html_mail(html))
    assert result.text == "Plate: AB-123\nOwner: Jane"
    assert "Plate?" in result.quoted
    assert result.payload == {"plate": "AB-123", "owner": "Jane"}
    assert result.reply_confidence == ReplyConfidence.CERTAIN
    markup = CLIENTS[client]
    if markup is None:
        assert not result.reply_confidence_reason.startswith("HTML quote markup")
    else:
        assert result.reply_confidence_reason == f"HTML quote markup ({markup})"


@pytest.mark.parametrize(
    "ident", ["isReplyContent", "gmail-m_4228553645585852321isReplyContent", "x_isReplyContent"]
)
def test_an_id_prefixed_by_the_client_that_quoted_it_is_still_known(ident: str) -> None:
    # Gmail and Outlook rename the ids of the HTML they quote, keeping the end.
    assert quote_markup("blockquote", {"id": ident}) == "NetEase / QQ Mail isReplyContent"
    assert quote_markup("div", {"id": "x_divRplyFwdMsg"}) == "Outlook divRplyFwdMsg"


@pytest.mark.parametrize(
    "attrs",
    [{"id": "replycontent"}, {"class": "quote"}, {"id": "content"}, {"style": "border:1px"}],
)
def test_ordinary_attributes_are_no_quote_markup(attrs: dict[str, str]) -> None:
    assert quote_markup("div", attrs) is None
