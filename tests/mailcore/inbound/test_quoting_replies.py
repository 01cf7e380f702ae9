"""split_reply on what the issue's public corpora showed missing: numeric and wrapped
attribution lines, bottom-posting, forwards, signatures, and how sure each cut is."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailcore.inbound.flowed import unflow
from mailcore.inbound.quoting import ReplyConfidence, split_reply
from mailcore.inbound.reply_words import LANGUAGES


@pytest.mark.parametrize(
    "header",
    [
        "2014-03-20 8:48 GMT+01:00 Desk <desk@example.com>:",
        "2014-10-17 11:28 GMT+03:00 Bob <\nbob@example.com>:",
        '20 окт. 2016 г. 19:37 пользователь "Desk" <desk@example.com> написал:',
        "Desk <desk@example.com> schrieb am Fr., 28. Apr. 2017 um 11:53 Uhr:",
        "tir. 18. apr. 2017 kl. 13:09 skrev Desk <desk@example.com>:",
        "在 2016年10月20日 19:37，Desk <desk@example.com> 写道：",
        '23 mar 2017 21:25 "Desk" <desk@example.com> napisał(a):',
        "W dniu 23.03.2017 o 21:25, Desk pisze:",
        "---- On Tue, 22 Dec 2015 14:17:36 +0530 Desk <desk@example.com> wrote ----",
        "- Le 4 mars 2024 à 17:02, Desk desk@example.com a écrit :",
        "At 6/16/2016 08:32 PM, you wrote:",
        "On Mon, Mar 4, 2024 at 5:02 PM Fleet desk of the\nnorthern depot"
        " <fleet@example.com>\nwrote:",
        "Thu, 26 Jun 2014 14:00:51 +0400 Bob <bob@example.com>:",
        '04.03.2024, 17:02, "Desk" <desk@example.com>:',
    ],
)
def test_attribution_lines_from_public_corpora(header: str) -> None:
    reply = split_reply(f"Answer: yes\n\n{header}\nOld question\n")
    assert reply.visible == "Answer: yes"
    assert reply.quoted.startswith(header.splitlines()[0].strip()[:12])
    assert reply.quoted.endswith("Old question")


@pytest.mark.parametrize(
    ("block", "sender"),
    [
        ("-------- Oprindelig besked --------\nFra: Desk <d@example.com>", "Desk <d@example.com>"),
        ("De : Desk <d@example.com>\nEnvoyé le : lundi 4 mars 2024 17:02\nÀ : Jo", ""),
        ("От: Desk <d@example.com>\nОтправлено: 4 марта 2024 г. 17:02\nКому: Jo", ""),
        ("发件人: Desk <d@example.com>\n发送时间: 2024年3月4日 17:02\n收件人: Jo", ""),
        ("------------------ 原始邮件 ------------------\n发件人: Desk <d@example.com>", ""),
    ],
)
def test_localized_outlook_blocks(block: str, sender: str) -> None:
    reply = split_reply(f"OK\n\n{block}\n\nold\n")
    assert reply.visible == "OK"
    assert reply.quoted.endswith("old")


def test_a_mail_starting_with_an_attribution_keeps_the_unquoted_text() -> None:
    text = "On Mon, Mar 4, 2024 at 5:02 PM Desk <desk@example.com> wrote:\n\nPlate: AB-123\n"
    reply = split_reply(text)
    assert reply.visible == "Plate: AB-123"
    assert reply.quoted.startswith("On Mon, Mar 4")
    assert reply.confidence == ReplyConfidence.UNSURE
    assert "attribution" in reply.reason


def test_flowed_quote_and_reply_stay_apart() -> None:
    # "> Hi " ends in a space (a soft break) but the next line is not quoted: RFC 3676 joins
    # only lines of the same quote depth.
    raw = "On 4 Mar 2024, Desk <d@example.com> wrote:\n> Hi \n> there\nHello \nworld\n"
    text = unflow(raw)
    assert text.splitlines() == [
        "On 4 Mar 2024, Desk <d@example.com> wrote:",
        "> Hi there",
        "Hello world",
    ]
    assert split_reply(text).visible == "Hello world"


def test_flowed_nested_depths_and_space_stuffing() -> None:
    assert unflow(">> a \n>> b\n> c \n> d\n e\n") == ">> a b\n> c d\ne"
    assert unflow("a \n-- \nsig", delsp=False) == "a -- \nsig"
    assert unflow("wo \nrd", delsp=True) == "word"


@pytest.mark.parametrize(
    "line",
    [
        "Sent from my Wiko RIDGE FAB 4G",
        "Sent from TypeApp",
        "Sent from Yahoo Mail for iPhone",
        "Envoyé à partir de Outlook pour iOS",
        "Sendt fra min iPad",
        "Skickat från min iPhone",
        "Von meinem Samsung Galaxy Smartphone gesendet",
        "Wysłane z mojego smartfona Huawei",
        "Enviado do meu iPhone",
        "Отправлено с iPhone",
        "iPhoneから送信",
        "내 iPhone에서 보냄",
        "发自我的iPhone",
        "從我的 iPhone 傳送",
        "Get Outlook for Android<https://aka.ms/ghei36>",
    ],
)
def test_mobile_signatures(line: str) -> None:
    reply = split_reply(f"Plate: AB-123\n\n{line}\n")
    assert reply.visible == "Plate: AB-123"
    assert reply.signature == line


@pytest.mark.parametrize(
    "text",
    [
        "Sent from my office the documents we discussed.",
        "Sent from the depot: two cars, one van",
        "Envoyé de mon bureau avec les documents demandés hier soir.",
        "Von meinem Urlaub aus habe ich das Formular gesendet, bitte prüfen Sie es heute noch.",
    ],
)
def test_sentences_are_not_signatures(text: str) -> None:
    assert split_reply(text).signature == ""


def test_gmail_forward_is_structured_and_its_marker_leaves_the_text() -> None:
    text = (
        "Please handle this one.\n\n"
        "---------- Forwarded message ---------\n"
        "From: Jane Roe <jane@customer.example>\n"
        "Date: Mon, Mar 4, 2024 at 5:02 PM\n"
        "Subject: Plate change\n"
        "To: <fleet@example.com>\n\n"
        "Plate: AB-123\nOwner: Jane Roe\n"
    )
    reply = split_reply(text)
    assert reply.visible == "Please handle this one."
    assert "Forwarded message" not in reply.visible
    assert reply.forwarded is not None
    assert reply.forwarded.sender == "Jane Roe <jane@customer.example>"
    assert reply.forwarded.date == "Mon, Mar 4, 2024 at 5:02 PM"
    assert reply.forwarded.subject == "Plate change"
    assert reply.forwarded.to == "<fleet@example.com>"
    assert reply.forwarded.text == "Plate: AB-123\nOwner: Jane Roe"
    assert reply.confidence == ReplyConfidence.CERTAIN


@pytest.mark.parametrize(
    "marker",
    [
        "Begin forwarded message:",
        "-------- Weitergeleitete Nachricht --------",
        "-------- Message transféré --------",
        "---------- Mensaje reenviado ----------",
        "-------- Пересылаемое сообщение --------",
    ],
)
def test_a_bare_forward_has_no_visible_text_but_a_forwarded_message(marker: str) -> None:
    text = f"{marker}\nFrom: Jane <jane@customer.example>\nSubject: Plate\n\nPlate: AB-123\n"
    reply = split_reply(text)
    assert reply.visible == ""
    assert reply.forwarded is not None
    assert reply.forwarded.text == "Plate: AB-123"
    assert marker.strip("- :") in reply.quoted


def test_confidence_says_why() -> None:
    assert split_reply("Plate: AB-123").confidence == ReplyConfidence.CERTAIN
    assert split_reply("Plate: AB-123").reason == "nothing quoted"
    weak = split_reply("ok\n\nDesk <d@example.com> kirjoitti 4.3.2024 klo 17.02:\nold\n")
    assert weak.visible == "ok" and weak.confidence == ReplyConfidence.LIKELY
    # An attribution in a language the table does not hold: nothing cut, but flagged.
    unknown = split_reply("ok\n\n4.3.2024 17:02 Desk <d@example.com> skrifaði:\nold question\n")
    assert unknown.confidence == ReplyConfidence.UNSURE
    only_quote = split_reply("> old question\n> more")
    assert only_quote.visible == "" and only_quote.confidence == ReplyConfidence.UNSURE


def test_html_quote_cut_is_certain() -> None:
    text = "Plate: AB-123\n\nOn Mon, Desk wrote:\n> old"
    reply = split_reply(text, html_cut=(2, "Gmail gmail_quote"))
    assert reply.visible == "Plate: AB-123"
    assert reply.confidence == ReplyConfidence.CERTAIN
    assert "gmail_quote" in reply.reason


_TABLE_WORDS = {
    w.casefold()
    for lang in LANGUAGES
    for field in ("from_", "sent", "to", "subject", "on", "wrote", "sent_from")
    for phrase in getattr(lang, field)
    for w in phrase.replace("…", " ").split()
}
WORDS = st.sampled_from(
    [w for w in ("plate", "owner", "mileage", "Jane", "car", "van", "12", "2024-03-04", "17:02",
                 "A-1", "please", "confirm", "thanks", "Ürün", "車", "кузов", "(ok)", "x@y.org")
     if w.casefold() not in _TABLE_WORDS]
)  # fmt: skip
PUNCT = st.sampled_from(["", ".", ",", "!", "?", ";", " -", ":"])
LINE = st.builds(lambda ws, p: " ".join(ws) + p, st.lists(WORDS, min_size=1, max_size=9), PUNCT)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(LINE, st.just("")), min_size=1, max_size=12))
def test_plain_mail_with_nothing_to_remove_is_never_cut(lines: list[str]) -> None:
    text = "\n".join(lines).strip("\n")
    reply = split_reply(text)
    assert reply.quoted == "" and reply.signature == ""
    assert reply.visible.split() == text.split()


def test_repeated_attribution_lines_are_read_once_each() -> None:
    # Each line an attribution with nothing quoted after it: the bottom-post rescan happens
    # once (it recursed once per line: RecursionError, then quadratic copying).
    text = "2024 <a@example.com>:\nx\n" * 5000
    reply = split_reply(text)
    assert reply.visible == "x"
    assert reply.quoted.count("\n") > 9000


def test_hostile_header_lines_stay_linear() -> None:
    import time

    lines = ["napisał(a) " * 36 + ":", "\u202b" * 300 + ":", "x@y " * 99 + ":"]
    for line in lines:
        small, big = (f"{line}\n" * n for n in (200, 2000))
        start = time.perf_counter()
        split_reply(small)
        t_small = time.perf_counter() - start
        start = time.perf_counter()
        split_reply(big)
        t_big = time.perf_counter() - start
        assert t_big < 40 * max(t_small, 1e-3)  # 10x the lines: linear, with room for noise


def test_a_quoted_plain_text_forward_is_read_one_level_off() -> None:
    text = (
        "Hello world.\n\nBegin forwarded message:\n\n> From: Jane <jane@customer.example>\n"
        "> Subject: Plate\n>\n> Plate: AB-123\n"
    )
    reply = split_reply(text)
    assert reply.visible == "Hello world."
    assert reply.forwarded is not None
    assert (reply.forwarded.sender, reply.forwarded.subject) == (
        "Jane <jane@customer.example>",
        "Plate",
    )
    assert reply.forwarded.text == "Plate: AB-123"


_FIXTURE_LINES = [
    "On Mon, Mar 4, 2024 at 5:02 PM Desk <d@example.com> wrote:",
    "Am 04.03.2024 um 17:02 schrieb Desk <d@example.com>:",
    "From: Desk <d@example.com>",
    "Sent: Monday, March 4, 2024 5:02 PM",
    "To: Jane",
    "Subject: plates",
    "-----Original Message-----",
    "---------- Forwarded message ---------",
    "Begin forwarded message:",
    "________________________________",
    "Sent from my iPhone",
    "-- ",
    "> quoted line",
    ">> deeper",
    "2014-03-20 8:48 GMT+01:00 Desk <d@example.com>:",
    "Plate: AB-123",
    "ok",
    "",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(_FIXTURE_LINES), LINE), max_size=25))
def test_no_line_is_lost_or_invented(lines: list[str]) -> None:
    """Whatever the mix of headers, quotes and text, the three parts hold the input's lines."""
    text = "\n".join(lines)
    reply = split_reply(text)
    got = [x for part in (reply.visible, reply.signature, reply.quoted) for x in part.splitlines()]
    kept = sorted(x.rstrip() for x in got if x.strip())
    assert kept == sorted(x.rstrip() for x in lines if x.strip())


def test_a_bottom_post_above_a_forward_keeps_the_forward() -> None:
    text = (
        "On Mon, Mar 4, 2024 at 5:02 PM Desk <d@example.com> wrote:\n\nSee below.\n\n"
        "---------- Forwarded message ---------\nFrom: Jane <jane@customer.example>\n\n"
        "Plate: AB-1\n"
    )
    reply = split_reply(text)
    assert reply.visible == "See below."
    assert reply.forwarded is not None and reply.forwarded.text == "Plate: AB-1"
