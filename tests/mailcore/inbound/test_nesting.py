"""Mail nested deeper than the MIME walk (50 levels) or the stdlib parser (~1,000) still gives
its words, payload and attachments."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailcore.inbound.extract import extract
from mailcore.inbound.nesting import flat_parse, leaves


def nested(depth: int, leaf: str, *, attachment: bool = False) -> bytes:
    out = "From: a@b.example\r\nSubject: deep [VEH-1234]\r\nMIME-Version: 1.0\r\n"
    for i in range(depth):
        out += f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n'
    out += f"Content-Type: text/plain; charset=utf-8\r\n\r\n{leaf}\r\n-- \r\nGrace Hopper\r\n"
    if attachment:
        out += (
            f"--b{depth - 1}\r\nContent-Type: application/pdf\r\n"
            'Content-Disposition: attachment; filename="papers.pdf"\r\n'
            "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n"
        )
    for i in reversed(range(depth)):
        out += f"\r\n--b{i}--\r\n"
    return out.encode()


@pytest.mark.parametrize("depth", [3, 49, 51, 60, 400, 1_000, 3_000])
def test_the_payload_and_attachment_at_the_bottom_survive(depth: int) -> None:
    ex = extract(nested(depth, "plate: AB-123-CD\r\nowner: Ada", attachment=True))
    assert ex.payload == {"plate": "AB-123-CD", "owner": "Ada"}
    assert ex.identifier == "VEH-1234"
    assert [a.filename for a in ex.attachments] == ["papers.pdf"]
    assert "Grace" not in ex.text  # the signature is still cut off
    if depth > 50:
        assert any("read as one level" in d for d in ex.defects)
    else:
        assert not any("nesting" in d for d in ex.defects)


def test_a_mail_the_parser_cannot_nest_is_read_flat_in_bounded_time() -> None:
    raw = nested(5_000, "plate: AB-123-CD")
    started = time.process_time()
    ex = extract(raw)
    assert time.process_time() - started < 10  # a generous guard: measured well under 1 s
    assert ex.payload == {"plate": "AB-123-CD"}
    assert any("too deep for the parser" in d for d in ex.defects)


def test_flat_parse_keeps_only_the_parts_that_hold_content() -> None:
    msg = flat_parse(nested(4, "hello", attachment=True))
    assert [p.get_content_type() for p in msg.get_payload()] == ["text/plain", "application/pdf"]
    assert msg["Subject"] == "deep [VEH-1234]"


def test_flat_parse_splits_only_on_declared_boundaries() -> None:
    msg = flat_parse(nested(2, "a line\r\n--not-a-boundary\r\nstill the text"))
    [text] = msg.get_payload()
    assert "still the text" in text.get_payload()


def test_leaves_walks_without_recursion() -> None:
    msg = flat_parse(nested(1, "x"))
    assert [p.get_content_type() for p in leaves(msg)] == ["text/plain"]


@settings(max_examples=15, deadline=None)
@given(
    depth=st.integers(min_value=1, max_value=1_200),
    words=st.text(alphabet="abcdefghij klmnop", min_size=1, max_size=60).filter(str.strip),
)
def test_any_depth_keeps_the_text(depth: int, words: str) -> None:
    ex = extract(nested(depth, words))
    assert " ".join(words.split()) in " ".join(ex.text.split())
