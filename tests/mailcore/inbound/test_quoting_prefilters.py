"""The quick tests quoting runs on every line never rule out a line a full pattern matches."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mailcore.inbound import reply_patterns as p
from mailcore.inbound.quoting import _history_start

LINE_PIECES = st.sampled_from(
    ["From", "Sent", "Date", "Get", "On", "Le", "W", "På", "Envoyé", "von", "ſ", "İ", "ı", "K",
     "k", "s", "i", "b", "9", "#", "(", "d", "o", "w", "f", "a", "e", "n", "r", "å", "ä",
     "-", "_", "—", "*", " ", "\t", ":", "x", "@", " wrote:", "Original Message", "От", "发件人",
     "：", "\u200f", "<a@b.c>", "2024", "17:02", "写道", "Von", "Am", "schrieb", "Sent from my",
     "から送信", "\u202c", ">"]
)  # fmt: skip
LINES = st.one_of(st.lists(LINE_PIECES, max_size=8).map("".join), st.text(max_size=30))


@settings(max_examples=400)
@given(LINES, st.lists(LINES, max_size=2))
def test_lines_skipped_by_the_history_prefilter_match_no_header(
    line: str, following: list[str]
) -> None:
    if p.may_start_history(line, any(map(p.ends_in_colon, following))):
        return
    assert not p.is_forward_marker(line)
    assert not p.is_separator(line)
    assert not p.RULE.match(line) or not line.strip()
    assert not p.is_header_label(line, "from") and not p.is_header_label(line, "date")
    assert p.attribution_kind(line) is None
    # And the whole test quoting runs there, wrapped lines included, finds nothing.
    assert _history_start([line, *following], 0) == (None, 0, 0)


@settings(max_examples=400)
@given(LINES)
def test_lines_skipped_by_the_signature_prefilter_are_no_signature(line: str) -> None:
    if not p.may_start_signature(line):
        assert not p.is_mobile_signature(line) or len(line) > 120
