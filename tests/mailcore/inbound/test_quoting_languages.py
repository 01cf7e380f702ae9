"""Every language of the reply-words table: an Outlook header block and a Gmail attribution
line, top-posted and bottom-posted, written as the clients write them (tests/fixtures/replies)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mailcore.inbound.quoting import ReplyConfidence, split_reply
from mailcore.inbound.reply_words import LANGUAGES

FIXTURES = json.loads(
    (Path(__file__).parents[2] / "fixtures" / "replies" / "languages.json").read_text("utf-8")
)
CASES = [(code, kind) for code in sorted(FIXTURES) for kind in ("outlook", "gmail")]
ANSWER = "Plate: AB-123\nOwner: Jane"


def test_every_language_of_the_table_has_fixtures() -> None:
    assert sorted(FIXTURES) == sorted(lang.code for lang in LANGUAGES)
    assert len(LANGUAGES) >= 43


@pytest.mark.parametrize(("code", "kind"), CASES)
def test_top_posted_reply(code: str, kind: str) -> None:
    header = FIXTURES[code][kind]
    reply = split_reply(f"{ANSWER}\n\n{header}\n\nPlease send the plate number.\nThanks\n")
    assert reply.visible == ANSWER
    assert reply.quoted.endswith("Please send the plate number.\nThanks")
    assert header.splitlines()[0].strip() in reply.quoted
    assert reply.confidence in (ReplyConfidence.CERTAIN, ReplyConfidence.LIKELY)


@pytest.mark.parametrize(("code", "kind"), CASES)
def test_bottom_posted_reply(code: str, kind: str) -> None:
    header = FIXTURES[code][kind]
    text = f"{header}\n> Please send the plate number.\n> Thanks\n\n{ANSWER}\n"
    reply = split_reply(text)
    assert reply.visible == ANSWER
    assert reply.quoted.endswith("> Thanks")
    assert reply.confidence == ReplyConfidence.CERTAIN


@pytest.mark.parametrize("code", sorted(FIXTURES))
def test_interleaved_reply_under_a_gmail_attribution(code: str) -> None:
    header = FIXTURES[code]["gmail"]
    text = f"{header}\n> Plate?\nAB-123\n> Owner?\nJane\n"
    reply = split_reply(text)
    assert reply.visible == "AB-123\nJane"
    assert "> Plate?" in reply.quoted and "> Owner?" in reply.quoted


@pytest.mark.parametrize("code", sorted(FIXTURES))
def test_a_header_in_the_middle_of_a_sentence_is_not_cut(code: str) -> None:
    header = FIXTURES[code]["gmail"]
    text = f"{ANSWER}\nAs the desk said ({header.rstrip(':：')}), we keep it.\n"
    assert split_reply(text).visible == text.strip()
