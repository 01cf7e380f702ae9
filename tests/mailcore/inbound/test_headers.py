"""The one reading of headers: extraction and the mailboxes' summaries agree on every header."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mailcore.inbound.extract import extract
from mailcore.inbound.headers import decode_words, header_block, header_fields, message_id


def test_summary_fields_read_a_header_block_as_extraction_does() -> None:
    raw = (
        b"From: =?utf-8?q?Caf=C3=A9?= <cafe@example.org>\r\nSubject: =?utf-8?b?UsOpc3Vtw6k=?=\r\n"
        b" continued\r\nMessage-ID: junk <m1@example.org> trailing\r\nSubject: second\r\n\r\nbody"
    )
    fields = header_fields(header_block(raw))
    ex = extract(raw)
    assert decode_words(fields["subject"]) == ex.headers.subject == "Résumé continued"
    assert message_id(raw) == ex.headers.message_id == "<m1@example.org>"
    assert "body" not in header_block(raw).decode()


def test_a_message_without_message_id_or_blank_line_has_none() -> None:
    assert message_id(b"From: a@example.org\r\nSubject: x") is None
    assert (
        header_block(b"From: a@example.org\n" * 100_000, limit=1000)
        == (b"From: a@example.org\n" * 100_000)[:1000]
    )


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=200))
def test_a_message_id_reads_the_same_in_a_summary_and_an_extraction(value: str) -> None:
    clean = " ".join(value.replace("\r", " ").replace("\n", " ").split())
    raw = f"From: a@example.org\r\nMessage-ID: {clean}\r\n\r\nhi\r\n".encode()
    assert message_id(raw) == extract(raw).headers.message_id
