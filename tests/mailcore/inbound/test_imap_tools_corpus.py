"""imap_tools's own test messages (tests/fixtures/imap_tools/): each extracts, and reads as the
corpus says (its tests/messages_data/<name>.py) where mailcore reads the same fields."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from mailcore.inbound.extract import extract
from mailcore.inbound.model import Extraction

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "imap_tools"
MESSAGES = sorted(CORPUS.glob("*.eml"))
# The orders text the corpus states for forwarded_message (its "\r\n" are the text's lines).
ORDER = (
    "Новый заказ №28922 http://group.company.ru/ru/order/28922/process/\nСоздал: \n"
    "Клиент Ковчег (Гусев Дмитрий)\n\nСегменты:\n\n"
    "- Москва - Тель-Авив, some-889, 15.03.2018, эконом: (15 взр.)\n\n"
    "- Тель-Авив - Москва, some-890, 22.03.2018, эконом: (15 взр.)"
)


def _extract(name: str) -> Extraction:
    return extract((CORPUS / name).read_bytes())


def test_the_corpus_is_there() -> None:
    assert len(MESSAGES) == 4
    assert (CORPUS / "LICENSE").read_text().count("Apache License") >= 1


@pytest.mark.parametrize("path", MESSAGES, ids=[p.stem for p in MESSAGES])
def test_every_message_extracts_in_bounded_time(path: Path) -> None:
    start = time.process_time()
    result = extract(path.read_bytes())
    assert time.process_time() - start < 2.0  # a generous bound: about a millisecond each
    assert result.headers.from_
    assert result.text


def test_an_attachment_named_in_its_content_type() -> None:
    result = _extract("att_name_in_content_type.eml")
    assert result.headers.subject == "Daily Data: D09.ZPH (Averaged data)"
    assert (result.headers.from_, result.headers.from_name) == ("status@sender.com", "Sender")
    assert result.headers.to == ["data@email.com"]
    assert result.text == (
        "Daily Data: D09.ZPH (Averaged data)\nEmail generated: 10/11/2020 00:04:03.765\n"
        "Email sent: 10/11/2020 00:49:03.125"
    )
    [attachment] = result.attachments
    assert (attachment.filename, attachment.content_type) == (
        "D09.ZPH.txt",
        "application/octet-stream",
    )
    assert attachment.data() == b"123"


def test_repeated_address_fields_are_all_read() -> None:
    result = _extract("double_fields.eml")
    headers = result.headers
    assert headers.subject == "double_fields"
    assert (headers.from_, headers.from_name) == ("kaukinvk@yandex.ru", "Каукин Владимир")
    assert headers.to == ["aa@aa.ru", "bb@aa.ru"]
    assert headers.cc == ["cc@aa.ru", "dd@aa.ru"]
    assert headers.reply_to == [
        "foma1@company.ru",
        "petr1@company.ru",
        "foma2@company.ru",
        "petr2@company.ru",
    ]
    assert headers.date is not None and headers.date.timetuple()[:5] == (2019, 5, 1, 12, 20)
    assert result.text == "double_fields" and result.text_from_html
    assert result.attachments == []


@pytest.mark.parametrize("name", ["forwarded_message.eml", "attachment_7bit.eml"])
def test_raw_utf8_addresses_and_encoded_subject(name: str) -> None:
    headers = _extract(name).headers
    assert headers.subject.strip() == "статус"
    assert headers.from_ == "i.kor@company.ru"
    assert headers.to == ["jessica.schmidt@uni.de", "я你Rabea.Bartölke@uni.de"]


def test_a_forwarded_message_is_read_as_the_text() -> None:
    assert _extract("forwarded_message.eml").text == ORDER


def test_an_attached_message_is_an_attachment() -> None:
    [attachment] = _extract("attachment_7bit.eml").attachments
    assert (attachment.filename, attachment.content_type) == (
        "Contract 25 04 2020.docx",
        "message/rfc822",
    )
